/*
 * hello_main.c: a program shaped like a compiler's output.
 *
 * It defines snow_main() instead of main(): the main() comes from
 * libsnowrt_main (codegen-shims/main.c), which starts the runtime, runs
 * snow_main() as the main process, then calls snow_rt_run_scheduler() and
 * returns its status. Link order: this object, libsnowrt_main, libsnowrt.
 *
 * snow_main() spawns a greeter, asks it for a greeting with a timed
 * receive, and returns. The greeter is still waiting in a receive when the
 * program ends; snow_rt_run_scheduler() sees that nothing can wake it and
 * ends it with `shutdown`, so the program exits with status 0.
 */
#include <snowrt.h>

#include <stdio.h>
#include <string.h>

enum { TAG_HELLO = 1, TAG_GREETING = 2 };

static void greeter(const uint8_t* args) {
  (void)args;
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (m == NULL || snow_msg_kind(m) != SNOW_MSG_USER || m->tag != TAG_HELLO || m->len < 16) continue;
    snow_pid_t from;
    memcpy(&from, m->data + 8, 8); /* x86-64 and AArch64 are little-endian */
    uint8_t reply[8 + 32] = {TAG_GREETING};
    static const char text[] = "hello from a snowrt process";
    memcpy(reply + 8, text, sizeof text - 1);
    snow_actor_send(from, reply, 8 + sizeof text - 1);
  }
}

void snow_main(void) {
  snow_pid_t g = snow_actor_spawn(greeter, NULL, 0, SNOW_PRIO_NORMAL);
  snow_pid_t self = snow_actor_self();
  uint8_t hello[16] = {TAG_HELLO};
  memcpy(hello + 8, &self, 8);
  snow_actor_send(g, hello, sizeof hello);
  const snow_msg* m = snow_actor_receive(5000);
  if (m != NULL && m->tag == TAG_GREETING) printf("snow_main got: %.*s\n", (int)(m->len - 8), (const char*)m->data + 8);
  else printf("snow_main got no greeting\n");
  printf("snow_main returns; the greeter is still waiting\n");
  fflush(stdout);
}
