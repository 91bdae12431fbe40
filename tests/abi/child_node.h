/* A libsnowrt node in a child OS process, for the snow_node_* tests that
 * need a peer (test_node_errors.c, test_node_tls.c). Include after the
 * system headers; uses harness.h's checks. */
#ifndef SNOW_TESTS_ABI_CHILD_NODE_H
#define SNOW_TESTS_ABI_CHILD_NODE_H

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* A node in a child OS process: it starts `name` with `cookie`, reports
 * the result through a pipe and lives until the returned fd is closed. */
typedef struct child_node {
  pid_t pid;
  int keep_alive; /* closing it ends the child */
} child_node;

static inline child_node fork_node(const char* name, const char* cookie) {
  int ready[2], alive[2];
  CHECK(pipe(ready) == 0 && pipe(alive) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    close(alive[1]);
    snow_rt_init();
    if (snow_rt_init_actor(1) != 0) _exit(2);
    int8_t rc = (int8_t)snow_node_start(name, strlen(name), cookie, cookie ? strlen(cookie) : 0);
    if (write(ready[1], &rc, 1) != 1) _exit(3);
    char b;
    while (read(alive[0], &b, 1) > 0) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(alive[0]);
  int8_t rc = -100;
  CHECK(read(ready[0], &rc, 1) == 1);
  close(ready[0]);
  CHECK_EQ(rc, 0);
  return (child_node){pid, alive[1]};
}

static inline void end_child(child_node c) {
  close(c.keep_alive);
  int st = 0;
  CHECK(waitpid(c.pid, &st, 0) == c.pid);
}

#endif
