/*
 * consumer.c: the program of the consumer test (tests/consumer/run.sh),
 * built by a separate project against an installed libsnowrt (CMake
 * package, pkg-config) or a source tree (add_subdirectory, FetchContent),
 * linked shared and static. It is also compiled as C++ (consumer.cpp).
 *
 * It forks into two nodes: "b" registers the function "victim" and waits;
 * "a" spawns victim on b, monitors it, tells it to crash, and prints the
 * DOWN it gets, then tells b to end. Output line checked by run.sh:
 *   consumer: DOWN from the process on the other node: error "told to crash"
 *
 * It also defines names the runtime uses inside (available_cpus): a static
 * link fails if libsnowrt.a leaked them as global symbols.
 */
#if !defined(__cplusplus) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fork, kill, waitpid under -std=c11 */
#endif
#include <snowrt.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int available_cpus(void);
int available_cpus(void) { return 1; }

static const char kCookie[] = "consumer-cookie";

static void victim(const uint8_t* args) {
  (void)args;
  snow_actor_receive(-1);
  snow_panic("told to crash", 13, __FILE__, sizeof __FILE__ - 1, __LINE__);
}

static int run_b(const char* b) {
  snow_rt_init();
  snow_register_function("victim", 6, victim);
  if (snow_rt_init_actor(2) != 0) return 10;
  if (snow_node_start(b, strlen(b), kCookie, sizeof kCookie - 1) != 0) return 11;
  snow_actor_register("host", 4);
  snow_actor_receive(60000); /* a's "bye", or give up after a minute */
  snow_rt_halt(0);
  return 0;
}

static int run_a(const char* a, const char* b) {
  snow_rt_init();
  if (snow_rt_init_actor(2) != 0) return 20;
  if (snow_node_start(a, strlen(a), kCookie, sizeof kCookie - 1) != 0) return 21;
  /* b may still be starting: retry the connection for up to 30 s. */
  int connected = 0;
  for (int i = 0; i < 300 && !connected; ++i) {
    connected = snow_node_connect(b, strlen(b)) == 0;
    if (!connected) snow_actor_receive(100);
  }
  if (!connected) {
    fprintf(stderr, "consumer: could not connect to %s\n", b);
    return 22;
  }
  snow_pid_t v = snow_node_spawn(b, strlen(b), "victim", 6, NULL, 0, 0);
  if (v == 0) return 23;
  snow_ref_t ref = snow_process_monitor(v);
  static const uint8_t go[8] = {1};
  snow_actor_send(v, go, sizeof go);
  for (;;) {
    const snow_msg* m = snow_actor_receive(30000);
    if (m == NULL) {
      fprintf(stderr, "consumer: no DOWN within 30 s\n");
      return 24;
    }
    if (snow_msg_kind(m) != SNOW_MSG_DOWN || memcmp(m->data, &ref, 8) != 0) continue;
    const uint8_t* reason = m->data + 16;
    uint64_t len = 0;
    memcpy(&len, reason + 1, 8);
    printf("consumer: DOWN from the process on the other node: %s \"%.*s\"\n",
           reason[0] == SNOW_REASON_ERROR ? "error" : "other", (int)len, (const char*)(reason + 9));
    break;
  }
  static const uint8_t bye[8] = {2};
  snow_actor_send_named("host", 4, b, strlen(b), bye, sizeof bye);
  return 0;
}

int main(void) {
  char a[64], b[64];
  snprintf(a, sizeof a, "consumera%d@127.0.0.1", (int)getpid());
  snprintf(b, sizeof b, "consumerb%d@127.0.0.1", (int)getpid());
  printf("consumer: %d cpu (its own available_cpus)\n", available_cpus());
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) _exit(run_b(b));
  int rc = run_a(a, b);
  int status = 0;
  if (rc != 0) kill(child, SIGKILL);
  waitpid(child, &status, 0);
  if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rc = 3;
  printf("consumer: exit %d\n", rc);
  return rc;
}
