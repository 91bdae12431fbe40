/*
 * sigat: sends a signal to a process and prints, on stdout, the
 * CLOCK_MONOTONIC time (ns) taken immediately before the kill(2) call:
 *
 *   sigat KILL|STOP|CONT|TERM <pid>   ->   "T0 <ns>\n"
 *
 * Used by the distribution scenarios (peer SIGKILLed -> nodedown, silent
 * partition by SIGSTOP -> nodedown): the measuring node reads this stamp and
 * subtracts it from the time it saw the node go down. Erlang's
 * os:perf_counter(nanosecond) reads the same clock on Linux, so the two
 * stamps are comparable. Exit status: 0 sent, 1 usage, 2 kill(2) failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: sigat KILL|STOP|CONT|TERM <pid>\n");
    return 1;
  }
  int sig = strcmp(argv[1], "KILL") == 0   ? SIGKILL
            : strcmp(argv[1], "STOP") == 0 ? SIGSTOP
            : strcmp(argv[1], "CONT") == 0 ? SIGCONT
            : strcmp(argv[1], "TERM") == 0 ? SIGTERM
                                           : 0;
  char* end = NULL;
  long pid = strtol(argv[2], &end, 10);
  if (sig == 0 || !end || *end != 0 || pid <= 1) {
    fprintf(stderr, "sigat: bad arguments\n");
    return 1;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int rc = kill((pid_t)pid, sig);
  int err = errno;
  printf("T0 %llu\n", (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
  fflush(stdout);
  if (rc != 0) {
    fprintf(stderr, "sigat: kill(%ld): %s\n", pid, strerror(err));
    return 2;
  }
  return 0;
}
