#include "runtime/proc/reason.h"

#include <cstdio>
#include <cstring>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"

namespace snow::rt {

bool reason_tag_has_data(uint8_t tag) {
  return tag == SNOW_REASON_ERROR || tag == SNOW_REASON_CUSTOM || tag == SNOW_REASON_TERM;
}

int64_t reason_validate(const uint8_t* p, uint64_t len) {
  if (!p || len == 0) return -1;
  uint8_t tag = p[0];
  if (tag > SNOW_REASON_TERM || tag == SNOW_REASON_RESERVED) return -1;
  if (!reason_tag_has_data(tag)) return len == 1 ? 1 : -1;
  if (len < 9) return -1;
  uint64_t n = get_u64(p + 1);
  if (n != len - 9) return -1;
  return int64_t(len);
}

uint64_t reason_size(uint8_t tag, uint64_t text_len) { return reason_tag_has_data(tag) ? 9 + text_len : 1; }

void reason_write(uint8_t* out, uint8_t tag, std::string_view text) {
  out[0] = tag;
  if (!reason_tag_has_data(tag)) return;
  put_u64(out + 1, text.size());
  if (!text.empty()) std::memcpy(out + 9, text.data(), text.size());
}

void reason_describe(const uint8_t* r, char* buf, std::size_t cap) {
  static const char* names[] = {"normal", "error",        "killed", "reserved", "shutdown",
                                "custom", "noconnection", "noproc", "term"};
  uint8_t tag = r[0] <= SNOW_REASON_TERM ? r[0] : uint8_t(SNOW_REASON_RESERVED);
  if (!reason_tag_has_data(tag)) {
    snprintf(buf, cap, "%s", names[tag]);
    return;
  }
  uint64_t n = get_u64(r + 1);
  if (tag == SNOW_REASON_TERM) {
    snprintf(buf, cap, "term (%llu bytes of external term format)", static_cast<unsigned long long>(n));
    return;
  }
  int shown = n > 400 ? 400 : int(n);
  snprintf(buf, cap, "%s: %.*s", names[tag], shown, reinterpret_cast<const char*>(r + 9));
}

}  // namespace snow::rt
