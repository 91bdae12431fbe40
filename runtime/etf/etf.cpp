#include "runtime/etf/etf.h"

#include "runtime/common/common.h"

namespace snow::rt::etf {

namespace {

bool is_atom_tag(uint8_t tag) { return tag == kAtomUtf8 || tag == kSmallAtomUtf8 || tag == kAtom || tag == kSmallAtom; }
bool is_latin1_atom_tag(uint8_t tag) { return tag == kAtom || tag == kSmallAtom; }

// Whether every byte is below 0x80.
bool ascii(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) return false;
  }
  for (; i < n; ++i)
    if (p[i] & 0x80) return false;
  return true;
}

// An atom's text after its tag, checked as Erlang checks it: the UTF-8 forms
// hold well-formed UTF-8 of at most 255 characters, the Latin-1 forms at
// most 255 bytes (any byte is a Latin-1 character). A peer that gets
// anything else drops the connection, so neither may pass through us.
bool atom_body(Reader& r, uint8_t tag, const uint8_t** text, size_t* n) {
  *n = (tag == kAtomUtf8 || tag == kAtom) ? r.u16() : r.u8();
  if (!r.ok()) return false;
  if (is_latin1_atom_tag(tag)) {
    if (*n > 255) return false;
  } else if (*n > kMaxAtomBytes) {
    return false;
  }
  *text = r.bytes(*n);
  if (!r.ok()) return false;
  if (is_latin1_atom_tag(tag)) return true;
  if (ascii(*text, *n)) return *n <= 255;  // the common case (node names), eight bytes at a time
  int64_t chars = utf8_count(*text, *n);
  return chars >= 0 && chars <= 255;
}

bool skip_atom(Reader& r) {
  uint8_t tag = r.u8();
  const uint8_t* text;
  size_t n;
  return r.ok() && is_atom_tag(tag) && atom_body(r, tag, &text, &n);
}

// Appends the UTF-8 encoding of Latin-1 byte c (U+0000..U+00FF).
void latin1_to_utf8(uint8_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(char(c));
  } else {
    out->push_back(char(0xC0 | c >> 6));
    out->push_back(char(0x80 | (c & 0x3F)));
  }
}

bool atom_at(Reader& r, std::string* utf8) {
  uint8_t tag = r.u8();
  const uint8_t* text;
  size_t n;
  if (!r.ok() || !is_atom_tag(tag) || !atom_body(r, tag, &text, &n)) return false;
  utf8->clear();
  if (is_latin1_atom_tag(tag)) {
    utf8->reserve(n * 2);
    for (size_t i = 0; i < n; ++i) latin1_to_utf8(text[i], utf8);
  } else {
    utf8->assign(reinterpret_cast<const char*>(text), n);
  }
  return true;
}

bool pid_at(Reader& r, Pid* out) {
  uint8_t tag = r.u8();
  if (!r.ok() || (tag != kPid && tag != kNewPid) || !atom_at(r, &out->node)) return false;
  out->id = r.u32();
  out->serial = r.u32();
  out->creation = tag == kPid ? r.u8() : r.u32();
  return r.ok();
}

// The value of a SMALL_BIG/LARGE_BIG (tag already read) when its magnitude
// fits in 64 bits.
bool big_at(Reader& r, uint8_t tag, uint64_t* magnitude, bool* negative) {
  uint32_t n = tag == kSmallBig ? r.u8() : r.u32();
  *negative = r.u8() != 0;
  const uint8_t* digits = r.bytes(n);  // little-endian, base 256
  if (!r.ok()) return false;
  uint64_t v = 0;
  for (uint32_t k = n; k-- > 0;) {
    if (k >= 8) {
      if (digits[k] != 0) return false;
      continue;
    }
    v = v << 8 | digits[k];
  }
  *magnitude = v;
  return true;
}

