// Helpers shared by the extern "C" layer: argument checks only. The ABI
// layer validates and translates; behaviour lives in runtime/.
#pragma once

#include <cstdint>
#include <string_view>

#include "abi/include/snowrt.h"
#include "runtime/dist/dist.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/process.h"

namespace snow::abi {

// Runs an entry point's body; if the calling attached thread's process is
// ended by a signal inside it (see ThreadProcessEnded), returns `dead`
// instead. Every entry point that can block or apply the caller's pending
// signals goes through this, so nothing is ever thrown into C code.
// Always inlined: an entry point that shares its body with another (one
// lambda type, so one instance) would otherwise call it out of line, which
// costs the send of every round trip in bench/ about 30 instructions.
template <class R, class F>
__attribute__((always_inline)) inline R guarded(R dead, F&& body) {
  try {
    return body();
  } catch (const snow::rt::ThreadProcessEnded&) {
    return dead;
  }
}
template <class F>
__attribute__((always_inline)) inline void guarded_void(F&& body) {
  try {
    body();
  } catch (const snow::rt::ThreadProcessEnded&) {
  }
}

// Registered names, node names and function names: 1 to 255 bytes.
constexpr uint64_t kMaxNameLen = 255;

// A (ptr, len) string is usable: non-NULL when len > 0 and not absurd.
inline bool str_ok(const char* p, uint64_t len, uint64_t max = 1 << 20) {
  return len <= max && (p != nullptr || len == 0);
}
inline std::string_view sv(const char* p, uint64_t len) {
  return len ? std::string_view(p, size_t(len)) : std::string_view();
}

inline bool bytes_ok(const void* p, uint64_t len) { return p != nullptr || len == 0; }

// A name as the ABI takes it (registry, node monitor, registered function):
// 1 to kMaxNameLen bytes, any content.
inline bool name_ok(const char* p, uint64_t len) { return p && len > 0 && len <= kMaxNameLen; }

// A name that travels to other nodes as an atom (a node name, a name
// registered on another node, a function spawned there): a name_ok name of
// UTF-8 that Erlang accepts as an atom. A peer given anything else drops
// the whole connection.
inline bool atom_name_ok(const char* p, uint64_t len) {
  return name_ok(p, len) && snow::rt::etf::atom_text_ok(sv(p, len));
}

// The size rule for bytes bound for another process (a message, a term, an
// exit reason, spawn arguments, a service request or reply): at most
// SNOW_MAX_MSG_SIZE, and for another node at most what one distribution
// frame carries (kDistMaxMessage, `framing` bytes of ours included), since
// a peer closes the connection on a larger frame. SNOW_EMSGSIZE otherwise.
inline bool size_fits(bool remote, uint64_t size, uint64_t framing = 0) {
  return size <= SNOW_MAX_MSG_SIZE && (!remote || size + framing <= snow::rt::kDistMaxMessage);
}
inline bool size_fits_pid(snow_pid_t to, uint64_t size, uint64_t framing = 0) {
  return size_fits(snow::rt::pid_is_remote(to), size, framing);
}

}  // namespace snow::abi
