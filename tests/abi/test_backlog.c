/* Bounds on what a process that is not running can be made to hold, and on
 * how long a runnable process waits behind a worker that never gives it
 * back (issue 9, finding 6; docs/design/signal-queue.md, "Bounded backlog",
 * and docs/design/scheduler.md, "Watching busy workers").
 *
 * The drivers of the cases before the thread's are spawned processes
 * that never yield: C loops of runtime calls that are no reduction points
 * (no reduction checks and no receives). Such a driver
 * keeps its worker, and a process it makes runnable is queued on that
 * worker, so only another worker can run it: these cases start at least
 * one scheduler more than there are drivers. Each driver first spins in
 * runtime calls for a while, so that the other workers have run out of
 * work and parked before it starts (a worker that had not parked yet would find the target
 * on its own, and the case would not exercise the wake-up). Targets and
 * drivers are spawned one after another, so they are bound to different
 * stack slots (a target sharing its driver's slot could not run anywhere
 * while the driver holds it; docs/design/scheduler.md, "Known gaps").
 *
 * Memory is compared in the driver right before and right after its loop
 * (th_memory_bytes). A target that never runs holds 80 to 130 MB after a
 * million rounds; one that runs holds what piled up while its worker
 * thread waited for a CPU, a few MB on a quiet machine and up to about
 * 16 MB measured with the machine's two CPUs four times oversubscribed.
 * The bound is 32 MB, divided by the harness scale in slower builds,
 * which also do proportionally fewer rounds. */
#include <stdlib.h>

#include "harness.h"

static uint32_t at_least_two_schedulers(void) {
  uint32_t n = th_schedulers();
  return n >= 2 ? n : 2;
}

static uint64_t rounds(void) { return (uint64_t)(1000000 / th_scale()); }
static uint64_t memory_bound(void) { return (uint64_t)(32.0 * 1024 * 1024 / th_scale()); }

/* Calls the runtime for `ms`, never yielding: snow_actor_self is no
 * reduction point (a receive is one, even with timeout 0). */
static void spin_in_runtime_calls(int64_t ms) {
  int64_t end = th_now_ms() + ms;
  while (th_now_ms() < end) CHECK(snow_actor_self() != 0);
}

/* Set by main to end the spinning of a driver that never yields (it cannot
 * receive: that would give its worker back). */
static atomic_int drivers_may_stop;

static void spin_until_main_says_stop(void) {
  int64_t give_up = th_now_ms() + 4 * th_wait_ms();
  while (!atomic_load(&drivers_may_stop))
    if (th_now_ms() > give_up) FAILF("the driver was never told to stop");
}

static int64_t settle_ms(void) { return (int64_t)(20 * th_scale()); }

enum { DRIVE_LINK_UNLINK = 1, DRIVE_EXIT_NORMAL = 2 };

/* args [parent][target][what][rounds]: spins, then links and unlinks the
 * target (or sends it exit `normal`) `rounds` times, then reports
 * [T_DONE][self][memory before][memory after] to parent. */
static void never_yielding_driver(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0), target = th_arg(args, 1);
  uint64_t what = th_arg(args, 2), n = th_arg(args, 3);
  spin_in_runtime_calls(settle_ms());
  uint64_t before = th_memory_bytes();
  for (uint64_t i = 0; i < n; i++) {
    if (what == DRIVE_LINK_UNLINK) {
      CHECK_EQ(snow_actor_link(target), 0);
      CHECK_EQ(snow_actor_unlink(target), 0);
    } else {
      CHECK_EQ(snow_actor_exit(target, SNOW_REASON_NORMAL), 0);
    }
  }
  uint64_t after = th_memory_bytes();
  CHECK_EQ(th_send4(parent, T_DONE, snow_actor_self(), before, after), 0);
}

static void check_memory_growth(uint64_t before, uint64_t after, uint64_t n) {
  uint64_t grown = after > before ? after - before : 0;
  CHECK_MSG(grown < memory_bound(), "memory grew by %llu bytes over %llu rounds (bound %llu)",
            (unsigned long long)grown, (unsigned long long)n, (unsigned long long)memory_bound());
}