// An integer term as magnitude and sign, when the magnitude fits in 64 bits.
bool integer_at(View v, uint64_t* magnitude, bool* negative) {
  Reader r(v.data, v.size);
  uint8_t tag = r.u8();
  switch (tag) {
    case kSmallInteger:
      *magnitude = r.u8();
      *negative = false;
      return r.ok();
    case kInteger: {
      int32_t i = int32_t(r.u32());
      *negative = i < 0;
      *magnitude = i < 0 ? 0 - uint64_t(int64_t(i)) : uint64_t(i);
      return r.ok();
    }
    case kSmallBig:
    case kLargeBig:
      return big_at(r, tag, magnitude, negative);
    default:
      return false;
  }
}

}  // namespace

// Iterative: `pending` counts the terms still to read, and a compound term
// adds its elements to it. Nesting costs no stack, so a term nested as
// deeply as its bytes allow (Erlang accepts any depth) validates on a small
// process stack; every element takes at least one byte, and element counts
// are checked against the bytes left, so the loop is bounded by the input.
bool skip_term(Reader& r) {
  uint64_t pending = 1;
  while (pending > 0) {
    --pending;
    uint8_t tag = r.u8();
    if (!r.ok()) return false;
    switch (tag) {
      case kSmallInteger:
        r.bytes(1);
        break;
      case kInteger:
        r.bytes(4);
        break;
      case kFloat:
        r.bytes(31);
        break;
      case kNewFloat:
        r.bytes(8);
        break;
      case kAtom:
      case kAtomUtf8:
      case kSmallAtom:
      case kSmallAtomUtf8: {
        const uint8_t* text;
        size_t n;
        if (!atom_body(r, tag, &text, &n)) return false;
        break;
      }
      case kPid:
      case kNewPid:
        if (!skip_atom(r)) return false;
        r.bytes(tag == kPid ? 9 : 12);
        break;
      case kPort:
      case kNewPort:
      case kV4Port:
        if (!skip_atom(r)) return false;
        r.bytes(tag == kPort ? 5 : tag == kNewPort ? 8 : 12);
        break;
      case kReference:
        if (!skip_atom(r)) return false;
        r.bytes(5);
        break;
      case kNewReference:
      case kNewerReference: {
        uint16_t n = r.u16();
        if (!r.ok() || n > kMaxRefWords || !skip_atom(r)) return false;
        r.bytes((tag == kNewReference ? 1 : 4) + size_t(n) * 4);
        break;
      }
      case kSmallTuple:
      case kLargeTuple: {
        uint32_t n = tag == kSmallTuple ? r.u8() : r.u32();
        if (!r.ok() || n > r.left()) return false;
        pending += n;
        break;
      }
      case kMap: {
        uint32_t n = r.u32();
        if (!r.ok() || n > r.left() / 2) return false;
        pending += uint64_t(n) * 2;
        break;
      }
      case kNil:
        break;
      case kString: {
        uint16_t n = r.u16();
        r.bytes(n);
        break;
      }
      case kList: {
        uint32_t n = r.u32();
        if (!r.ok() || n > r.left()) return false;
        pending += uint64_t(n) + 1;  // the elements, then the tail
        break;
      }
      case kBinary: {
        uint32_t n = r.u32();
        r.bytes(n);
        break;
      }
      case kBitBinary: {
        uint32_t n = r.u32();
        r.bytes(1);
        r.bytes(n);
        break;
      }
      case kSmallBig:
      case kLargeBig: {
        uint32_t n = tag == kSmallBig ? r.u8() : r.u32();
        r.bytes(1);
        r.bytes(n);
        break;
      }
      case kExport:
        pending += 3;
        break;
      case kNewFun: {
        uint32_t size = r.u32();
        // Size counts itself; the body must be inside the buffer.
        if (!r.ok() || size < 4 || size - 4 > r.left()) return false;
        r.bytes(size - 4);
        break;
      }
      default:
        return false;
    }
    if (!r.ok() || pending > r.left()) return false;
  }
  return true;
}

bool next_term(Reader& r, View* out) {
  const uint8_t* start = r.pos();
  if (!skip_term(r)) return false;
  *out = View{start, size_t(r.pos() - start)};
  return true;
}

bool view_of(const uint8_t* p, size_t n, View* out) {
  if (!p || n == 0) return false;
  Reader r(p, n);
  if (p[0] == kVersion) r.u8();
  return next_term(r, out) && r.left() == 0;
}

