/* ABI section 2: who handles SIGINT and SIGTERM. By default
 * snow_rt_init_actor installs handlers that halt the runtime (130 / 143);
 * snow_rt_set_signal_handling(false) or SNOW_SIGNALS=0 leaves the program's
 * own handlers in place. Each case runs in its own child (harness.h), so
 * the handlers and the environment it sets do not leak into other cases. */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_int program_handler_calls;

static void program_handler(int sig) {
  (void)sig;
  atomic_fetch_add(&program_handler_calls, 1);
}

/* Installs program_handler for `sig`, as a host program would before
 * starting the runtime. */
static void install_program_handler(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = program_handler;
  sigemptyset(&sa.sa_mask);
  CHECK_EQ(sigaction(sig, &sa, NULL), 0);
}

static bool program_handler_installed(int sig) {
  struct sigaction cur;
  CHECK_EQ(sigaction(sig, NULL, &cur), 0);
  return cur.sa_handler == program_handler;
}

/* Waits (deadline th_wait_ms()) until program_handler has run `n` times;
 * the signal may be handled on any thread of the process. */
static void wait_program_handler_calls(int n) {
  int64_t deadline = th_now_ms() + th_wait_ms();
  while (atomic_load(&program_handler_calls) < n) {
    if (th_now_ms() > deadline)
      FAILF("program handler ran %d times, expected %d", atomic_load(&program_handler_calls), n);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

/* Keeps a receive timeout pending forever, so that the runtime does not end
 * by itself: only a halt (the runtime's signal handler) ends it. */
static void ticker(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  th_send2(parent, T_READY, snow_actor_self());
  for (;;) (void)snow_actor_receive(20);
}

static void start_with_ticker(void) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(ticker, w, 1);
  th_wait_user(T_READY, p);
}

/* The opt-out: the signal reaches the program's handler and the runtime
 * goes on as if nothing happened. */
static void expect_signal_left_to_the_program(int sig) {
  CHECK(program_handler_installed(sig));
  CHECK_EQ(kill(getpid(), sig), 0);
  wait_program_handler_calls(1);
  th_roundtrip_ok();
  th_end(); /* run_scheduler returns 0, not 130 / 143 */
  CHECK(program_handler_installed(sig));
}

TEST_CASE(opting_out_keeps_the_programs_sigint_handler) {
  install_program_handler(SIGINT);
  CHECK_EQ(snow_rt_set_signal_handling(false), 0);
  start_with_ticker();
  expect_signal_left_to_the_program(SIGINT);
}

TEST_CASE(opting_out_keeps_the_programs_sigterm_handler) {
  install_program_handler(SIGTERM);
  CHECK_EQ(snow_rt_set_signal_handling(false), 0);
  start_with_ticker();
  expect_signal_left_to_the_program(SIGTERM);
}

TEST_CASE(snow_signals_0_in_the_environment_opts_out) {
  install_program_handler(SIGINT);
  CHECK_EQ(setenv("SNOW_SIGNALS", "0", 1), 0);
  start_with_ticker();
  expect_signal_left_to_the_program(SIGINT);
}

TEST_CASE(by_default_sigint_halts_with_130_and_the_programs_handler_comes_back) {
  install_program_handler(SIGINT);
  start_with_ticker();
  CHECK(!program_handler_installed(SIGINT));
  CHECK_EQ(kill(getpid(), SIGINT), 0);
  CHECK_EQ(th_run_scheduler(), 130);
  CHECK_EQ(atomic_load(&program_handler_calls), 0);
  CHECK(program_handler_installed(SIGINT));
}

TEST_CASE(set_signal_handling_true_overrides_snow_signals_0) {
  install_program_handler(SIGTERM);
  CHECK_EQ(setenv("SNOW_SIGNALS", "0", 1), 0);
  CHECK_EQ(snow_rt_set_signal_handling(true), 0);
  start_with_ticker();
  CHECK_EQ(kill(getpid(), SIGTERM), 0);
  CHECK_EQ(th_run_scheduler(), 143);
  CHECK_EQ(atomic_load(&program_handler_calls), 0);
}

TEST_CASE(set_signal_handling_while_started_is_ealready_and_changes_nothing) {
  install_program_handler(SIGINT);
  start_with_ticker();
  CHECK_EQ(snow_rt_set_signal_handling(false), SNOW_EALREADY);
  CHECK_EQ(kill(getpid(), SIGINT), 0);
  CHECK_EQ(th_run_scheduler(), 130);
  CHECK_EQ(atomic_load(&program_handler_calls), 0);
}

TEST_CASE(opting_out_lasts_across_a_restart) {
  install_program_handler(SIGINT);
  CHECK_EQ(snow_rt_set_signal_handling(false), 0);
  start_with_ticker();
  th_end();
  start_with_ticker();
  expect_signal_left_to_the_program(SIGINT);
}
