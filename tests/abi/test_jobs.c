/* ABI.md section 7, Jobs (v2): snow_job_async, snow_job_await,
 * snow_job_await_timeout, snow_job_map.
 *
 * Layouts read here (snowrt.h): SnowResult {u8 tag @0 (0 Ok, 1 Err);
 * value @8}, an Err's value a SnowString* [u64 len][bytes], SnowList
 * [u64 len][u64 cap][u64 elem x len]. */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static void check_ok(const char* file, int line, const void* res, int64_t want) {
  if (!res) th_fail(file, line, "await returned NULL");
  const uint8_t* r = res;
  if (r[0] != 0) {
    const uint8_t* s = (const uint8_t*)(uintptr_t)th_get_u64(r + 8);
    th_fail(file, line, "expected Ok(%lld), got Err(\"%.*s\")", (long long)want, (int)th_get_u64(s), s + 8);
  }
  if ((int64_t)th_get_u64(r + 8) != want)
    th_fail(file, line, "expected Ok(%lld), got Ok(%lld)", (long long)want, (long long)th_get_u64(r + 8));
}
#define CHECK_OK(res, want) check_ok(__FILE__, __LINE__, (res), (want))

static void check_err(const char* file, int line, const void* res, const char* want) {
  if (!res) th_fail(file, line, "await returned NULL");
  const uint8_t* r = res;
  if (r[0] != 1) th_fail(file, line, "expected Err(\"%s\"), got Ok(%lld)", want, (long long)th_get_u64(r + 8));
  const uint8_t* s = (const uint8_t*)(uintptr_t)th_get_u64(r + 8);
  uint64_t n = th_get_u64(s);
  if (n != strlen(want) || memcmp(s + 8, want, n) != 0)
    th_fail(file, line, "expected Err(\"%s\"), got Err(\"%.*s\")", want, (int)n, s + 8);
}
#define CHECK_ERR(res, want) check_err(__FILE__, __LINE__, (res), (want))

/* The mailbox holds nothing (a job leaves no message behind). */
static void expect_empty_mailbox(void) {
  const snow_msg* m = snow_actor_receive(0);
  if (m) {
    char d[200];
    th_describe_msg(d, sizeof d, m);
    FAILF("unexpected message in the mailbox: %s", d);
  }
}

/* env: [i64 value][u64 pid to report to (0: none)] in the caller's heap. */
static void* make_env(int64_t value, snow_pid_t report_to) {
  uint8_t* env = snow_gc_alloc_actor(16, 8);
  CHECK(env != NULL);
  th_put_u64(env, (uint64_t)value);
  th_put_u64(env + 8, report_to);
  return env;
}

static int64_t env_value(void* env) { return (int64_t)th_get_u64(env); }

static int64_t times_two(void* env) { return env_value(env) * 2; }

static int64_t panics(void* env) {
  (void)env;
  snow_panic("job failed", 10, "jobs.c", 6, 12);
}

/* Tells env's pid it runs ([T_GO][self]), then spins in reduction checks. */
static int64_t spins(void* env) {
  snow_pid_t to = th_get_u64((uint8_t*)env + 8);
  if (to) th_send2(to, T_GO, snow_actor_self());
  for (;;) snow_reduction_check();
  return 0;
}

static int64_t exits_with_env_reason(void* env) {
  uint8_t tag = (uint8_t)env_value(env);
  uint8_t r[32];
  size_t rl = tag == SNOW_REASON_CUSTOM ? th_reason_str(r, tag, "job-custom") : th_reason_for_tag(r, tag);
  snow_actor_exit_self(r, rl);
}

/* ------------------------------------------------------------------ async */

