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

namespace {

// The control tuple at r and what follows it, read in one pass (each
// element is checked as it is reached; the tuple ends after the last).
bool read_control_tuple(etf::Reader& r, Control* out) {
  etf::Elements items(etf::View{r.pos(), r.left()});
  if (!items.ok() || items.is_list()) return false;
  *out = Control{};
  out->arity = items.count();
  etf::View v;
  for (uint32_t i = 0; i < out->arity; ++i) {
    if (!items.next(&v)) return false;
    if (i < Control::kKeptItems) out->item[i] = v;
  }
  if (out->arity == 0 || !etf::read_int(out->item[0], &out->op)) return false;
  out->rest = items.pos();
  out->rest_size = r.left() - size_t(items.pos() - r.pos());
  return true;
}

}  // namespace

bool read_control(const uint8_t* m, size_t n, Control* out) {
  etf::Reader r(m, n);
  if (r.u8() != kPassThrough || r.u8() != etf::kVersion) return false;
  return read_control_tuple(r, out);
}

bool read_header_form(uint8_t* body, size_t n, Control* out, size_t* out_n) {
  if (n < 4 || body[0] != etf::kVersion || body[1] != kDistHeader || body[2] != 0) return false;
  etf::Reader r(body + 3, n - 3);
  if (!read_control_tuple(r, out)) return false;
  // [131][68][0][control][payload] -> [112][131][control][131][payload]
  // (the same length; without payload, one byte shorter): the control term
  // moves one byte down, and so do the views into it.
  size_t k = size_t(out->rest - (body + 3));
  std::memmove(body + 2, body + 3, k);
  body[0] = kPassThrough;
  body[1] = etf::kVersion;
  for (etf::View& v : out->item)
    if (v.data) --v.data;
  if (out->rest_size > 0) {
    body[2 + k] = etf::kVersion;
    out->rest = body + 2 + k;
    ++out->rest_size;
    *out_n = n;
  } else {
    out->rest = body + 2 + k;
    *out_n = n - 1;
  }
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