bool validate(const uint8_t* p, size_t n) {
  View v;
  return view_of(p, n, &v);
}

bool atom_text_ok(std::string_view utf8) {
  int64_t chars = utf8_count(reinterpret_cast<const uint8_t*>(utf8.data()), utf8.size());
  return chars >= 0 && chars <= 255;
}

bool read_atom(View v, std::string* utf8) {
  Reader r(v.data, v.size);
  return atom_at(r, utf8) && r.left() == 0;
}

namespace {

// Whether an atom's text (after its tag) reads as `utf8` once converted,
// without building it.
bool atom_text_is(uint8_t tag, const uint8_t* text, size_t n, std::string_view utf8) {
  if (!is_latin1_atom_tag(tag)) return std::string_view(reinterpret_cast<const char*>(text), n) == utf8;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = text[i];
    if (c < 0x80) {
      if (at >= utf8.size() || uint8_t(utf8[at]) != c) return false;
      ++at;
    } else {
      if (at + 1 >= utf8.size() || uint8_t(utf8[at]) != (0xC0 | c >> 6) || uint8_t(utf8[at + 1]) != (0x80 | (c & 0x3F)))
        return false;
      at += 2;
    }
  }
  return at == utf8.size();
}

}  // namespace

bool atom_is(View v, std::string_view utf8) {
  Reader r(v.data, v.size);
  uint8_t tag = r.u8();
  const uint8_t* text;
  size_t n;
  if (!r.ok() || !is_atom_tag(tag) || !atom_body(r, tag, &text, &n) || r.left() != 0) return false;
  return atom_text_is(tag, text, n, utf8);
}

bool read_pid(View v, Pid* out) {
  Reader r(v.data, v.size);
  return pid_at(r, out) && r.left() == 0;
}

bool read_pid_of(View v, std::string_view utf8, Pid* out) {
  Reader r(v.data, v.size);
  uint8_t tag = r.u8();
  if (!r.ok() || (tag != kPid && tag != kNewPid)) return false;
  uint8_t atag = r.u8();
  const uint8_t* text;
  size_t n;
  // Compared, not converted: a text equal to a valid name is valid.
  if (!r.ok() || !is_atom_tag(atag)) return false;
  n = (atag == kAtomUtf8 || atag == kAtom) ? r.u16() : r.u8();
  text = r.bytes(n);
  if (!r.ok() || !atom_text_is(atag, text, n, utf8)) return false;
  out->id = r.u32();
  out->serial = r.u32();
  out->creation = tag == kPid ? r.u8() : r.u32();
  return r.ok() && r.left() == 0;
}

bool read_ref(View v, Ref* out) {
  Reader r(v.data, v.size);
  uint8_t tag = r.u8();
  if (!r.ok()) return false;
  out->ids.clear();
  if (tag == kReference) {
    if (!atom_at(r, &out->node)) return false;
    out->ids.push_back(r.u32());
    out->creation = r.u8();
    return r.ok() && r.left() == 0;
  }
  if (tag != kNewReference && tag != kNewerReference) return false;
  uint16_t n = r.u16();
  if (!r.ok() || n > kMaxRefWords || !atom_at(r, &out->node)) return false;
  out->creation = tag == kNewReference ? r.u8() : r.u32();
  for (uint16_t k = 0; k < n; ++k) out->ids.push_back(r.u32());
  return r.ok() && r.left() == 0;
}

bool read_int(View v, int64_t* out) {
  uint64_t magnitude;
  bool negative;
  if (!integer_at(v, &magnitude, &negative)) return false;
  if (negative) {
    if (magnitude > uint64_t(INT64_MAX) + 1) return false;
    *out = int64_t(0 - magnitude);
  } else {
    if (magnitude > uint64_t(INT64_MAX)) return false;
    *out = int64_t(magnitude);
  }
  return true;
}

bool read_u64(View v, uint64_t* out) {
  uint64_t magnitude;
  bool negative;
  if (!integer_at(v, &magnitude, &negative) || (negative && magnitude != 0)) return false;
  *out = magnitude;
  return true;
}

