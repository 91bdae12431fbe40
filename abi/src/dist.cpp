// ABI section 5: distribution. Until runtime/dist lands (issue 3) no node
// can be started: the calls validate their arguments and report
// SNOW_ENOTSTARTED, and the queries answer as a node that is not started.
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/proc/process.h"

using namespace snow::rt;
using snow::abi::bytes_ok;
using snow::abi::str_ok;

namespace {
std::atomic<uint32_t> g_ticktime_ms{60000};
std::mutex g_fn_mu;
std::unordered_map<std::string, void (*)(const uint8_t*)> g_functions;
}  // namespace

extern "C" {

SNOW_API int64_t snow_node_start(const char* name, uint64_t nlen, const char* cookie, uint64_t clen) {
  if (!name || nlen == 0 || nlen > snow::abi::kMaxNameLen) return SNOW_EBADNAME;
  if (!str_ok(cookie, clen, 1024)) return SNOW_EINVAL;
  return SNOW_ENOTSTARTED;
}

SNOW_API int64_t snow_node_stop(void) { return SNOW_ENOTSTARTED; }

SNOW_API int64_t snow_node_connect(const char* node, uint64_t len) {
  if (!node || len == 0 || len > snow::abi::kMaxNameLen) return SNOW_EBADNAME;
  return SNOW_ENOTSTARTED;
}

SNOW_API int64_t snow_node_disconnect(const char* node, uint64_t len) {
  if (!node || len == 0 || len > snow::abi::kMaxNameLen) return SNOW_EBADNAME;
  return SNOW_ENOTSTARTED;
}

SNOW_API const void* snow_node_self(void) {
  // Snow string: [u64 len][bytes]; empty when no node is started.
  static const uint64_t kEmptyString[1] = {0};
  void* s = snow_gc_alloc_actor(8, 8);
  return s ? s : kEmptyString;
}

SNOW_API const void* snow_node_list(void) {
  // Snow list: [u64 len][u64 cap][u64 ptr x len]; empty when not started.
  static const uint64_t kEmptyList[2] = {0, 0};
  void* l = snow_gc_alloc_actor(16, 8);
  return l ? l : kEmptyList;
}

SNOW_API int64_t snow_node_name(char* buf, uint64_t cap) {
  if (!buf && cap > 0) return SNOW_EINVAL;
  return 0;
}

SNOW_API void snow_register_function(const char* name, uint64_t len, void (*fn)(const uint8_t*)) {
  if (!name || len == 0 || len > snow::abi::kMaxNameLen || !fn) return;
  std::lock_guard<std::mutex> lk(g_fn_mu);
  g_functions[std::string(name, size_t(len))] = fn;
}

SNOW_API snow_pid_t snow_node_spawn(const char* node, uint64_t nlen, const char* fname, uint64_t flen,
                                    const uint8_t* args, uint64_t asize, uint8_t link) {
  (void)link;
  if (!node || nlen == 0 || !fname || flen == 0 || !bytes_ok(args, asize)) return 0;
  return 0;  // no node can be reached without distribution
}

SNOW_API int64_t snow_term_encode_pid(snow_pid_t pid, uint8_t* buf, uint64_t cap) {
  if (pid == 0 || (!buf && cap > 0)) return SNOW_EINVAL;
  return SNOW_ENOTSTARTED;
}

SNOW_API snow_pid_t snow_term_decode_pid(const uint8_t* etf, uint64_t len) {
  (void)etf;
  (void)len;
  return 0;
}

SNOW_API int32_t snow_actor_send_term(snow_pid_t to, const uint8_t* etf, uint64_t len) {
  if (to == 0 || !etf || len == 0) return SNOW_EINVAL;
  return SNOW_ENOTSTARTED;
}

SNOW_API int64_t snow_node_set_ticktime(uint32_t ms) {
  if (ms == 0) return SNOW_EINVAL;
  g_ticktime_ms.store(ms);
  return 0;
}

}  // extern "C"
