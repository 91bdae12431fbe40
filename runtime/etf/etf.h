// The Erlang external term format (ETF): bounded decoding and encoding.
//
// Vocabulary:
// - A *term* is one encoded Erlang value; on the wire it may be preceded by
//   the version byte 131. Reader functions take terms without that byte.
// - Term (the struct) is a decoded tree for the small terms the
//   distribution needs to inspect (control messages, exit reasons, pids,
//   references). Message payloads are never decoded into trees: they are
//   validated with skip_term() and passed on as bytes.
//
// Safety: pure functions over byte spans, no I/O. Every length is checked
// against the bytes that remain before anything is allocated or read, so a
// hostile peer can make decoding fail but never crash, loop, or allocate
// more than a small multiple of the input size. skip_term()/validate() take
// any nesting depth without recursion (payloads are checked with them);
// decode() recurses and refuses trees nested deeper than kMaxDepth (only
// control messages and exit reasons are decoded into trees).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace snow::rt::etf {

enum Tag : uint8_t {
  kVersion = 131,
  kNewFloat = 70,
  kBitBinary = 77,
  kAtomCacheRef = 82,
  kNewPid = 88,
  kNewPort = 89,
  kNewerReference = 90,
  kV4Port = 120,
  kSmallInteger = 97,
  kInteger = 98,
  kFloat = 99,
  kAtom = 100,
  kReference = 101,
  kPort = 102,
  kPid = 103,
  kSmallTuple = 104,
  kLargeTuple = 105,
  kNil = 106,
  kString = 107,
  kList = 108,
  kBinary = 109,
  kSmallBig = 110,
  kLargeBig = 111,
  kNewFun = 112,
  kExport = 113,
  kNewReference = 114,
  kSmallAtom = 115,
  kMap = 116,
  kFun = 117,
  kAtomUtf8 = 118,
  kSmallAtomUtf8 = 119,
};

// Nesting limit of decode() (not of skip_term/validate).
constexpr int kMaxDepth = 256;

struct Pid {
  std::string node;
  uint32_t id = 0, serial = 0, creation = 0;
  bool operator==(const Pid&) const = default;
};

struct Ref {
  std::string node;
  uint32_t creation = 0;
  std::vector<uint32_t> ids;  // 1 to 5 words
  bool operator==(const Ref&) const = default;
};

enum class Type : uint8_t { Int, BigInt, Atom, Pid, Ref, Tuple, List, Nil, Binary, String, Map, Float, Other };

struct Term {
  Type type = Type::Other;
  int64_t i = 0;            // Int; BigInt: value when it fits in int64 (fits == true)
  bool fits = true;
  std::string s;            // Atom name, Binary/String bytes
  Pid pid;
  Ref ref;
  std::vector<Term> items;  // Tuple/List elements (an improper list keeps its tail last); Map: k, v, ...
  bool proper = true;       // List: ends in []

  bool is_atom(std::string_view name) const { return type == Type::Atom && s == name; }
  bool is_int() const { return type == Type::Int || (type == Type::BigInt && fits); }
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  size_t left() const { return size_t(end_ - p_); }
  bool ok() const { return ok_; }
  const uint8_t* pos() const { return p_; }
  bool need(size_t n) {
    if (!ok_ || left() < n) ok_ = false;
    return ok_;
  }
  uint8_t u8() {
    if (!need(1)) return 0;
    return *p_++;
  }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = uint16_t(p_[0] << 8 | p_[1]);
    p_ += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = uint32_t(p_[0]) << 24 | uint32_t(p_[1]) << 16 | uint32_t(p_[2]) << 8 | p_[3];
    p_ += 4;
    return v;
  }
  uint64_t u64() {
    uint64_t hi = u32();
    return hi << 32 | u32();
  }
  const uint8_t* bytes(size_t n) {
    if (!need(n)) return nullptr;
    const uint8_t* b = p_;
    p_ += n;
    return b;
  }
  void fail() { ok_ = false; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// Reads one atom (any of the four atom encodings) into out.
bool read_atom(Reader& r, std::string& out);
// Validates one term (no version byte) and advances past it.
bool skip_term(Reader& r);
// Validates a whole buffer: optional 131, exactly one term, nothing after.
bool validate(const uint8_t* p, size_t n);
// Same, and decode() takes it (nesting within kMaxDepth): for terms that
// travel inside control messages, such as exit reasons.
bool validate_tree(const uint8_t* p, size_t n);
// Decodes one term (no version byte) into out.
bool decode(Reader& r, Term& out, int depth = 0);

class Writer {
 public:
  std::vector<uint8_t> buf;

  void u8(uint8_t v) { buf.push_back(v); }
  void u16(uint16_t v) {
    u8(uint8_t(v >> 8));
    u8(uint8_t(v));
  }
  void u32(uint32_t v) {
    u8(uint8_t(v >> 24));
    u8(uint8_t(v >> 16));
    u8(uint8_t(v >> 8));
    u8(uint8_t(v));
  }
  void raw(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    buf.insert(buf.end(), b, b + n);
  }
  void version() { u8(kVersion); }
  void atom(std::string_view name);
  void integer(int64_t v);
  void unsigned_integer(uint64_t v);
  void tuple(uint32_t arity);
  void nil() { u8(kNil); }
  void list(uint32_t n) {
    u8(kList);
    u32(n);
  }
  void binary(const void* p, size_t n);
  void pid(const Pid& p);
  void ref(const Ref& r);
  void term(const Term& t);  // re-encodes a decoded term
};

// Reads an integer term that fits in uint64 (Int >= 0 or BigInt); false
// otherwise.
bool as_u64(const Term& t, uint64_t* out);

}  // namespace snow::rt::etf
