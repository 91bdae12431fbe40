// The Erlang external term format (ETF): reading terms in place, writing
// the few shapes the distribution sends.
//
// Vocabulary:
// - A *term* is one encoded Erlang value; on the wire it may be preceded by
//   the version byte 131. Everything below takes terms without that byte
//   unless it says otherwise.
// - A *View* is the span of one well-formed term inside a buffer the caller
//   keeps alive (a frame, a message). Only next_term(), view_of() and
//   Elements make views, and each checks the whole term first, so a view is
//   never malformed and reading it cannot fail half-way. (Readers still
//   check every length, so even a hand-made view cannot make them read
//   outside it.)
// - *Typed readers* (read_atom, read_pid, read_ref, read_int, read_u64,
//   read_binary) turn one view into the C++ value the runtime needs, or say
//   it is not that kind of term. Tuples and lists are read element by
//   element with Elements. Nothing builds a tree of the term.
//
// Cost (what a hostile peer can make us spend): skip_term, validate,
// next_term and view_of take time linear in the bytes and O(1) memory at
// any nesting depth (an explicit count of pending terms, no recursion; every
// element takes at least one byte, so counts are checked against the bytes
// left before they are believed). Elements keeps O(1) state and visiting
// every element is linear in the view (each element is checked as it is
// reached, so opening every level of a term nested d deep costs size x d:
// the runtime opens a fixed number of levels). A typed reader costs O(what it
// returns): an atom is at most 1020 bytes, a pid or reference is small, a
// binary is returned as a string_view into the buffer. read_leading_pid
// reads a pid at the start of a term and nothing after it. So reading a
// control message costs O(1) memory beyond its bytes, whatever it holds.
//
// Atoms: the UTF-8 forms (tags 118, 119) must hold well-formed UTF-8 of at
// most 255 code points; the Latin-1 forms (tags 100, 115) take any 255
// bytes. OTP 25 writes UTF-8 atoms on the distribution, but its
// term_to_binary writes every atom that fits Latin-1 (node names of pids
// included) in the Latin-1 forms, so terms built with it carry them, and
// any peer may send them. read_atom always returns UTF-8 (Latin-1 bytes are
// converted), so an atom has one spelling whichever form carried it.
// Writer::atom writes the UTF-8 forms, and its callers must pass text for
// which atom_text_ok() holds (our constants do; text from users or peers is
// checked where it enters): a peer that receives a malformed atom drops the
// whole connection.
//
// Echoes: a term we only hand back to a peer (its monitor reference, a
// spawn request id, the {Pid, Tag} of a call) is copied with
// Writer::verbatim, byte for byte as the peer sent it, never re-encoded.
//
// Threads: pure functions over byte spans, no I/O, no shared state.
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

// Longest atom text in bytes: 255 code points of at most 4 bytes.
constexpr size_t kMaxAtomBytes = 255 * 4;
// Most words a reference holds (NEWER_REFERENCE_EXT allows 5).
constexpr size_t kMaxRefWords = 5;

struct Pid {
  std::string node;  // UTF-8
  uint32_t id = 0, serial = 0, creation = 0;
  bool operator==(const Pid&) const = default;
};

struct Ref {
  std::string node;  // UTF-8
  uint32_t creation = 0;
  std::vector<uint32_t> ids;  // 0 to kMaxRefWords words
  bool operator==(const Ref&) const = default;
};

// One well-formed term (no version byte) inside a buffer someone else owns.
struct View {
  const uint8_t* data = nullptr;
  size_t size = 0;

  uint8_t tag() const { return size ? data[0] : 0; }
  bool is_pid() const { return tag() == kNewPid || tag() == kPid; }
  bool is_ref() const { return tag() == kNewerReference || tag() == kNewReference || tag() == kReference; }
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Big-endian cursor over a byte span. Any read past the end clears ok()
// and returns zeros; callers check ok() once after a group of reads.
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

// Checks one term (no version byte) and advances past it.
bool skip_term(Reader& r);
// skip_term, and the span it passed as a view.
bool next_term(Reader& r, View* out);
// A whole buffer: an optional version byte, exactly one term, nothing after.
bool validate(const uint8_t* p, size_t n);
// Same, and the term as a view (without the version byte).
bool view_of(const uint8_t* p, size_t n, View* out);

// Whether Writer::atom may write `utf8`: well-formed UTF-8 of at most 255
// code points.
bool atom_text_ok(std::string_view utf8);

// Typed readers: true and the value when `v` is that kind of term, false
// (out unspecified) otherwise.
bool read_atom(View v, std::string* utf8);
// Whether `v` is the atom `utf8`, in any of the four atom forms. No allocation.
bool atom_is(View v, std::string_view utf8);
bool read_pid(View v, Pid* out);
// Whether `v` is a pid of node `utf8` (any atom form); then its numbers in
// *out (out->node is left alone). No allocation: for the pids of every
// control message, which are checked against a known node name.
bool read_pid_of(View v, std::string_view utf8, Pid* out);
bool read_ref(View v, Ref* out);
// An integer that fits int64 (small, 32-bit or big).
bool read_int(View v, int64_t* out);
// A non-negative integer that fits uint64.
bool read_u64(View v, uint64_t* out);
// A BINARY_EXT's bytes (not bit strings), pointing into the view.
bool read_binary(View v, std::string_view* out);

// The pid a term starts with: the term itself when it is a pid, or the
// first element of a tuple (optional version byte first). Reads that pid
// and nothing after it: the rest may be anything, even truncated.
bool read_leading_pid(const uint8_t* p, size_t n, Pid* out);

// The elements of a tuple or a list, in order. A list's tail (its last,
// non-element term) is not an element: tail() gives it once every element
// was read ([] for a proper list). [] opens as an empty list; STRING_EXT
// does not open (its elements are bytes, not terms: nothing the runtime
// reads as a list ever is one), nor does a map.
class Elements {
 public:
  explicit Elements(View v);
  bool ok() const { return ok_; }  // v is a tuple or a list
  bool is_list() const { return list_; }
  uint32_t count() const { return count_; }
  // The next element; false after the last one.
  bool next(View* out);
  // A list's tail, valid after next() returned false; [] for a proper list.
  View tail() const { return tail_; }
  // Where the reading stopped: past the whole term once every element (and
  // a list's tail) was read.
  const uint8_t* pos() const { return r_.pos(); }

 private:
  Reader r_;
  uint32_t count_ = 0;
  uint32_t left_ = 0;
  bool ok_ = false;
  bool list_ = false;
  View tail_;
};

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
  // Requires atom_text_ok(name).
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
  // Node names must satisfy atom_text_ok.
  void pid(const Pid& p) { pid(p.node, p.id, p.serial, p.creation); }
  void pid(std::string_view node, uint32_t id, uint32_t serial, uint32_t creation);
  void ref(const Ref& r);
  // A term exactly as it was read (an echo to the peer that sent it).
  void verbatim(View v) { raw(v.data, v.size); }
};

}  // namespace snow::rt::etf
