// Log lines (common.h): the level filter, the embedding program's handler,
// stderr otherwise.
//
// The level is one atomic: -1 until SNOW_LOG is read (on the first line or
// query) or snow_rt_set_log_level sets it. The handler and its context
// change together under a reader-writer lock that each delivered line
// holds as a reader, so once snow_rt_set_log_handler returns the old
// handler is never called again. A handler that logs through the runtime
// again (it calls something that logs) would take the reader lock twice on
// one thread, which may deadlock behind a waiting writer: a thread-local
// flag sends such nested lines to stderr instead.
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <strings.h>
#include <unistd.h>

#include "runtime/common/common.h"

namespace snow::rt {

namespace {

std::atomic<int32_t> g_level{-1};

std::shared_mutex g_handler_mu;
LogHandler g_handler = nullptr;
void* g_handler_ctx = nullptr;
SNOW_TLS bool t_in_handler = false;

constexpr int32_t kDefaultLevel = int32_t(LogLevel::Info);

void write_stderr(const char* line, size_t n) {
  char buf[1100];
  if (n > sizeof buf - 1) n = sizeof buf - 1;
  std::memcpy(buf, line, n);
  buf[n++] = '\n';
  ssize_t w = write(2, buf, n);
  (void)w;
}

void deliver(LogLevel level, const char* line, size_t n) {
  if (!t_in_handler) {
    std::shared_lock<std::shared_mutex> lk(g_handler_mu);
    if (g_handler) {
      t_in_handler = true;
      g_handler(int32_t(level), line, uint64_t(n), g_handler_ctx);
      t_in_handler = false;
      return;
    }
  }
  write_stderr(line, n);
}

void vlog(LogLevel level, const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  if (n > int(sizeof buf - 1)) n = int(sizeof buf - 1);
  deliver(level, buf, size_t(n));
}

}  // namespace

int32_t log_parse_level(const char* text) {
  if (!text) return -1;
  static const char* const kNames[] = {"error", "warning", "info", "debug"};
  for (int32_t i = 0; i < 4; ++i)
    if (strcasecmp(text, kNames[i]) == 0) return i;
  if (strcasecmp(text, "warn") == 0) return int32_t(LogLevel::Warning);
  return -1;
}

int32_t log_level() {
  int32_t level = g_level.load(std::memory_order_acquire);
  if (level >= 0) return level;
  const char* env = getenv("SNOW_LOG");
  int32_t parsed = log_parse_level(env);
  // SNOW_DIST_TRACE asks for the debug lines that trace distribution frames.
  int32_t fallback = getenv("SNOW_DIST_TRACE") ? int32_t(LogLevel::Debug) : kDefaultLevel;
  int32_t chosen = parsed >= 0 ? parsed : fallback;
  // A concurrent snow_rt_set_log_level wins over the environment.
  if (!g_level.compare_exchange_strong(level, chosen, std::memory_order_acq_rel)) return level;
  if (env && *env && parsed < 0)
    log_at(LogLevel::Warning, "snowrt: SNOW_LOG=%s is not error, warning, info or debug; using info", env);
  return chosen;
}

int32_t log_set_level(int32_t level) {
  int32_t before = log_level();
  g_level.store(level, std::memory_order_release);
  return before;
}

void log_set_handler(LogHandler fn, void* ctx) {
  std::unique_lock<std::shared_mutex> lk(g_handler_mu);
  g_handler = fn;
  g_handler_ctx = ctx;
}

bool log_enabled(LogLevel level) { return int32_t(level) <= log_level(); }

void log_at(LogLevel level, const char* fmt, ...) {
  if (!log_enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, fmt, ap);
  va_end(ap);
}

void log_line(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(LogLevel::Error, fmt, ap);
  va_end(ap);
}

}  // namespace snow::rt
