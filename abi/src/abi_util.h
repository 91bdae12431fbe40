// Helpers shared by the extern "C" layer: argument checks only. The ABI
// layer validates and translates; behaviour lives in runtime/.
#pragma once

#include <cstdint>
#include <string_view>

#include "abi/include/snowrt.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/process.h"

namespace snow::abi {

// Runs an entry point's body; if the calling attached thread's process is
// ended by a signal inside it (see ThreadProcessEnded), returns `dead`
// instead. Every entry point that can block or apply the caller's pending
// signals goes through this, so nothing is ever thrown into C code.
template <class R, class F>
R guarded(R dead, F&& body) {
  try {
    return body();
  } catch (const snow::rt::ThreadProcessEnded&) {
    return dead;
  }
}
template <class F>
void guarded_void(F&& body) {
  try {
    body();
  } catch (const snow::rt::ThreadProcessEnded&) {
  }
}

constexpr uint64_t kMaxNameLen = 255;

// A (ptr, len) string is usable: non-NULL when len > 0 and not absurd.
inline bool str_ok(const char* p, uint64_t len, uint64_t max = 1 << 20) {
  return len <= max && (p != nullptr || len == 0);
}
inline std::string_view sv(const char* p, uint64_t len) { return len ? std::string_view(p, size_t(len)) : std::string_view(); }

inline bool bytes_ok(const void* p, uint64_t len) { return p != nullptr || len == 0; }

// A name that travels to other nodes as an atom (a node name, a name
// registered on another node, a function spawned there): 1 to kMaxNameLen
// bytes of UTF-8, which Erlang accepts as an atom. A peer given anything
// else drops the whole connection.
inline bool atom_name_ok(const char* p, uint64_t len) {
  return p && len > 0 && len <= kMaxNameLen && snow::rt::etf::atom_text_ok(sv(p, len));
}

// Tag of a user message: its first min(size, 8) bytes, little-endian,
// zero-padded.
uint64_t user_tag(const uint8_t* msg, uint64_t size);

}  // namespace snow::abi
