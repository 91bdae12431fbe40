/* ABI.md section 3: the node-local registry (register, unregister, whereis,
 * send_named). */
#include "harness.h"

#include <pthread.h>

#define NAME(s) (s), (uint64_t)strlen(s)

/* args [parent][name len][name bytes...]: registers the name, reports
 * [T_DONE][self][rc], then serves as a puppet-like echo: on any user message
 * [tag][..] replies [T_ECHO][self][tag]; C_STOP returns; C_EXIT_SELF exits. */
static void named_proc(const uint8_t* args) {
  snow_pid_t parent = th_arg(args, 0);
  uint64_t nlen = th_arg(args, 1);
  int32_t rc = snow_actor_register((const char*)args + 16, nlen);
  th_send3(parent, T_DONE, snow_actor_self(), (uint64_t)(int64_t)rc);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    CHECK(m != NULL);
    uint64_t tag = th_word(m, 0);
    if (tag == C_STOP) return;
    if (tag == C_EXIT_SELF) snow_actor_exit_self(m->data + 8, m->len - 8);
    th_send4(parent, T_ECHO, snow_actor_self(), tag, th_word(m, 1));
  }
}

static snow_pid_t spawn_named(const char* name, int32_t expect_rc, snow_ref_t* ref) {
  uint8_t buf[16 + 256];
  size_t n = strlen(name);
  th_put_u64(buf, th_main);
  th_put_u64(buf + 8, n);
  memcpy(buf + 16, name, n);
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = ref != NULL;
  snow_pid_t p = snow_actor_spawn_opts(named_proc, buf, 16 + n, &o);
  CHECK(p != 0);
  if (ref) *ref = o.monitor_ref;
  const snow_msg* m = th_wait_user(T_DONE, p);
  CHECK_EQ((int64_t)th_word(m, 2), expect_rc);
  return p;
}

TEST_CASE(register_then_whereis_returns_the_pid_and_unregister_removes_it) {
  th_start();
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_main")), 0);
  CHECK_EQ(snow_actor_register(NAME("abi_reg_main")), 0);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_main")), th_main);
  CHECK_EQ(snow_actor_unregister(NAME("abi_reg_main")), 0);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_main")), 0);
  /* And it can be registered again. */
  CHECK_EQ(snow_actor_register(NAME("abi_reg_main")), 0);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_main")), th_main);
  th_end();
}

TEST_CASE(whereis_sees_names_registered_by_other_processes) {
  th_start();
  snow_pid_t p = spawn_named("abi_reg_other", 0, NULL);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_other")), p);
  th_end();
}

static void* whereis_thread(void* arg) {
  snow_pid_t* out = arg;
  *out = snow_actor_whereis(NAME("abi_reg_thread"));
  return NULL;
}

TEST_CASE(whereis_works_from_a_foreign_thread) {
  th_start();
  CHECK_EQ(snow_actor_register(NAME("abi_reg_thread")), 0);
  pthread_t t;
  snow_pid_t got = 0;
  CHECK_EQ(pthread_create(&t, NULL, whereis_thread, &got), 0);
  pthread_join(t, NULL);
  CHECK_EQ_U(got, th_main);
  th_end();
}

TEST_CASE(register_a_taken_name_returns_eexist) {
  th_start();
  snow_pid_t p = spawn_named("abi_reg_taken", 0, NULL);
  CHECK_EQ(snow_actor_register(NAME("abi_reg_taken")), SNOW_EEXIST);
  spawn_named("abi_reg_taken", SNOW_EEXIST, NULL);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_taken")), p);
  th_end();
}

TEST_CASE(register_a_second_name_for_the_same_process_returns_eexist) {
  th_start();
  CHECK_EQ(snow_actor_register(NAME("abi_reg_first")), 0);
  CHECK_EQ(snow_actor_register(NAME("abi_reg_second")), SNOW_EEXIST);
  CHECK_EQ(snow_actor_register(NAME("abi_reg_first")), SNOW_EEXIST);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_second")), 0);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_first")), th_main);
  th_end();
}

