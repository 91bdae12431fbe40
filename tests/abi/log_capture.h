/* log_capture.h: a log handler for the ABI tests that keeps every line it
 * is given (thread-safe: lines come from any thread) and finds them by
 * level and text. Header-only; each test file that includes it gets its
 * own copy. */
#ifndef SNOW_TESTS_ABI_LOG_CAPTURE_H
#define SNOW_TESTS_ABI_LOG_CAPTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"

#define LOG_CAPTURE_LINES 256

typedef struct log_capture {
  pthread_mutex_t mu;
  int count;
  int wrong_ctx; /* calls whose ctx was not this capture */
  int levels[LOG_CAPTURE_LINES];
  char lines[LOG_CAPTURE_LINES][256];
} log_capture;

static log_capture* log_capture_current;

static void log_capture_handler(int32_t level, const char* line, uint64_t len, void* ctx) {
  log_capture* c = log_capture_current;
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  if (ctx != c) c->wrong_ctx++;
  if (c->count < LOG_CAPTURE_LINES) {
    size_t n = len < sizeof c->lines[0] - 1 ? (size_t)len : sizeof c->lines[0] - 1;
    memcpy(c->lines[c->count], line, n);
    c->lines[c->count][n] = 0;
    c->levels[c->count] = level;
    c->count++;
  }
  pthread_mutex_unlock(&c->mu);
}

static inline void log_capture_install(log_capture* c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  log_capture_current = c;
  snow_rt_set_log_handler(log_capture_handler, c);
}

static inline void log_capture_remove(log_capture* c) {
  (void)c;
  snow_rt_set_log_handler(NULL, NULL);
}

static inline int log_capture_count(log_capture* c) {
  pthread_mutex_lock(&c->mu);
  int n = c->count;
  pthread_mutex_unlock(&c->mu);
  return n;
}

/* Whether a line of that level containing `text` arrived. */
static inline bool log_capture_find(log_capture* c, int32_t level, const char* text) {
  bool found = false;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->count && !found; i++) found = c->levels[i] == level && strstr(c->lines[i], text);
  pthread_mutex_unlock(&c->mu);
  return found;
}

/* Waits (deadline th_wait_ms) for such a line. */
static inline bool log_capture_wait(log_capture* c, int32_t level, const char* text) {
  int64_t deadline = th_now_ms() + th_wait_ms();
  while (!log_capture_find(c, level, text)) {
    if (th_now_ms() > deadline) return false;
    snow_timer_sleep(10);
  }
  return true;
}

#endif
