/* Introspection: snow_rt_processes lists the live processes, and
 * snow_process_info reports a process's registered name, status, mailbox
 * length, links, monitors, heap size, reductions and entry function, as
 * an operator (or the rex server) reads them from another thread. */
#define _GNU_SOURCE 1
#include <stdlib.h>

#include "harness.h"

enum { TAG_GO = 0x6f67, TAG_READY = 0x7279, TAG_OTHER = 0x726568746f };

static int is_go(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_USER && m->tag == TAG_GO;
}

/* Waits for TAG_GO only: every other message stays in its mailbox. */
static void wait_for_go(void) {
  const snow_msg* m = snow_actor_receive_match(is_go, NULL, -1);
  (void)m;
}

static void idle(const uint8_t* args) {
  (void)args;
  wait_for_go();
}

/* args: [main pid]. Registers a name, links to and monitors main, reports
 * ready, then waits for TAG_GO. */
static void related(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  CHECK_EQ(snow_actor_register("introspect_me", 13), 0);
  CHECK_EQ(snow_actor_link(main_pid), 0);
  CHECK(snow_process_monitor(main_pid) != 0);
  th_send2(main_pid, TAG_READY, snow_actor_self());
  wait_for_go();
}

/* args: [main pid]. Allocates 64 KiB on its heap and runs 10,000 reduction
 * checks, then reports ready and waits. */
static void busy(const uint8_t* args) {
  snow_pid_t main_pid = th_arg(args, 0);
  volatile uint8_t* block = snow_gc_alloc_actor(64 * 1024, 16);
  CHECK(block != NULL);
  block[0] = 1;
  for (int i = 0; i < 10000; i++) snow_reduction_check();
  th_send2(main_pid, TAG_READY, snow_actor_self());
  wait_for_go();
  block[1] = 2; /* kept reachable until here */
}

static bool listed(const snow_pid_t* pids, int64_t n, snow_pid_t pid) {
  for (int64_t i = 0; i < n; i++)
    if (pids[i] == pid) return true;
  return false;
}

/* Polls snow_process_info until pred holds (the target publishes its
 * figures when it next parks), with the usual deadline. */
static void info_until(snow_pid_t pid, snow_proc_info* out, bool (*pred)(const snow_proc_info*)) {
  int64_t deadline = th_now_ms() + th_wait_ms();
  for (;;) {
    CHECK_EQ(snow_process_info(pid, out), 0);
    if (pred(out)) return;
    if (th_now_ms() > deadline) FAILF("process info never reached the expected figures");
    snow_timer_sleep(5);
  }
}

/* ------------------------------------------------------------- the list */

TEST_CASE(processes_lists_every_live_process_and_not_the_dead) {
  th_start();
  snow_pid_t kids[3];
  for (int i = 0; i < 3; i++) kids[i] = snow_actor_spawn(idle, NULL, 0, SNOW_PRIO_NORMAL);
  snow_pid_t pids[64];
  int64_t n = snow_rt_processes(pids, 64);
  CHECK(n >= 4 && n <= 64);
  CHECK(listed(pids, n, th_main));
  for (int i = 0; i < 3; i++) CHECK(listed(pids, n, kids[i]));
  snow_ref_t ref = snow_process_monitor(kids[0]);
  CHECK_EQ(snow_actor_exit(kids[0], SNOW_REASON_KILLED), 0);
  th__wait(__FILE__, __LINE__, th_m_down(ref), th_wait_ms());
  n = snow_rt_processes(pids, 64);
  CHECK(!listed(pids, n, kids[0]));
  CHECK(listed(pids, n, kids[1]));
  th_end();
}

TEST_CASE(processes_returns_the_count_and_writes_only_cap_pids) {
  th_start();
  for (int i = 0; i < 5; i++) CHECK(snow_actor_spawn(idle, NULL, 0, SNOW_PRIO_NORMAL) != 0);
  snow_pid_t pids[4] = {0, 0, 0, 0xdead};
  int64_t n = snow_rt_processes(pids, 3);
  CHECK(n >= 6);
  CHECK(pids[0] != 0 && pids[1] != 0 && pids[2] != 0);
  CHECK_EQ_U(pids[3], 0xdead);
  CHECK_EQ(snow_rt_processes(NULL, 0), n);
  th_end();
}