TEST_CASE(register_an_empty_name_returns_ebadname) {
  th_start();
  CHECK_EQ(snow_actor_register("", 0), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_register("x", 0), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_unregister("x", 0), SNOW_EBADNAME);
  th_end();
}

TEST_CASE(register_accepts_255_bytes_and_rejects_256) {
  th_start();
  char name[300];
  memset(name, 'n', sizeof name);
  CHECK_EQ(snow_actor_register(name, 256), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_register(name, 1000), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_register(name, 255), 0);
  CHECK_EQ_U(snow_actor_whereis(name, 255), th_main);
  CHECK_EQ_U(snow_actor_whereis(name, 254), 0);
  th_end();
}

TEST_CASE(names_are_byte_strings_compared_by_length) {
  th_start();
  const char buf[] = "abi_reg_prefix_and_more";
  CHECK_EQ(snow_actor_register(buf, 14), 0); /* "abi_reg_prefix" */
  CHECK_EQ_U(snow_actor_whereis(buf, 14), th_main);
  CHECK_EQ_U(snow_actor_whereis(buf, strlen(buf)), 0);
  CHECK_EQ_U(snow_actor_whereis(buf, 13), 0);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_prefix")), th_main);
  /* A name with an embedded NUL is a valid, distinct name. */
  CHECK_EQ(snow_actor_unregister(buf, 14), 0);
  const char nul[] = {'a', 0, 'b'};
  CHECK_EQ(snow_actor_register(nul, 3), 0);
  CHECK_EQ_U(snow_actor_whereis(nul, 3), th_main);
  CHECK_EQ_U(snow_actor_whereis("a", 1), 0);
  th_end();
}

TEST_CASE(unregister_a_name_not_held_returns_enotfound) {
  th_start();
  CHECK_EQ(snow_actor_unregister(NAME("abi_reg_nobody")), SNOW_ENOTFOUND);
  spawn_named("abi_reg_theirs", 0, NULL);
  CHECK_EQ(snow_actor_unregister(NAME("abi_reg_theirs")), SNOW_ENOTFOUND);
  CHECK(snow_actor_whereis(NAME("abi_reg_theirs")) != 0);
  th_end();
}

static void check_released_on_exit(const uint8_t* reason, size_t rlen, bool by_signal) {
  snow_ref_t ref;
  snow_pid_t p = spawn_named("abi_reg_exiting", 0, &ref);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_exiting")), p);
  if (by_signal) {
    CHECK_EQ(snow_actor_exit_reason(p, reason, rlen), 0);
  } else {
    uint8_t buf[64];
    th_put_u64(buf, C_EXIT_SELF);
    memcpy(buf + 8, reason, rlen);
    CHECK_EQ(snow_actor_send(p, buf, 8 + rlen), 0);
  }
  th_expect_down(ref, p, reason, rlen);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_exiting")), 0);
  /* The name is free for someone else. */
  CHECK_EQ(snow_actor_register(NAME("abi_reg_exiting")), 0);
}

TEST_CASE(name_is_released_when_the_process_exits_normally) {
  th_start();
  uint8_t r[1] = {SNOW_REASON_NORMAL};
  check_released_on_exit(r, 1, false);
  th_end();
}

TEST_CASE(name_is_released_when_the_process_crashes) {
  th_start();
  uint8_t r[32];
  size_t rl = th_reason_str(r, SNOW_REASON_ERROR, "crash");
  check_released_on_exit(r, rl, false);
  th_end();
}

TEST_CASE(name_is_released_when_the_process_is_killed) {
  th_start();
  uint8_t r[1] = {SNOW_REASON_KILLED};
  check_released_on_exit(r, 1, true);
  th_end();
}

