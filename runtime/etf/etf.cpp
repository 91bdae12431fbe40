#include "runtime/etf/etf.h"

#include "runtime/common/common.h"

namespace snow::rt::etf {

namespace {

// An atom's text as Erlang accepts it: the UTF-8 forms hold well-formed
// UTF-8 of at most 255 characters, the Latin-1 forms at most 255 bytes
// (any byte is a Latin-1 character). A peer that gets anything else drops
// the connection, so neither may pass through us.
bool atom_text_ok(uint8_t tag, const uint8_t* b, size_t n) {
  if (tag == kAtom || tag == kSmallAtom) return n <= 255;
  int64_t chars = utf8_count(b, n);
  return chars >= 0 && chars <= 255;
}

bool skip_atom_body(Reader& r, uint8_t tag) {
  size_t n = (tag == kAtomUtf8 || tag == kAtom) ? r.u16() : r.u8();
  if (!r.ok() || n > 255 * 4) return false;
  const uint8_t* b = r.bytes(n);
  return r.ok() && atom_text_ok(tag, b, n);
}

}  // namespace

bool read_atom(Reader& r, std::string& out) {
  uint8_t tag = r.u8();
  if (tag != kAtomUtf8 && tag != kSmallAtomUtf8 && tag != kAtom && tag != kSmallAtom) return false;
  size_t n = (tag == kAtomUtf8 || tag == kAtom) ? r.u16() : r.u8();
  if (!r.ok() || n > 255 * 4) return false;
  const uint8_t* b = r.bytes(n);
  if (!r.ok() || !atom_text_ok(tag, b, n)) return false;
  out.assign(reinterpret_cast<const char*>(b), n);
  return true;
}

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
      case kSmallAtomUtf8:
        if (!skip_atom_body(r, tag)) return false;
        break;
      case kPid:
      case kNewPid: {
        std::string node;
        if (!read_atom(r, node)) return false;
        r.bytes(tag == kPid ? 9 : 12);
        break;
      }
      case kPort:
      case kNewPort:
      case kV4Port: {
        std::string node;
        if (!read_atom(r, node)) return false;
        r.bytes(tag == kPort ? 5 : tag == kNewPort ? 8 : 12);
        break;
      }
      case kReference: {
        std::string node;
        if (!read_atom(r, node)) return false;
        r.bytes(5);
        break;
      }
      case kNewReference:
      case kNewerReference: {
        uint16_t n = r.u16();
        if (!r.ok() || n > 5) return false;
        std::string node;
        if (!read_atom(r, node)) return false;
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

bool validate(const uint8_t* p, size_t n) {
  if (!p || n == 0) return false;
  Reader r(p, n);
  if (p[0] == kVersion) r.u8();
  if (!skip_term(r)) return false;
  return r.left() == 0;
}

bool validate_tree(const uint8_t* p, size_t n) {
  if (!validate(p, n)) return false;
  Reader r(p, n);
  if (p[0] == kVersion) r.u8();
  Term t;
  return decode(r, t) && r.left() == 0;
}

bool decode(Reader& r, Term& t, int depth) {
  if (depth > kMaxDepth) return false;
  const uint8_t* start = r.pos();
  uint8_t tag = r.u8();
  if (!r.ok()) return false;
  switch (tag) {
    case kSmallInteger:
      t.type = Type::Int;
      t.i = r.u8();
      break;
    case kInteger:
      t.type = Type::Int;
      t.i = int32_t(r.u32());
      break;
    case kSmallBig:
    case kLargeBig: {
      uint32_t n = tag == kSmallBig ? r.u8() : r.u32();
      uint8_t sign = r.u8();
      const uint8_t* d = r.bytes(n);
      if (!r.ok()) return false;
      t.type = Type::BigInt;
      uint64_t v = 0;
      t.fits = true;
      for (uint32_t k = n; k-- > 0;) {
        if (k >= 8) {
          if (d[k] != 0) t.fits = false;
          continue;
        }
        v = v << 8 | d[k];
      }
      if (sign) {
        if (v > uint64_t(INT64_MAX) + 1) t.fits = false;
        t.i = int64_t(0 - v);
      } else {
        t.i = int64_t(v);
        if (v > uint64_t(INT64_MAX)) {
          // Kept exactly: as_u64() reads it back.
          t.fits = false;
          t.s.assign(reinterpret_cast<const char*>(&v), 8);
        }
      }
      break;
    }
    case kAtom:
    case kAtomUtf8:
    case kSmallAtom:
    case kSmallAtomUtf8: {
      size_t n = (tag == kAtomUtf8 || tag == kAtom) ? r.u16() : r.u8();
      const uint8_t* b = r.bytes(n);
      if (!r.ok() || n > 255 * 4 || !atom_text_ok(tag, b, n)) return false;
      t.type = Type::Atom;
      t.s.assign(reinterpret_cast<const char*>(b), n);
      break;
    }
    case kPid:
    case kNewPid:
      t.type = Type::Pid;
      if (!read_atom(r, t.pid.node)) return false;
      t.pid.id = r.u32();
      t.pid.serial = r.u32();
      t.pid.creation = tag == kPid ? r.u8() : r.u32();
      break;
    case kNewReference:
    case kNewerReference: {
      uint16_t n = r.u16();
      if (!r.ok() || n == 0 || n > 5) return false;
      t.type = Type::Ref;
      if (!read_atom(r, t.ref.node)) return false;
      t.ref.creation = tag == kNewReference ? r.u8() : r.u32();
      for (uint16_t k = 0; k < n; ++k) t.ref.ids.push_back(r.u32());
      break;
    }
    case kSmallTuple:
    case kLargeTuple:
    case kList:
    case kMap: {
      uint32_t n = tag == kSmallTuple ? r.u8() : r.u32();
      uint64_t count = tag == kMap ? uint64_t(n) * 2 : n;
      if (!r.ok() || count > r.left()) return false;
      t.type = tag == kMap ? Type::Map : tag == kList ? Type::List : Type::Tuple;
      t.items.resize(size_t(count));
      for (uint64_t k = 0; k < count; ++k)
        if (!decode(r, t.items[size_t(k)], depth + 1)) return false;
      if (tag == kList) {
        Term tail;
        if (!decode(r, tail, depth + 1)) return false;
        t.proper = tail.type == Type::Nil;
        if (!t.proper) t.items.push_back(std::move(tail));  // improper: the tail is kept last
      }
      break;
    }
    case kNil:
      t.type = Type::Nil;
      break;
    case kString: {
      uint16_t n = r.u16();
      const uint8_t* b = r.bytes(n);
      if (!r.ok()) return false;
      t.type = Type::String;
      t.s.assign(reinterpret_cast<const char*>(b), n);
      break;
    }
    case kBinary: {
      uint32_t n = r.u32();
      const uint8_t* b = r.bytes(n);
      if (!r.ok()) return false;
      t.type = Type::Binary;
      t.s.assign(reinterpret_cast<const char*>(b), n);
      break;
    }
    case kNewFloat:
      if (!r.bytes(8)) return false;
      t.type = Type::Float;
      t.s.assign(reinterpret_cast<const char*>(start), 9);
      break;
    default: {
      // Anything else is kept opaque but must still be well formed.
      Reader again(start, size_t(r.pos() - start) + r.left());
      if (!skip_term(again)) return false;
      r.bytes(size_t(again.pos() - start) - 1);
      t.type = Type::Other;
      t.s.assign(reinterpret_cast<const char*>(start), size_t(again.pos() - start));
      break;
    }
  }
  return r.ok();
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

void Writer::pid(const Pid& p) {
  u8(kNewPid);
  atom(p.node);
  u32(p.id);
  u32(p.serial);
  u32(p.creation);
}

void Writer::ref(const Ref& r) {
  u8(kNewerReference);
  u16(uint16_t(r.ids.size()));
  atom(r.node);
  u32(r.creation);
  for (uint32_t id : r.ids) u32(id);
}

void Writer::term(const Term& t) {
  switch (t.type) {
    case Type::Int:
      integer(t.i);
      break;
    case Type::BigInt: {
      uint64_t v;
      if (as_u64(t, &v)) unsigned_integer(v);
      else integer(t.i);
      break;
    }
    case Type::Atom:
      atom(t.s);
      break;
    case Type::Pid:
      pid(t.pid);
      break;
    case Type::Ref:
      ref(t.ref);
      break;
    case Type::Tuple:
      tuple(uint32_t(t.items.size()));
      for (const Term& e : t.items) term(e);
      break;
    case Type::List:
      if (t.proper) {
        list(uint32_t(t.items.size()));
        for (const Term& e : t.items) term(e);
        nil();
      } else {
        list(uint32_t(t.items.size() - 1));
        for (const Term& e : t.items) term(e);  // the last one is the tail
      }
      break;
    case Type::Nil:
      nil();
      break;
    case Type::Binary:
      binary(t.s.data(), t.s.size());
      break;
    case Type::String:
      u8(kString);
      u16(uint16_t(t.s.size()));
      raw(t.s.data(), t.s.size());
      break;
    case Type::Map:
      u8(kMap);
      u32(uint32_t(t.items.size() / 2));
      for (const Term& e : t.items) term(e);
      break;
    case Type::Float:
    case Type::Other:
      raw(t.s.data(), t.s.size());
      break;
  }
}

bool as_u64(const Term& t, uint64_t* out) {
  if (t.type == Type::Int) {
    if (t.i < 0) return false;
    *out = uint64_t(t.i);
    return true;
  }
  if (t.type != Type::BigInt) return false;
  if (t.fits) {
    if (t.i < 0) return false;
    *out = uint64_t(t.i);
    return true;
  }
  if (t.s.size() == 8) {
    std::memcpy(out, t.s.data(), 8);
    return true;
  }
  return false;
}

}  // namespace snow::rt::etf
