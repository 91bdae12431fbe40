// ABI section 5: distribution.
#include <cstring>

#include "abi/src/abi_util.h"
#include "runtime/common/common.h"
#include "runtime/dist/dist.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/process.h"

using namespace snow::rt;
using snow::abi::bytes_ok;
using snow::abi::str_ok;
using snow::abi::sv;

namespace {
bool node_arg_ok(const char* node, uint64_t len) { return snow::abi::atom_name_ok(node, len); }

// A term as TERM messages carry it: with its version byte (added in `t`
// when the caller left it out).
std::string_view with_version(const uint8_t* etf_bytes, uint64_t len, std::vector<uint8_t>& t) {
  if (etf_bytes[0] == etf::kVersion) return {reinterpret_cast<const char*>(etf_bytes), size_t(len)};
  t.reserve(len + 1);
  t.push_back(etf::kVersion);
  t.insert(t.end(), etf_bytes, etf_bytes + len);
  return {reinterpret_cast<const char*>(t.data()), t.size()};
}

int32_t send_term_to(snow_pid_t to, std::string_view term) {
  return snow::abi::guarded<int32_t>(SNOW_ENOTPROC, [&] {
    return proc_send(proc_pid(proc_current()), to, reinterpret_cast<const uint8_t*>(term.data()), term.size(),
                     SNOW_MSG_TERM, SNOW_TAG_TERM);
  });
}

}  // namespace

extern "C" {

SNOW_API int64_t snow_node_start(const char* name, uint64_t nlen, const char* cookie, uint64_t clen) {
  if (!node_arg_ok(name, nlen)) return SNOW_EBADNAME;
  if (!str_ok(cookie, clen, 1024)) return SNOW_EINVAL;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return dist_start(sv(name, nlen), sv(cookie, clen)); });
}

SNOW_API int64_t snow_node_stop(void) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  return dist_stop();
}

SNOW_API int64_t snow_node_connect(const char* node, uint64_t len) {
  if (!node_arg_ok(node, len)) return SNOW_EBADNAME;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return dist_connect(sv(node, len)); });
}

SNOW_API int64_t snow_node_disconnect(const char* node, uint64_t len) {
  if (!node_arg_ok(node, len)) return SNOW_EBADNAME;
  return snow::abi::guarded<int64_t>(SNOW_ENOTPROC, [&] { return dist_disconnect(sv(node, len)); });
}

static void* snow_string(const std::string& s) {
  auto* p = static_cast<uint8_t*>(snow_gc_alloc_actor(8 + s.size(), 8));
  if (!p) return nullptr;
  put_u64(p, s.size());
  if (!s.empty()) std::memcpy(p + 8, s.data(), s.size());
  return p;
}

SNOW_API const void* snow_node_self(void) {
  // Snow string: [u64 len][bytes]; empty when no node is started.
  static const uint64_t kEmptyString[1] = {0};
  void* s = snow_string(dist_node_name());
  return s ? s : kEmptyString;
}

SNOW_API const void* snow_node_list(void) {
  // Snow list: [u64 len][u64 cap][u64 string_ptr x len].
  static const uint64_t kEmptyList[2] = {0, 0};
  std::vector<std::string> nodes = dist_connected_nodes();
  auto* l = static_cast<uint64_t*>(snow_gc_alloc_actor(16 + 8 * nodes.size(), 8));
  if (!l) return kEmptyList;
  l[0] = nodes.size();
  l[1] = nodes.size();
  for (size_t i = 0; i < nodes.size(); ++i) {
    void* s = snow_string(nodes[i]);
    if (!s) return kEmptyList;
    l[2 + i] = reinterpret_cast<uint64_t>(s);
  }
  return l;
}

SNOW_API int64_t snow_node_name(char* buf, uint64_t cap) {
  if (!buf && cap > 0) return SNOW_EINVAL;
  std::string n = dist_node_name();
  if (cap) std::memcpy(buf, n.data(), n.size() < cap ? n.size() : size_t(cap));
  return int64_t(n.size());
}

SNOW_API void snow_register_function(const char* name, uint64_t len, snow_proc_fn fn) {
  if (!snow::abi::name_ok(name, len) || !fn) return;
  dist_register_function(sv(name, len), fn);
}

SNOW_API snow_pid_t snow_node_spawn(const char* node, uint64_t nlen, const char* fname, uint64_t flen,
                                    const uint8_t* args, uint64_t asize, uint8_t link) {
  if (!node_arg_ok(node, nlen) || !snow::abi::atom_name_ok(fname, flen)) return 0;
  if (!bytes_ok(args, asize)) return 0;
  // Another node's spawn request carries the args in one frame.
  if (!snow::abi::size_fits(!dist_is_self(sv(node, nlen)), asize)) return 0;
  return snow::abi::guarded<snow_pid_t>(
      0, [&] { return dist_spawn(sv(node, nlen), sv(fname, flen), args, asize, link == 1); });
}

