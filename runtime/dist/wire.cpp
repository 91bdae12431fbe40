#include "runtime/dist/wire.h"

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/proc/reason.h"

namespace snow::rt::wire {

namespace {
const char* const kAtomReasons[] = {"normal",   nullptr, "killed",       nullptr,
                                    "shutdown", nullptr, "noconnection", "noproc"};

bool utf8_ok(std::string_view s) { return utf8_count(reinterpret_cast<const uint8_t*>(s.data()), s.size()) >= 0; }
}  // namespace

bool read_control(const uint8_t* m, size_t n, Control* out) {
  etf::Reader r(m, n);
  if (r.u8() != kPassThrough || r.u8() != etf::kVersion) return false;
  etf::View ctl;
  if (!etf::next_term(r, &ctl)) return false;
  etf::Elements items(ctl);
  if (!items.ok() || items.is_list()) return false;
  *out = Control{};
  out->arity = items.count();
  etf::View v;
  for (size_t i = 0; i < Control::kKeptItems && items.next(&v); ++i) out->item[i] = v;
  if (out->arity == 0 || !etf::read_int(out->item[0], &out->op)) return false;
  out->rest = r.pos();
  out->rest_size = r.left();
  return true;
}

bool read_payload(const Control& c, etf::View* out) {
  return c.rest_size > 0 && c.rest[0] == etf::kVersion && etf::view_of(c.rest, c.rest_size, out);
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
    // the other side (custom "normal" must still kill a linked process);
    // one that is no atom Erlang accepts would cost the connection.
    if (n > 0 && !reserved && etf::atom_text_ok(text_sv)) {
      w.atom(text_sv);
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

std::vector<uint8_t> term_to_reason(etf::View term, bool* is_kill) {
  *is_kill = false;
  auto simple = [](uint8_t tag) { return std::vector<uint8_t>{tag}; };
  auto with_text = [](uint8_t tag, std::string_view s) {
    std::vector<uint8_t> out(reason_size(tag, s.size()));
    reason_write(out.data(), tag, s);
    return out;
  };
  std::string atom;
  if (etf::read_atom(term, &atom)) {
    if (atom == "kill") {
      *is_kill = true;
      return simple(SNOW_REASON_KILLED);
    }
    for (uint8_t tag = 0; tag <= SNOW_REASON_NOPROC; ++tag)
      if (kAtomReasons[tag] && atom == kAtomReasons[tag]) return simple(tag);
    return with_text(SNOW_REASON_CUSTOM, atom);
  }
  etf::Elements items(term);
  etf::View kind, data;
  std::string_view text;
  if (items.ok() && !items.is_list() && items.count() == 2 && items.next(&kind) && items.next(&data) &&
      etf::read_binary(data, &text) && utf8_ok(text)) {
    if (etf::atom_is(kind, "error")) return with_text(SNOW_REASON_ERROR, text);
    if (etf::atom_is(kind, "custom")) return with_text(SNOW_REASON_CUSTOM, text);
  }
  std::vector<uint8_t> out(reason_size(SNOW_REASON_TERM, term.size + 1));
  out[0] = SNOW_REASON_TERM;
  put_u64(out.data() + 1, term.size + 1);
  out[9] = etf::kVersion;
  if (term.size) std::memcpy(out.data() + 10, term.data, term.size);
  return out;
}

}  // namespace snow::rt::wire