TEST_CASE(await_returns_ok_with_the_jobs_result) {
  th_start();
  snow_pid_t j = snow_job_async(times_two, make_env(21, 0));
  CHECK(j != 0);
  CHECK(j != th_main);
  CHECK_OK(snow_job_await(j), 42);
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(a_crashing_job_gives_err_with_its_panic_message_and_the_caller_goes_on) {
  th_start();
  snow_pid_t j = snow_job_async(panics, NULL);
  CHECK(j != 0);
  CHECK_ERR(snow_job_await(j), "jobs.c:12: job failed");
  expect_empty_mailbox();
  th_roundtrip_ok(); /* the caller is alive and well */
  th_end();
}

TEST_CASE(a_job_crash_reaches_neither_the_mailbox_nor_a_trapping_caller) {
  th_start();
  snow_actor_set_trap_exit(true);
  snow_pid_t j = snow_job_async(panics, NULL);
  th_sync_dead(j); /* the job is gone; its report waits for await */
  expect_empty_mailbox();
  CHECK_ERR(snow_job_await(j), "jobs.c:12: job failed");
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(a_finished_jobs_result_is_not_a_message) {
  th_start();
  snow_pid_t j = snow_job_async(times_two, make_env(5, 0));
  th_sync_dead(j);
  expect_empty_mailbox();
  CHECK_OK(snow_job_await(j), 10);
  th_end();
}

TEST_CASE(await_gives_err_with_the_text_of_each_exit_reason) {
  th_start();
  struct {
    uint8_t tag;
    const char* text;
  } cases[] = {{SNOW_REASON_NORMAL, "normal"},
               {SNOW_REASON_SHUTDOWN, "shutdown"},
               {SNOW_REASON_CUSTOM, "job-custom"},
               {SNOW_REASON_NOCONNECTION, "noconnection"},
               {SNOW_REASON_NOPROC, "noproc"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snow_pid_t j = snow_job_async(exits_with_env_reason, make_env(cases[i].tag, 0));
    CHECK_ERR(snow_job_await(j), cases[i].text);
  }
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(a_killed_job_gives_err_killed) {
  th_start();
  snow_pid_t j = snow_job_async(spins, make_env(0, th_main));
  th_wait_user(T_GO, j);
  CHECK_EQ(snow_actor_exit(j, SNOW_REASON_KILLED), 0);
  CHECK_ERR(snow_job_await(j), "killed");
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(await_waits_for_that_job_only_and_other_messages_keep_their_order) {
  th_start();
  snow_pid_t slow = snow_job_async(spins, make_env(0, th_main));
  snow_pid_t fast = snow_job_async(times_two, make_env(4, 0));
  th_wait_user(T_GO, slow);
  for (uint64_t i = 0; i < 3; i++) CHECK_EQ(th_send2(th_main, T_SEQ, i), 0);
  CHECK_OK(snow_job_await(fast), 8);
  for (uint64_t i = 3; i < 6; i++) CHECK_EQ(th_send2(th_main, T_SEQ, i), 0);
  CHECK_EQ(snow_actor_exit(slow, SNOW_REASON_KILLED), 0);
  CHECK_ERR(snow_job_await(slow), "killed");
  for (uint64_t i = 0; i < 6; i++) {
    const snow_msg* m = snow_actor_receive(0);
    CHECK_MSG(m != NULL, "message %llu is missing", (unsigned long long)i);
    CHECK_EQ_U(th_word(m, 0), T_SEQ);
    CHECK_EQ(th_word(m, 1), i);
  }
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(await_timeout_gives_err_timeout_on_time_and_ends_the_job) {
  th_start();
  snow_pid_t j = snow_job_async(spins, make_env(0, th_main));
  th_wait_user(T_GO, j);
  snow_ref_t ref = snow_process_monitor(j);
  int64_t t0 = th_now_ms();
  CHECK_ERR(snow_job_await_timeout(j, 100), "timeout");
  int64_t dt = th_now_ms() - t0;
  CHECK_MSG(dt >= 99 && dt <= 100 + th_slack_ms(), "await_timeout(100) took %lld ms", (long long)dt);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, j, killed, 1);
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(await_timeout_of_a_job_that_finishes_in_time_gives_ok) {
  th_start();
  snow_pid_t j = snow_job_async(times_two, make_env(50, 0));
  CHECK_OK(snow_job_await_timeout(j, th_wait_ms()), 100);
  th_end();
}

TEST_CASE(awaiting_twice_an_unknown_pid_or_another_processs_job_gives_err_noproc) {
  th_start();
  snow_pid_t j = snow_job_async(times_two, make_env(1, 0));
  CHECK_OK(snow_job_await(j), 2);
  CHECK_ERR(snow_job_await(j), "noproc");
  CHECK_ERR(snow_job_await(0x00000000DEADBEEFull), "noproc");
  snow_pid_t p = th_spawn_puppet(0);
  CHECK_ERR(snow_job_await(p), "noproc"); /* a process, not a job of mine */
  th_end();
}

/* args [parent]: starts a spinning job (which tells the parent T_GO), sends
 * [T_DONE][self][job], and returns on C_STOP from the parent. */
static void starts_a_job_and_exits(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  snow_pid_t j = snow_job_async(spins, make_env(0, parent));
  th_send3(parent, T_DONE, snow_actor_self(), j);
  th_wait_user(C_STOP, TH_ANY_PID);
}

TEST_CASE(a_job_whose_caller_exits_is_ended) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t c = th_spawn_words(starts_a_job_and_exits, w, 1);
  snow_pid_t j = th_word(th_wait_user(T_DONE, c), 2);
  CHECK(j != 0);
  th_wait_user(T_GO, j);
  snow_ref_t ref = snow_process_monitor(j);
  CHECK_EQ(th_send1(c, C_STOP), 0);
  uint8_t killed[1] = {SNOW_REASON_KILLED};
  th_expect_down(ref, j, killed, 1);
  th_end();
}

/* args [parent]: awaits a job of the parent, reports the result tag. */
static void awaits_someone_elses_job(const uint8_t* args) {
  const uint8_t* r = snow_job_await(th_arg(args, 1));
  th_send3(th_arg(args, 0), T_DONE, snow_actor_self(), r ? r[0] : 99);
}

TEST_CASE(another_process_cannot_take_my_jobs_result) {
  th_start();
  snow_pid_t j = snow_job_async(times_two, make_env(8, 0));
  uint64_t w[2] = {th_main, j};
  snow_pid_t other = th_spawn_words(awaits_someone_elses_job, w, 2);
  CHECK_EQ(th_word(th_wait_user(T_DONE, other), 2), 1); /* Err */
  CHECK_OK(snow_job_await(j), 16);
  th_end();
}

static void* async_from_thread(void* arg) {
  *(snow_pid_t*)arg = snow_job_async(times_two, NULL);
  return NULL;
}

TEST_CASE(job_async_needs_a_started_runtime_and_a_calling_process) {
  CHECK_EQ_U(snow_job_async(times_two, NULL), 0);
  th_start();
  CHECK_EQ_U(snow_job_async(NULL, NULL), 0);
  snow_pid_t from_thread = 1;
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, async_from_thread, &from_thread), 0);
  pthread_join(t, NULL);
  CHECK_EQ_U(from_thread, 0);
  th_end();
}

/* -------------------------------------------------------------------- map */

/* [u64 len][u64 cap][elements] in the caller's heap. */
static const void* make_list(const int64_t* v, uint64_t n) {
  uint8_t* l = snow_gc_alloc_actor(16 + 8 * (n ? n : 1), 8);
  CHECK(l != NULL);
  th_put_u64(l, n);
  th_put_u64(l + 8, n);
  for (uint64_t i = 0; i < n; i++) th_put_u64(l + 16 + 8 * i, (uint64_t)v[i]);
  return l;
}

/* elem * 10 + env's value, after sleeping (20 - elem) ms so later elements
 * finish first. Element 13 panics. */
static int64_t scaled(void* env, int64_t elem) {
  if (elem == 13) snow_panic("thirteen", 8, "jobs.c", 6, 13);
  snow_timer_sleep(20 - elem);
  return elem * 10 + env_value(env);
}

TEST_CASE(map_returns_each_elements_result_in_input_order) {
  th_start();
  int64_t v[12];
  for (int i = 0; i < 12; i++) v[i] = i;
  const uint8_t* out = snow_job_map(make_list(v, 12), scaled, make_env(3, 0));
  CHECK(out != NULL);
  CHECK_EQ(th_get_u64(out), 12);
  CHECK_EQ(th_get_u64(out + 8), 12);
  for (int i = 0; i < 12; i++) CHECK_EQ((int64_t)th_get_u64(out + 16 + 8 * i), i * 10 + 3);
  expect_empty_mailbox();
  th_end();
}

TEST_CASE(map_of_an_empty_list_is_an_empty_list) {
  th_start();
  const uint8_t* out = snow_job_map(make_list(NULL, 0), scaled, make_env(0, 0));
  CHECK(out != NULL);
  CHECK_EQ(th_get_u64(out), 0);
  th_end();
}

TEST_CASE(map_gives_0_for_a_failed_element_and_prints_a_crash_report) {
  /* stderr goes to a file this case reads back. */
  char path[] = "/tmp/snow_abi_jobs_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  unlink(path);
  int saved = dup(2);
  CHECK(dup2(fd, 2) == 2);
  th_start();
  int64_t v[3] = {12, 13, 14};
  const uint8_t* out = snow_job_map(make_list(v, 3), scaled, make_env(1, 0));
  CHECK(out != NULL);
  CHECK_EQ(th_get_u64(out), 3);
  CHECK_EQ((int64_t)th_get_u64(out + 16), 121);
  CHECK_EQ((int64_t)th_get_u64(out + 24), 0);
  CHECK_EQ((int64_t)th_get_u64(out + 32), 141);
  expect_empty_mailbox();
  th_end();
  dup2(saved, 2);
  char buf[8192];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK_MSG(strstr(buf, "Job.map element 1 ") && strstr(buf, "jobs.c:13: thirteen"),
            "no crash report for element 1 on stderr: %.300s", buf);
  close(fd);
}