/* The target lived through it all and is unlinked: it answers, and a kill
 * reports `killed`, not an exit caused by a link. */
static void kill_target_still_alive(snow_pid_t target, snow_ref_t ref) {
  th_puppet_ping(target);
  CHECK_EQ(snow_actor_exit(target, SNOW_REASON_KILLED), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, target, killed, 1);
}

static void drive_parked_target(uint32_t schedulers, uint64_t what) {
  th_start_n(schedulers);
  snow_ref_t ref;
  snow_pid_t target = th_spawn_puppet_mon(0, &ref); /* parked in receive, not trapping exits */
  uint64_t n = rounds();
  uint64_t w[4] = {th_main, target, what, n};
  snow_pid_t driver = th_spawn_words(never_yielding_driver, w, 4);
  CHECK(driver != 0);
  const snow_msg* m = th__wait(__FILE__, __LINE__, th_m_user(T_DONE, driver), 12 * th_wait_ms());
  check_memory_growth(th_word(m, 2), th_word(m, 3), n);
  kill_target_still_alive(target, ref);
  th_end();
}

TEST_CASE_TIMEOUT(parked_process_linked_and_unlinked_a_million_times_holds_bounded_memory, 120) {
  drive_parked_target(at_least_two_schedulers(), DRIVE_LINK_UNLINK);
}

TEST_CASE_TIMEOUT(parked_process_sent_a_million_normal_exits_holds_bounded_memory, 120) {
  drive_parked_target(at_least_two_schedulers(), DRIVE_EXIT_NORMAL);
}

/* args [target]: spins, pings the target (whose PONG goes to the main
 * process), then keeps spinning until main sets drivers_may_stop. */
static void pinging_driver(const uint8_t* args) {
  snow_pid_t target = th_arg(args, 0);
  spin_in_runtime_calls(settle_ms());
  CHECK_EQ(th_send2(target, C_PING, 1), 0);
  spin_until_main_says_stop();
}

TEST_CASE_TIMEOUT(process_made_runnable_by_a_driver_that_never_yields_runs_on_an_idle_worker, 60) {
  th_start_n(at_least_two_schedulers());
  atomic_store(&drivers_may_stop, 0);
  snow_pid_t target = th_spawn_puppet(0);
  uint64_t w[1] = {target};
  snow_pid_t driver = th_spawn_words(pinging_driver, w, 1);
  CHECK(driver != 0);
  /* The PONG can only come from another worker: the driver never gives
   * its own back before main tells it to stop. */
  th_wait_user2(T_PONG, target, 1);
  atomic_store(&drivers_may_stop, 1);
  th_end();
}

/* Two drivers keep two workers: the third, idle one runs both targets (it
 * takes one from a stuck worker, and the other when it is free again). */
TEST_CASE_TIMEOUT(processes_made_runnable_by_two_drivers_that_never_yield_both_run_on_an_idle_worker, 60) {
  uint32_t n = th_schedulers() >= 3 ? th_schedulers() : 3;
  th_start_n(n);
  atomic_store(&drivers_may_stop, 0);
  snow_pid_t targets[2], drivers[2];
  for (int i = 0; i < 2; i++) targets[i] = th_spawn_puppet(0);
  for (int i = 0; i < 2; i++) {
    uint64_t w[1] = {targets[i]};
    drivers[i] = th_spawn_words(pinging_driver, w, 1);
    CHECK(drivers[i] != 0);
  }
  for (int i = 0; i < 2; i++) th_wait_user2(T_PONG, targets[i], 1);
  atomic_store(&drivers_may_stop, 1);
  th_end();
}

/* The main thread links and unlinks a parked process, on one scheduler
 * that is free to run it. Links and unlinks are lazy (they need not wake a
 * sleeping target one by one), and this checks that they still wake it
 * past a small backlog: if they never did, the target would hold every
 * one of them. */