SNOW_API snow_pid_t snow_node_spawn_opts(const char* node, uint64_t nlen, const char* fname, uint64_t flen,
                                         const uint8_t* args, uint64_t asize, snow_spawn_opts* o) {
  bool link = false, monitor = false;
  if (o) {
    o->monitor_ref = 0;
    // Reserved bytes and words must be zero, and so must the options that
    // only a local spawn takes.
    for (uint8_t b : o->reserved_)
      if (b != 0) return 0;
    for (uint64_t w : o->reserved_words_)
      if (w != 0) return 0;
    if (o->priority != 0 || o->stack_size != 0 || o->terminate) return 0;
    link = o->link != 0;
    monitor = o->monitor != 0;
  }
  if (!node_arg_ok(node, nlen) || !snow::abi::atom_name_ok(fname, flen)) return 0;
  if (!bytes_ok(args, asize)) return 0;
  if (!snow::abi::size_fits(!dist_is_self(sv(node, nlen)), asize)) return 0;
  return snow::abi::guarded<snow_pid_t>(0, [&] {
    return dist_spawn(sv(node, nlen), sv(fname, flen), args, asize, link, monitor, o ? &o->monitor_ref : nullptr);
  });
}

SNOW_API int64_t snow_term_encode_pid(snow_pid_t pid, uint8_t* buf, uint64_t cap) {
  if (pid == 0 || (!buf && cap > 0)) return SNOW_EINVAL;
  return dist_encode_pid(pid, buf, cap);
}

SNOW_API snow_pid_t snow_term_decode_pid(const uint8_t* etf, uint64_t len) {
  if (!etf || len == 0 || len > SNOW_MAX_MSG_SIZE) return 0;
  return dist_decode_pid(etf, len);
}

SNOW_API int32_t snow_actor_send_term(snow_pid_t to, const uint8_t* etf_bytes, uint64_t len) {
  if (to == 0 || !etf_bytes || len == 0) return SNOW_EINVAL;
  if (!snow::abi::size_fits_pid(to, len)) return SNOW_EMSGSIZE;
  if (!etf::validate(etf_bytes, size_t(len))) return SNOW_EINVAL;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  // A send to a remote pid may park (the busy limit), which must find no
  // heap memory owned by this frame (an exit while parked would leak it);
  // the remote frame takes the term with or without its version byte.
  // Local TERM messages are stored with it.
  std::vector<uint8_t> t;
  std::string_view term =
      pid_is_remote(to) ? sv(reinterpret_cast<const char*>(etf_bytes), len) : with_version(etf_bytes, len, t);
  return send_term_to(to, term);
}

SNOW_API int32_t snow_actor_send_named_term(const char* name, uint64_t nlen, const char* node, uint64_t dlen,
                                            const uint8_t* etf_bytes, uint64_t len) {
  if (!snow::abi::name_ok(name, nlen)) return SNOW_EBADNAME;
  if (!snow::abi::str_ok(node, dlen, snow::abi::kMaxNameLen)) return SNOW_EBADNAME;
  if (!etf_bytes || len == 0) return SNOW_EINVAL;
  bool remote = dlen != 0 && !dist_is_self(sv(node, dlen));
  if (!snow::abi::size_fits(remote, len)) return SNOW_EMSGSIZE;
  if (!etf::validate(etf_bytes, size_t(len))) return SNOW_EINVAL;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (remote) {
    // May park (the busy limit): no heap memory on this frame, see above.
    if (!snow::abi::atom_name_ok(name, nlen)) return SNOW_EBADNAME;
    return dist_send_named(proc_pid(proc_current()), sv(name, nlen), sv(node, dlen), etf_bytes, len, true);
  }
  snow_pid_t to = proc_whereis(sv(name, nlen));
  if (to == 0) return 0;  // unknown name: dropped, like a send to a dead pid
  std::vector<uint8_t> t;
  return send_term_to(to, with_version(etf_bytes, len, t));
}

SNOW_API int64_t snow_node_set_tls(const char* key, uint64_t klen, const char* value, uint64_t vlen) {
  if (!str_ok(key, klen, 64) || klen == 0 || !str_ok(value, vlen, 4096)) return SNOW_EINVAL;
  return dist_set_tls(sv(key, klen), sv(value, vlen));
}

SNOW_API int64_t snow_node_set_ticktime(uint32_t ms) {
  if (ms == 0) return SNOW_EINVAL;
  dist_set_ticktime(ms);
  return 0;
}

}  // extern "C"
