/*
 * serve.c: a node to look at with snowctl and an Erlang shell
 * (docs/operating.md, "snowctl" and "rex: standard Erlang tools").
 *
 * It starts node NAME with COOKIE and three processes: `orders`, a
 * registered server with a backlog of five messages it has not taken (it
 * waits for a stop message only), `worker`, which ran 20,000 reduction
 * checks, and `ticker`, linked to `orders`. It serves until `orders` gets
 * a message whose tag is 0x706f7473 ("stop") or SECONDS pass.
 *
 *   build/debug/docs/examples/snow_serve NAME COOKIE SECONDS
 */
#include <snowrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_TAG 0x706f7473u /* "stop" */

static int is_stop(const snow_msg* m, void* ctx) {
  (void)ctx;
  return snow_msg_kind(m) == SNOW_MSG_USER && m->tag == STOP_TAG;
}

static void orders_main(const uint8_t* args) {
  int64_t ms;
  memcpy(&ms, args, 8);
  snow_actor_register("orders", 6);
  snow_actor_receive_match(is_stop, NULL, ms);
}

static void worker_main(const uint8_t* args) {
  (void)args;
  snow_actor_register("worker", 6);
  for (int i = 0; i < 20000; i++) snow_reduction_check();
  snow_actor_receive(-1); /* then waits: ended with the node */
}

static void ticker_main(const uint8_t* args) {
  snow_pid_t orders;
  memcpy(&orders, args, 8);
  snow_actor_register("ticker", 6);
  snow_actor_link(orders);
  snow_actor_receive(-1);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s NAME COOKIE SECONDS\n", argv[0]);
    return 2;
  }
  snow_rt_init_actor(0);
  int64_t rc = snow_node_start(argv[1], strlen(argv[1]), argv[2], strlen(argv[2]));
  if (rc != 0) {
    fprintf(stderr, "snow_serve: %s\n", snow_strerror((int32_t)rc));
    snow_rt_halt(1);
    return snow_rt_run_scheduler();
  }
  int64_t ms = atoll(argv[3]) * 1000;
  snow_pid_t orders = snow_actor_spawn(orders_main, (const uint8_t*)&ms, 8, SNOW_PRIO_NORMAL);
  snow_pid_t worker = snow_actor_spawn(worker_main, NULL, 0, SNOW_PRIO_NORMAL);
  snow_pid_t ticker = snow_actor_spawn(ticker_main, (const uint8_t*)&orders, 8, SNOW_PRIO_NORMAL);
  for (uint64_t i = 1; i <= 5; i++) {
    uint64_t order = 0x100 + i;
    snow_actor_send(orders, (const uint8_t*)&order, 8);
  }
  printf("serving as %s\n", argv[1]);
  fflush(stdout);
  /* When orders is done, the node goes: the others are ended with it. */
  snow_ref_t mon = snow_process_monitor(orders);
  (void)mon;
  snow_actor_receive(-1);
  snow_actor_exit(worker, 2);
  snow_actor_exit(ticker, 2);
  return snow_rt_run_scheduler();
}