TEST_CASE_TIMEOUT(parked_process_linked_and_unlinked_by_a_thread_holds_bounded_memory, 120) {
  th_start_n(1);
  snow_ref_t ref;
  snow_pid_t target = th_spawn_puppet_mon(0, &ref);
  uint64_t n = rounds();
  uint64_t before = th_memory_bytes();
  for (uint64_t i = 0; i < n; i++) {
    CHECK_EQ(snow_actor_link(target), 0);
    CHECK_EQ(snow_actor_unlink(target), 0);
  }
  check_memory_growth(before, th_memory_bytes(), n);
  kill_target_still_alive(target, ref);
  th_end();
}

/* A receive is a reduction point even when it does not wait
 * (docs/design/scheduler.md, "Reductions and preemption"): a process that
 * polls its mailbox with timeout 0 in a loop yields when its budget runs
 * out, like one that reaches snow_reduction_check. */

/* Polls the mailbox until main sends C_STOP. */
static void poll_until_told_to_stop(void) {
  int64_t give_up = th_now_ms() + 4 * th_wait_ms();
  while (!th__poll(th_m_user(C_STOP, TH_ANY_PID)))
    if (th_now_ms() > give_up) FAILF("the poller was never told to stop");
}

/* args [target]: pings the target (whose PONG goes to the main process),
 * then polls until main sends C_STOP. */
static void pinging_poller(const uint8_t* args) {
  CHECK_EQ(th_send2(th_arg(args, 0), C_PING, 1), 0);
  poll_until_told_to_stop();
}

TEST_CASE_TIMEOUT(process_polling_its_mailbox_yields_to_the_process_it_made_runnable, 60) {
  /* One worker: the target is queued behind the poller, and only the
   * poller's yield lets it run. */
  th_start_n(1);
  snow_pid_t target = th_spawn_puppet(0);
  uint64_t w[1] = {target};
  snow_pid_t poller = th_spawn_words(pinging_poller, w, 1);
  CHECK(poller != 0);
  th_wait_user2(T_PONG, target, 1);
  CHECK_EQ(th_send1(poller, C_STOP), 0);
  th_end();
}

/* Stack slots per worker, as the runtime reads them (default 8). */
static uint32_t slots_per_worker(void) {
  const char* v = getenv("SNOW_STACK_SLOTS");
  uint32_t n = v && *v ? (uint32_t)strtoul(v, NULL, 10) : 0;
  return n ? n : 8;
}

/* args [main]: tells main it ran. */
static void report_ran(const uint8_t* args) { CHECK_EQ(th_send2(th_arg(args, 0), T_DONE, snow_actor_self()), 0); }

/* args [main][children]: spins, spawns `children` report_ran children,
 * then polls until main sends C_STOP. */
static void spawning_poller(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  spin_in_runtime_calls(settle_ms());
  uint8_t child_args[8];
  th_put_u64(child_args, main_pid);
  for (uint64_t i = 0; i < th_arg(args, 1); i++)
    CHECK(snow_actor_spawn(report_ran, child_args, 8, SNOW_PRIO_NORMAL) != 0);
  poll_until_told_to_stop();
}

/* Slots are bound round robin at spawn, so of as many children as there
 * are slots the last shares its spawner's. The idle worker takes it from
 * the spawner's worker, but it can run only once the spawner has given
 * the slot back, which a polling spawner does at its budget. (A spawner
 * that never reaches a reduction point keeps that child from running:
 * scheduler.md, "Known gaps".) */
TEST_CASE_TIMEOUT(every_child_of_a_spawner_polling_its_mailbox_runs_even_the_one_sharing_its_stack_slot, 60) {
  uint32_t workers = at_least_two_schedulers();
  th_start_n(workers);
  uint64_t children = (uint64_t)workers * slots_per_worker();
  uint64_t w[2] = {th_main, children};
  snow_pid_t spawner = th_spawn_words(spawning_poller, w, 2);
  CHECK(spawner != 0);
  for (uint64_t i = 0; i < children; i++) (void)th_wait_user(T_DONE, TH_ANY_PID);
  CHECK_EQ(th_send1(spawner, C_STOP), 0);
  th_end();
}
