#include "runtime/dist/wire.h"

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/proc/reason.h"

namespace snow::rt::wire {

namespace {
const char* const kAtomReasons[] = {"normal", nullptr, "killed", nullptr, "shutdown", nullptr, "noconnection",
                                    "noproc"};
}

void reason_to_term(etf::Writer& w, const uint8_t* r, uint64_t len, bool as_kill) {
  uint8_t tag = len ? r[0] : uint8_t(SNOW_REASON_NORMAL);
  if (as_kill && tag == SNOW_REASON_KILLED) {
    w.atom("kill");
    return;
  }
  if (tag <= SNOW_REASON_NOPROC && kAtomReasons[tag]) {
    w.atom(kAtomReasons[tag]);
    return;
  }
  uint64_t n = len >= 9 ? get_u64(r + 1) : 0;
  const uint8_t* text = r + 9;
  if (tag == SNOW_REASON_ERROR) {
    w.tuple(2);
    w.atom("error");
    w.binary(text, size_t(n));
  } else if (tag == SNOW_REASON_CUSTOM) {
    std::string_view text_sv(reinterpret_cast<const char*>(text), size_t(n));
    bool reserved = text_sv == "kill";
    for (const char* a : kAtomReasons)
      if (a && text_sv == a) reserved = true;
    // A custom text that reads like a reason atom would change meaning on
    // the other side (custom "normal" must still kill a linked process).
    if (n > 0 && n <= 255 && !reserved) {
      w.atom(std::string_view(reinterpret_cast<const char*>(text), size_t(n)));
    } else {
      w.tuple(2);
      w.atom("custom");
      w.binary(text, size_t(n));
    }
  } else if (tag == SNOW_REASON_TERM && n > 0) {
    // Stored with its version byte; the wire form has none here.
    const uint8_t* t = text;
    size_t tn = size_t(n);
    if (t[0] == etf::kVersion) {
      ++t;
      --tn;
    }
    w.raw(t, tn);
  } else {
    w.atom("normal");
  }
}

std::vector<uint8_t> term_to_reason(const uint8_t* term, size_t len, bool* is_kill) {
  *is_kill = false;
  etf::Reader r(term, len);
  etf::Term t;
  bool ok = etf::decode(r, t);
  auto simple = [](uint8_t tag) { return std::vector<uint8_t>{tag}; };
  auto with_text = [](uint8_t tag, const std::string& s) {
    std::vector<uint8_t> out(reason_size(tag, s.size()));
    reason_write(out.data(), tag, s);
    return out;
  };
  if (ok && t.type == etf::Type::Atom) {
    if (t.s == "kill") {
      *is_kill = true;
      return simple(SNOW_REASON_KILLED);
    }
    for (uint8_t tag = 0; tag <= SNOW_REASON_NOPROC; ++tag)
      if (kAtomReasons[tag] && t.s == kAtomReasons[tag]) return simple(tag);
    return with_text(SNOW_REASON_CUSTOM, t.s);
  }
  if (ok && t.type == etf::Type::Tuple && t.items.size() == 2 && t.items[1].type == etf::Type::Binary) {
    if (t.items[0].is_atom("error")) return with_text(SNOW_REASON_ERROR, t.items[1].s);
    if (t.items[0].is_atom("custom")) return with_text(SNOW_REASON_CUSTOM, t.items[1].s);
  }
  std::string bytes;
  bytes.reserve(len + 1);
  bytes.push_back(char(etf::kVersion));
  bytes.append(reinterpret_cast<const char*>(term), len);
  return with_text(SNOW_REASON_TERM, bytes);
}

}  // namespace snow::rt::wire