bool read_binary(View v, std::string_view* out) {
  Reader r(v.data, v.size);
  if (r.u8() != kBinary) return false;
  uint32_t n = r.u32();
  const uint8_t* b = r.bytes(n);
  if (!r.ok() || r.left() != 0) return false;
  *out = std::string_view(reinterpret_cast<const char*>(b), n);
  return true;
}

bool read_leading_pid(const uint8_t* p, size_t n, Pid* out) {
  if (!p || n == 0) return false;
  Reader r(p, n);
  if (p[0] == kVersion) r.u8();
  if (r.left() > 0 && (r.pos()[0] == kSmallTuple || r.pos()[0] == kLargeTuple)) {
    uint32_t arity = r.u8() == kSmallTuple ? r.u8() : r.u32();
    if (!r.ok() || arity == 0) return false;
  }
  return pid_at(r, out);
}

Elements::Elements(View v) : r_(v.data, v.size) {
  uint8_t tag = r_.u8();
  switch (tag) {
    case kSmallTuple:
      count_ = r_.u8();
      break;
    case kLargeTuple:
      count_ = r_.u32();
      break;
    case kList:
      count_ = r_.u32();
      list_ = true;
      break;
    case kNil:
      list_ = true;
      tail_ = v;
      break;
    default:
      return;
  }
  ok_ = r_.ok();
  left_ = ok_ ? count_ : 0;
}

bool Elements::next(View* out) {
  if (!ok_) return false;
  if (left_ == 0) {
    if (list_ && !tail_.data && !next_term(r_, &tail_)) ok_ = false;
    return false;
  }
  --left_;
  if (!next_term(r_, out)) {
    ok_ = false;
    return false;
  }
  return true;
}

void Writer::atom(std::string_view name) {
  if (name.size() < 256) {
    u8(kSmallAtomUtf8);
    u8(uint8_t(name.size()));
  } else {
    u8(kAtomUtf8);
    u16(uint16_t(name.size()));
  }
  raw(name.data(), name.size());
}

void Writer::integer(int64_t v) {
  if (v >= 0 && v <= 255) {
    u8(kSmallInteger);
    u8(uint8_t(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    u8(kInteger);
    u32(uint32_t(int32_t(v)));
  } else {
    uint64_t mag = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
    u8(kSmallBig);
    u8(8);
    u8(v < 0 ? 1 : 0);
    for (int k = 0; k < 8; ++k) u8(uint8_t(mag >> (8 * k)));
  }
}

void Writer::unsigned_integer(uint64_t v) {
  if (v <= uint64_t(INT32_MAX)) {
    integer(int64_t(v));
    return;
  }
  u8(kSmallBig);
  u8(8);
  u8(0);
  for (int k = 0; k < 8; ++k) u8(uint8_t(v >> (8 * k)));
}

void Writer::tuple(uint32_t arity) {
  if (arity < 256) {
    u8(kSmallTuple);
    u8(uint8_t(arity));
  } else {
    u8(kLargeTuple);
    u32(arity);
  }
}

void Writer::binary(const void* p, size_t n) {
  u8(kBinary);
  u32(uint32_t(n));
  raw(p, n);
}

void Writer::pid(std::string_view node, uint32_t id, uint32_t serial, uint32_t creation) {
  // Sized once and written in place: every control message has one or two.
  bool small = node.size() < 256;
  size_t at = buf.size();
  buf.resize(at + 1 + (small ? 2 : 3) + node.size() + 12);
  uint8_t* p = buf.data() + at;
  *p++ = kNewPid;
  if (small) {
    *p++ = kSmallAtomUtf8;
    *p++ = uint8_t(node.size());
  } else {
    *p++ = kAtomUtf8;
    *p++ = uint8_t(node.size() >> 8);
    *p++ = uint8_t(node.size());
  }
  if (!node.empty()) std::memcpy(p, node.data(), node.size());
  p += node.size();
  for (uint32_t v : {id, serial, creation}) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
    p += 4;
  }
}

void Writer::ref(const Ref& r) {
  u8(kNewerReference);
  u16(uint16_t(r.ids.size()));
  atom(r.node);
  u32(r.creation);
  for (uint32_t id : r.ids) u32(id);
}

}  // namespace snow::rt::etf