TEST_CASE(processes_refuses_a_null_buffer_with_room_and_is_zero_before_start) {
  snow_rt_init();
  CHECK_EQ(snow_rt_processes(NULL, 0), 0);
  snow_pid_t pids[2];
  CHECK_EQ(snow_rt_processes(pids, 2), 0);
  CHECK_EQ(snow_rt_processes(NULL, 2), SNOW_EINVAL);
}

/* ------------------------------------------------------------- one process */

static bool three_queued(const snow_proc_info* i) {
  return i->message_queue_len == 3 && i->status == SNOW_PROC_WAITING;
}

TEST_CASE(info_reports_name_status_queue_links_and_monitors) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(related, w, 1);
  th_wait_user(TAG_READY, TH_ANY_PID);
  snow_ref_t ref = snow_process_monitor(p);
  for (int i = 0; i < 3; i++) CHECK_EQ(th_send1(p, TAG_OTHER), 0);
  snow_proc_info info;
  info_until(p, &info, three_queued);
  CHECK_EQ_U(info.pid, p);
  CHECK_EQ(info.name_len, 13);
  CHECK(strcmp((const char*)info.name, "introspect_me") == 0);
  CHECK_EQ(info.links, 1);
  CHECK_EQ(info.monitors, 1);
  CHECK_EQ(info.monitored_by, 1);
  CHECK_EQ_U(info.entry, (uint64_t)(uintptr_t)related);
  /* The message it takes leaves the others queued. */
  CHECK_EQ(th_send1(p, TAG_GO), 0);
  th__wait(__FILE__, __LINE__, th_m_down(ref), th_wait_ms());
  CHECK_EQ(snow_process_info(p, &info), SNOW_ENOPROC);
  th_end();
}

static bool heap_and_reductions(const snow_proc_info* i) {
  return i->status == SNOW_PROC_WAITING && i->heap_size >= 64 * 1024 && i->reductions >= 10000;
}

TEST_CASE(info_reports_heap_size_and_reductions) {
  th_start();
  uint64_t w[1] = {th_main};
  snow_pid_t p = th_spawn_words(busy, w, 1);
  th_wait_user(TAG_READY, TH_ANY_PID);
  snow_proc_info info;
  info_until(p, &info, heap_and_reductions);
  CHECK_EQ(info.name_len, 0);
  CHECK_EQ(info.name[0], 0);
  CHECK_EQ(info.message_queue_len, 0);
  CHECK_EQ(th_send1(p, TAG_GO), 0);
  th_end();
}

TEST_CASE(info_of_the_main_process_has_no_entry_and_its_own_pid) {
  th_start();
  snow_proc_info info;
  memset(&info, 0xab, sizeof info);
  CHECK_EQ(snow_process_info(th_main, &info), 0);
  CHECK_EQ_U(info.pid, th_main);
  CHECK_EQ_U(info.entry, 0);
  CHECK_EQ(info.status, SNOW_PROC_RUNNING);
  for (size_t i = 0; i < sizeof info.reserved_words_ / sizeof info.reserved_words_[0]; i++)
    CHECK_EQ_U(info.reserved_words_[i], 0);
  th_end();
}

TEST_CASE(info_refuses_bad_arguments_and_unknown_pids) {
  snow_proc_info info;
  snow_rt_init();
  CHECK_EQ(snow_process_info(1, &info), SNOW_ENOTSTARTED);
  th_start();
  CHECK_EQ(snow_process_info(th_main, NULL), SNOW_EINVAL);
  CHECK_EQ(snow_process_info(0, &info), SNOW_EINVAL);
  CHECK_EQ(snow_process_info((uint64_t)1 << 48 | 5, &info), SNOW_ENOPROC); /* another node's */
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(idle, NULL, 0, &o);
  CHECK_EQ(snow_actor_exit(p, SNOW_REASON_KILLED), 0);
  th__wait(__FILE__, __LINE__, th_m_down(o.monitor_ref), th_wait_ms());
  CHECK_EQ(snow_process_info(p, &info), SNOW_ENOPROC);
  th_end();
}