TEST_CASE(send_named_with_empty_node_delivers_locally) {
  th_start();
  snow_pid_t p = spawn_named("abi_reg_target", 0, NULL);
  uint8_t b[16];
  th_put_u64(b, T_MARK);
  th_put_u64(b + 8, 31);
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_target"), NULL, 0, b, 16), 0);
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_target"), "", 0, b, 16), 0);
  for (int i = 0; i < 2; i++) {
    const snow_msg* m = th_wait_user(T_ECHO, p);
    CHECK_EQ_U(th_word(m, 2), T_MARK);
    CHECK_EQ(th_word(m, 3), 31);
  }
  th_end();
}

TEST_CASE(send_named_keeps_send_order) {
  th_start();
  snow_pid_t p = spawn_named("abi_reg_order", 0, NULL);
  for (uint64_t i = 0; i < 200; i++) {
    uint8_t b[16];
    th_put_u64(b, T_SEQ);
    th_put_u64(b + 8, i);
    CHECK_EQ(snow_actor_send_named(NAME("abi_reg_order"), NULL, 0, b, 16), 0);
  }
  for (uint64_t i = 0; i < 200; i++) {
    const snow_msg* m = th_wait_user(T_ECHO, p);
    CHECK_EQ(th_word(m, 3), i);
  }
  th_end();
}

TEST_CASE(send_named_to_an_unknown_name_is_dropped_and_returns_0) {
  th_start();
  uint8_t b[8] = {1};
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_nosuch"), NULL, 0, b, 8), 0);
  /* Registering later does not deliver the dropped message. */
  snow_pid_t p = spawn_named("abi_reg_nosuch", 0, NULL);
  CHECK_EQ(th_send2(p, T_MARK, 2), 0);
  const snow_msg* m = th_wait_user(T_ECHO, p);
  CHECK_EQ_U(th_word(m, 2), T_MARK);
  th_end();
}

TEST_CASE(send_named_to_a_remote_node_without_distribution_returns_enonode) {
  th_start();
  uint8_t b[8] = {1};
  const char* node = "other@localhost";
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_x"), node, strlen(node), b, 8), SNOW_ENONODE);
  th_end();
}

TEST_CASE(send_named_rejects_bad_arguments) {
  th_start();
  uint8_t b[8] = {1};
  CHECK_EQ(snow_actor_send_named("", 0, NULL, 0, b, 8), SNOW_EBADNAME);
  char longname[300];
  memset(longname, 'q', sizeof longname);
  CHECK_EQ(snow_actor_send_named(longname, 256, NULL, 0, b, 8), SNOW_EBADNAME);
  CHECK_EQ(snow_actor_register(NAME("abi_reg_args")), 0);
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_args"), NULL, 0, NULL, 8), SNOW_EINVAL);
  CHECK_EQ(snow_actor_send_named(NAME("abi_reg_args"), NULL, 0, b, SNOW_MAX_MSG_SIZE + 1), SNOW_EMSGSIZE);
  CHECK(snow_actor_receive(0) == NULL);
  th_end();
}

static void* register_thread(void* arg) {
  int32_t* out = arg;
  out[0] = snow_actor_register(NAME("abi_reg_thr"));
  out[1] = snow_actor_unregister(NAME("abi_reg_thr"));
  return NULL;
}

TEST_CASE(register_outside_a_process_returns_enotproc) {
  th_start();
  pthread_t t;
  int32_t r[2] = {0, 0};
  CHECK_EQ(pthread_create(&t, NULL, register_thread, r), 0);
  pthread_join(t, NULL);
  CHECK_EQ(r[0], SNOW_ENOTPROC);
  CHECK_EQ(r[1], SNOW_ENOTPROC);
  CHECK_EQ_U(snow_actor_whereis(NAME("abi_reg_thr")), 0);
  th_end();
}

TEST_CASE(many_processes_register_distinct_names) {
  th_start();
  enum { N = 200 };
  static snow_pid_t pids[N];
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "abi_reg_many_%d", i);
    pids[i] = spawn_named(name, 0, NULL);
  }
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "abi_reg_many_%d", i);
    CHECK_EQ_U(snow_actor_whereis(NAME(name)), pids[i]);
  }
  th_end();
}
