// Exit reasons in their ABI encoding: one tag byte, then for the tags that
// carry data (error, custom, term) a u64 length and that many bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace snow::rt {

// Length of a well-formed reason at the start of [p, p+len), or -1 when the
// bytes are not exactly one valid reason (tag 3, unknown tags, truncated
// data, trailing bytes, absurd lengths are all malformed).
int64_t reason_validate(const uint8_t* p, uint64_t len);

// True when an exit signal with this reason ends a non-trapping linked
// process (everything but normal).
inline bool reason_is_normal(const uint8_t* r) { return r[0] == 0; }

// Writes the reason with `tag` and optional text into out (which must hold
// reason_size(tag, text.size()) bytes).
uint64_t reason_size(uint8_t tag, uint64_t text_len);
void reason_write(uint8_t* out, uint8_t tag, std::string_view text);
bool reason_tag_has_data(uint8_t tag);

// Human-readable rendering for crash reports ("error: ...", "killed").
void reason_describe(const uint8_t* r, char* buf, std::size_t cap);

}  // namespace snow::rt
