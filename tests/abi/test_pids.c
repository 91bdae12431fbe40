/* Pid values (ABI.md section 5, "pids"; v2): a local pid value belongs to
 * one incarnation of the runtime (one run of one program, one node), so a
 * raw 8-byte pid from another node or another run names no process here:
 * a send to it is dropped, a link gets noproc, a monitor gets DOWN noproc.
 * Pids cross nodes as terms (snow_term_encode_pid / snow_term_decode_pid).
 *
 * Another incarnation is simulated by forked children of the case, each
 * starting its own runtime, as another node's OS process would. */
#include "harness.h"

#include <sys/wait.h>
#include <unistd.h>

static void nothing(const uint8_t* args) { (void)args; }

/* Runs a fresh runtime in a child OS process and returns the pid values it
 * saw: its main process and the first process it spawned. */
static void pids_of_another_run(snow_pid_t out[2]) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  fflush(NULL);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(fds[0]);
    snow_rt_init();
    if (snow_rt_init_actor(1) != 0) _exit(2);
    snow_pid_t w[2] = {snow_actor_self(), snow_actor_spawn(nothing, NULL, 0, SNOW_PRIO_NORMAL)};
    if (write(fds[1], w, sizeof w) != (ssize_t)sizeof w) _exit(3);
    _exit(snow_rt_run_scheduler() == 0 ? 0 : 4);
  }
  close(fds[1]);
  CHECK(read(fds[0], out, 2 * sizeof(snow_pid_t)) == (ssize_t)(2 * sizeof(snow_pid_t)));
  close(fds[0]);
  int st = 0;
  CHECK(waitpid(child, &st, 0) == child);
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other run failed (wait status 0x%x)", st);
  CHECK(out[0] != 0 && out[1] != 0);
  CHECK_EQ_U(out[0] >> 48, 0); /* local pids keep node index 0 */
}

TEST_CASE(each_run_of_a_program_gives_its_processes_other_pid_values) {
  snow_pid_t a[2], b[2];
  pids_of_another_run(a);
  pids_of_another_run(b);
  th_start();
  snow_pid_t first = snow_actor_spawn(nothing, NULL, 0, SNOW_PRIO_NORMAL);
  CHECK(first != 0);
  CHECK_MSG(a[0] != b[0] && a[0] != th_main && b[0] != th_main,
            "main pids 0x%llx, 0x%llx, 0x%llx: the same value in two runs", (unsigned long long)a[0],
            (unsigned long long)b[0], (unsigned long long)th_main);
  CHECK(a[1] != b[1] && a[1] != first && b[1] != first);
  CHECK_EQ_U(th_main >> 48, 0);
  th_end();
}

TEST_CASE(a_raw_pid_from_another_run_names_no_process_here) {
  snow_pid_t other[2];
  pids_of_another_run(other);
  th_start();
  /* Processes alive here while the foreign values are used. */
  snow_pid_t mine[4];
  for (int i = 0; i < 4; i++) mine[i] = th_spawn_puppet(0);
  for (int i = 0; i < 2; i++) {
    snow_pid_t p = other[i];
    /* A send is dropped: it reaches none of ours (they would report it) nor
     * this process's own mailbox. */
    CHECK_EQ(th_send2(p, T_MARK, i), 0);
    /* A monitor gets DOWN noproc at once. */
    snow_ref_t ref = snow_process_monitor(p);
    CHECK(ref != 0);
    uint8_t noproc[1] = {SNOW_REASON_NOPROC};
    th_expect_down(ref, p, noproc, 1);
    /* A link gets an exit signal noproc (an EXIT message while trapping). */
    snow_actor_set_trap_exit(true);
    CHECK_EQ(snow_actor_link(p), 0);
    const snow_msg* m = th_wait_exit(p);
    size_t rl;
    const uint8_t* r = th_exit_reason(m, &rl);
    CHECK_REASON(r, rl, noproc, 1);
    snow_actor_set_trap_exit(false);
  }
  for (int i = 0; i < 4; i++) th_puppet_ping(mine[i]); /* fences: nothing reached them */
  for (int i = 0; i < 4; i++) CHECK(th_poll_report(mine[i], SNOW_MSG_USER) == NULL);
  CHECK(th_poll_user(T_MARK, TH_ANY_PID) == NULL);
  th_end();
}

TEST_CASE(a_local_pid_round_trips_through_its_term_encoding) {
  th_start();
  snow_pid_t pids[3] = {th_main, th_spawn_puppet(0), th_spawn_puppet(0)};
  for (int i = 0; i < 3; i++) {
    uint8_t buf[128];
    int64_t n = snow_term_encode_pid(pids[i], buf, sizeof buf);
    CHECK(n > 0);
    CHECK_EQ(buf[0], 131);
    CHECK_EQ_U(snow_term_decode_pid(buf, (uint64_t)n), pids[i]);
  }
  th_end();
}

TEST_CASE(pids_from_before_a_restart_name_no_process_after_it) {
  th_start();
  snow_pid_t old_main = th_main;
  snow_pid_t old = th_spawn_puppet(0);
  th_end();
  th_start();
  CHECK(th_main != old_main);
  snow_ref_t ref = snow_process_monitor(old);
  uint8_t noproc[1] = {SNOW_REASON_NOPROC};
  th_expect_down(ref, old, noproc, 1);
  ref = snow_process_monitor(old_main);
  th_expect_down(ref, old_main, noproc, 1);
  th_end();
}
