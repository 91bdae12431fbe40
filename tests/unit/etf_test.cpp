// External term format: reading in place, round trips, bounds, hostile
// input, atoms, and the exit reason mapping of the wire layer.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/wire.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/reason.h"
#include "tests/unit/alloc_meter.h"

using namespace snow::rt;
using Bytes = std::vector<uint8_t>;

namespace {

etf::View view(const Bytes& b) {
  etf::View v;
  REQUIRE(etf::view_of(b.data(), b.size(), &v));
  return v;
}

void be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

// An atom in a given form, text as raw bytes.
Bytes atom(uint8_t tag, const Bytes& text) {
  Bytes b{tag};
  if (tag == etf::kAtomUtf8 || tag == etf::kAtom) b.push_back(uint8_t(text.size() >> 8));
  b.push_back(uint8_t(text.size()));
  b.insert(b.end(), text.begin(), text.end());
  return b;
}

Bytes latin1(const std::string& s) { return atom(etf::kAtom, Bytes(s.begin(), s.end())); }

// A pid as term_to_binary writes one (OTP 25): NEW_PID_EXT, node as ATOM_EXT.
Bytes latin1_pid(const std::string& node, uint32_t id) {
  Bytes b{etf::kNewPid};
  Bytes a = latin1(node);
  b.insert(b.end(), a.begin(), a.end());
  be32(b, id);
  be32(b, 0);
  be32(b, 7);
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

// The decode-amplification input of issue 9: lists nested as deep as the
// bytes allow, each claiming as many elements as bytes remain, padded with
// []. A decoder that reserves a per-element structure for each claim before
// reading the elements needs (elements x levels) of them.
Bytes nested_claims(size_t size) {
  Bytes b;
  while (b.size() + 5 < size / 2) {
    b.push_back(etf::kList);
    be32(b, uint32_t(size - b.size() - 4));
  }
  b.resize(size, etf::kNil);
  return b;
}

// A frame (after its length prefix) carrying a control tuple and payload.
Bytes frame(const Bytes& control, const Bytes& payload) {
  Bytes b{wire::kPassThrough, etf::kVersion};
  b.insert(b.end(), control.begin(), control.end());
  if (!payload.empty()) {
    b.push_back(etf::kVersion);
    b.insert(b.end(), payload.begin(), payload.end());
  }
  return b;
}

Bytes reason_of(uint8_t tag, const std::string& text) {
  Bytes r(reason_size(tag, text.size()));
  reason_write(r.data(), tag, text);
  return r;
}

}  // namespace

TEST_CASE("pids, refs and integers survive write then read", "[etf]") {
  etf::Writer w;
  w.tuple(5);
  w.pid(etf::Pid{"a@127.0.0.1", 7, 9, 1234});
  w.ref(etf::Ref{"b@h", 5, {1, 2, 3}});
  w.integer(-5);
  w.integer(int64_t(1) << 40);
  w.unsigned_integer(UINT64_MAX);
  etf::Elements items(view(w.buf));
  REQUIRE(items.ok());
  REQUIRE(items.count() == 5);
  etf::View v;
  etf::Pid pid;
  REQUIRE((items.next(&v) && etf::read_pid(v, &pid)));
  REQUIRE(pid == etf::Pid{"a@127.0.0.1", 7, 9, 1234});
  etf::Ref ref;
  REQUIRE((items.next(&v) && etf::read_ref(v, &ref)));
  REQUIRE(ref == etf::Ref{"b@h", 5, {1, 2, 3}});
  int64_t i;
  REQUIRE((items.next(&v) && etf::read_int(v, &i) && i == -5));
  uint64_t u;
  REQUIRE_FALSE(etf::read_u64(v, &u));
  REQUIRE((items.next(&v) && etf::read_int(v, &i) && i == int64_t(1) << 40));
  REQUIRE((items.next(&v) && etf::read_u64(v, &u) && u == UINT64_MAX));
  REQUIRE_FALSE(etf::read_int(v, &i));
  REQUIRE_FALSE(items.next(&v));
}

TEST_CASE("a list's elements and its improper tail are views of the original bytes", "[etf]") {
  // {[alias | Ref], <<"xyz">>}: the Tag of an OTP 25 gen_call.
  etf::Writer w;
  w.tuple(2);
  w.list(1);
  w.atom("alias");
  w.ref(etf::Ref{"n@h", 1, {9, 8, 7}});
  w.binary("xyz", 3);
  etf::Elements outer(view(w.buf));
  etf::View tag, bin;
  REQUIRE((outer.next(&tag) && outer.next(&bin)));
  etf::Elements list(tag);
  REQUIRE(list.is_list());
  etf::View alias, end;
  REQUIRE(list.next(&alias));
  REQUIRE(etf::atom_is(alias, "alias"));
  REQUIRE_FALSE(list.next(&end));
  REQUIRE(list.tail().is_ref());
  // Echoed verbatim, the term is the same bytes.
  etf::Writer again;
  again.tuple(2);
  again.verbatim(tag);
  again.verbatim(bin);
  REQUIRE(again.buf == w.buf);
  std::string_view text;
  REQUIRE((etf::read_binary(bin, &text) && text == "xyz"));
}

TEST_CASE("claimed lengths beyond the input are rejected without allocating them", "[etf]") {
  Bytes list = {etf::kList, 0xff, 0xff, 0xff, 0xff, etf::kNil};
  Bytes bin = {etf::kBinary, 0x7f, 0xff, 0xff, 0xff, 1, 2};
  Bytes tuple = {etf::kLargeTuple, 0x10, 0, 0, 0};
  Bytes map = {etf::kMap, 0xff, 0xff, 0xff, 0xff};
  for (auto* b : {&list, &bin, &tuple, &map}) {
    snow::test::AllocMeter meter;
    etf::View v;
    REQUIRE_FALSE(etf::view_of(b->data(), b->size(), &v));
    REQUIRE(meter.total() == 0);
  }
}

TEST_CASE("a 400 KB hostile term costs memory proportional to its size, in a control message or as an exit reason",
          "[etf][amplification]") {
  // Issue 9, finding 4: the tree decoder reached 19 GB on this input (an
  // element structure per claimed element at every level) and took minutes.
  const Bytes hostile = nested_claims(400 * 1024);
  REQUIRE_FALSE(etf::validate(hostile.data(), hostile.size()));  // its claims exceed its bytes

  // As element 3 of an EXIT control tuple {3, From, To, Reason}: the frame
  // is refused, and reading it allocates nothing.
  Bytes ctl =
      cat({{etf::kSmallTuple, 4}, {etf::kSmallInteger, 3}, latin1_pid("a@h", 1), latin1_pid("b@h", 2), hostile});
  Bytes f = frame(ctl, {});
  {
    snow::test::AllocMeter meter;
    wire::Control c;
    REQUIRE_FALSE(wire::read_control(f.data(), f.size(), &c));
    REQUIRE(meter.total() == 0);
  }

  // A well-formed 400 KB reason of 200,000 elements in a PAYLOAD_EXIT: the
  // reason keeps the term's bytes (the receiver gets them as reason tag 8)
  // and nothing more.
  Bytes big{etf::kList};
  be32(big, 200000);
  for (int i = 0; i < 200000; ++i) {
    big.push_back(etf::kSmallInteger);
    big.push_back(uint8_t(i));
  }
  big.push_back(etf::kNil);
  Bytes exit_ctl = cat({{etf::kSmallTuple, 3},
                        {etf::kSmallInteger, uint8_t(wire::kPayloadExit)},
                        latin1_pid("a@h", 1),
                        latin1_pid("b@h", 2)});
  Bytes pf = frame(exit_ctl, big);
  snow::test::AllocMeter meter;
  wire::Control c;
  REQUIRE(wire::read_control(pf.data(), pf.size(), &c));
  REQUIRE(c.op == wire::kPayloadExit);
  etf::View reason_term;
  REQUIRE(wire::read_payload(c, &reason_term));
  bool kill;
  Bytes reason = wire::term_to_reason(reason_term, &kill);
  REQUIRE(reason[0] == SNOW_REASON_TERM);
  REQUIRE(reason.size() == 9 + 1 + big.size());
  INFO("peak " << meter.peak() << " bytes for a " << big.size() << "-byte reason");
  REQUIRE(meter.peak() <= big.size() + 4096);
}

TEST_CASE("the same hostile bytes as a whole exit reason or message cost at most a copy of them",
          "[etf][amplification]") {
  // Valid up to the point where a claim runs out: every reader walks it once.
  const Bytes hostile = nested_claims(400 * 1024);
  snow::test::AllocMeter meter;
  etf::Reader r(hostile.data(), hostile.size());
  REQUIRE_FALSE(etf::skip_term(r));
  etf::Elements items(etf::View{hostile.data(), hostile.size()});
  etf::View v;
  while (items.next(&v)) {
  }
  etf::Pid pid;
  REQUIRE_FALSE(etf::read_leading_pid(hostile.data(), hostile.size(), &pid));
  REQUIRE(meter.total() == 0);
}

TEST_CASE("terms nest to any depth: validated, read and mapped without recursion", "[etf]") {
  // 100,000 nested one-element tuples: Erlang accepts this term, so it must
  // pass here too (readers run on small process stacks and on the loop).
  Bytes b;
  for (int i = 0; i < 100000; ++i) {
    b.push_back(etf::kSmallTuple);
    b.push_back(1);
  }
  b.push_back(etf::kNil);
  REQUIRE(etf::validate(b.data(), b.size()));
  // Walk down the first levels: each element read is the rest of the term.
  // (Every next() skips its whole element to find where it ends, so walking
  // all 100,000 levels would cost depth x size: 150 s in a debug build.)
  etf::View v = view(b);
  for (int depth = 1; depth <= 200; ++depth) {
    etf::Elements items(v);
    REQUIRE(items.next(&v));
    REQUIRE(v.data == b.data() + 2 * depth);
    REQUIRE(v.size == b.size() - 2 * depth);
  }
  REQUIRE(v.tag() == etf::kSmallTuple);
  // As an exit reason it is a term reason carrying its bytes.
  bool kill;
  Bytes reason = wire::term_to_reason(view(b), &kill);
  REQUIRE(reason[0] == SNOW_REASON_TERM);
  REQUIRE(Bytes(reason.begin() + 10, reason.end()) == b);
  // Truncated or with an element missing, it is refused.
  REQUIRE_FALSE(etf::validate(b.data(), b.size() - 1));
  b[b.size() - 2] = 2;  // the innermost tuple claims two elements
  REQUIRE_FALSE(etf::validate(b.data(), b.size()));
}

TEST_CASE("the leading pid is read whatever follows it", "[etf]") {
  // Issue 9, finding 8: {Pid, X} with X 300 deep, and with X malformed.
  Bytes pid = latin1_pid("a@h", 42);
  Bytes deep = cat({{etf::kVersion, etf::kSmallTuple, 2}, pid});
  for (int i = 0; i < 300; ++i) deep.insert(deep.end(), {etf::kSmallTuple, 1});
  deep.push_back(etf::kNil);
  etf::Pid p;
  REQUIRE(etf::read_leading_pid(deep.data(), deep.size(), &p));
  REQUIRE(p == etf::Pid{"a@h", 42, 0, 7});
  Bytes truncated = cat({{etf::kLargeTuple, 0, 0, 1, 0}, pid, {etf::kList, 0xff}});
  REQUIRE(etf::read_leading_pid(truncated.data(), truncated.size(), &p));
  REQUIRE(etf::read_leading_pid(pid.data(), pid.size(), &p));
  // Not a pid first: nothing.
  Bytes empty_tuple = {etf::kSmallTuple, 0};
  Bytes atom_first = cat({{etf::kSmallTuple, 2}, latin1("x"), pid});
  Bytes cut_pid(pid.begin(), pid.end() - 1);
  for (const Bytes* b : {&empty_tuple, &atom_first, &cut_pid})
    REQUIRE_FALSE(etf::read_leading_pid(b->data(), b->size(), &p));
}

TEST_CASE("atoms hold what Erlang accepts: UTF-8 forms well-formed and at most 255 characters", "[etf]") {
  auto valid = [](const Bytes& b) { return etf::validate(b.data(), b.size()); };
  const Bytes bad_utf8{0xC3, 0x28};  // a lead byte without its continuation
  const Bytes surrogate{0xED, 0xA0, 0x80};
  const Bytes e_acute{0xC3, 0xA9};  // U+00E9, two bytes
  for (uint8_t tag : {uint8_t(etf::kSmallAtomUtf8), uint8_t(etf::kAtomUtf8)}) {
    REQUIRE(valid(atom(tag, {'o', 'k'})));
    REQUIRE(valid(atom(tag, e_acute)));
    REQUIRE_FALSE(valid(atom(tag, bad_utf8)));
    REQUIRE_FALSE(valid(atom(tag, surrogate)));
  }
  // 255 two-byte characters (510 bytes) fit; 256 do not.
  Bytes long_text;
  for (int i = 0; i < 255; ++i) long_text.insert(long_text.end(), e_acute.begin(), e_acute.end());
  REQUIRE(valid(atom(etf::kAtomUtf8, long_text)));
  long_text.insert(long_text.end(), e_acute.begin(), e_acute.end());
  REQUIRE_FALSE(valid(atom(etf::kAtomUtf8, long_text)));
  // The Latin-1 forms take any byte, up to 255 of them.
  REQUIRE(valid(atom(etf::kSmallAtom, bad_utf8)));
  REQUIRE(valid(atom(etf::kAtom, Bytes(255, 0xE9))));
  REQUIRE_FALSE(valid(atom(etf::kAtom, Bytes(256, 'a'))));
  // What Writer::atom may write.
  REQUIRE(etf::atom_text_ok(""));
  REQUIRE(etf::atom_text_ok(std::string(long_text.begin(), long_text.end() - 2)));
  REQUIRE_FALSE(etf::atom_text_ok(std::string(long_text.begin(), long_text.end())));
  REQUIRE_FALSE(etf::atom_text_ok("\xff"));
}

TEST_CASE("Latin-1 atoms read as UTF-8, so every form of an atom reads the same", "[etf]") {
  // Issue 9, finding 5: term_to_binary (OTP 25) writes atoms that fit
  // Latin-1 as ATOM_EXT, and any peer may send them.
  std::string s;
  REQUIRE(etf::read_atom(view(atom(etf::kAtom, {0xFF})), &s));
  REQUIRE(s == "\xC3\xBF");  // U+00FF
  REQUIRE(etf::read_atom(view(atom(etf::kSmallAtom, {'c', 'a', 'f', 0xE9})), &s));
  REQUIRE(s == "caf\xC3\xA9");
  REQUIRE(etf::atom_is(view(atom(etf::kSmallAtom, {'c', 'a', 'f', 0xE9})), "caf\xC3\xA9"));
  REQUIRE(etf::atom_is(view(atom(etf::kSmallAtomUtf8, {'c', 'a', 'f', 0xC3, 0xA9})), "caf\xC3\xA9"));
  REQUIRE_FALSE(etf::atom_is(view(atom(etf::kSmallAtom, {'c', 'a', 'f', 0xE9})), "caf\xE9"));
  REQUIRE_FALSE(etf::atom_is(view(atom(etf::kSmallAtom, {'c', 'a', 'f'})), "caf\xC3\xA9"));
  REQUIRE(etf::atom_is(view(atom(etf::kAtom, {})), ""));
  // 255 Latin-1 characters become 510 bytes of UTF-8: still an atom we may write.
  REQUIRE(etf::read_atom(view(atom(etf::kAtom, Bytes(255, 0xE9))), &s));
  REQUIRE(s.size() == 510);
  REQUIRE(etf::atom_text_ok(s));
  // Node names in pids and references too.
  Bytes node{'n', 0xF6, 'd', '@', 'h'};
  Bytes pid = cat({{etf::kNewPid}, atom(etf::kAtom, node), {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3}});
  etf::Pid p;
  REQUIRE(etf::read_pid(view(pid), &p));
  REQUIRE(p.node ==
          "n\xC3\xB6"
          "d@h");
  etf::Writer w;
  w.pid(p);
  etf::Pid again;
  REQUIRE(etf::read_pid(view(w.buf), &again));
  REQUIRE(again == p);
}

TEST_CASE("random garbage never crashes the readers", "[etf]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    Bytes b(rng() % 64);
    for (auto& x : b) x = uint8_t(rng());
    if (!b.empty() && rng() % 2) b[0] = uint8_t(97 + rng() % 23);  // start with a real tag often
    etf::View v{b.data(), b.size()};                               // deliberately not checked
    std::string s;
    etf::Pid p;
    etf::Ref ref;
    int64_t i;
    std::string_view bin;
    etf::read_atom(v, &s);
    etf::read_pid(v, &p);
    etf::read_ref(v, &ref);
    etf::read_int(v, &i);
    etf::read_binary(v, &bin);
    etf::read_leading_pid(b.data(), b.size(), &p);
    etf::Elements items(v);
    etf::View e;
    while (items.next(&e)) {
    }
    wire::Control c;
    Bytes f = frame(b, b);
    wire::read_control(f.data(), f.size(), &c);
  }
  SUCCEED();
}

TEST_CASE("a control tuple is read by position and elements past the kept ones are skipped", "[wire]") {
  // {19, From, To, Ref, extra1, extra2, extra3}: a newer OTP adding elements.
  etf::Writer w;
  w.tuple(7);
  w.integer(wire::kMonitorP);
  w.pid(etf::Pid{"a@h", 1, 0, 1});
  w.atom("target");
  w.ref(etf::Ref{"a@h", 1, {1, 2, 3}});
  w.atom("extra1");
  w.tuple(1);
  w.nil();
  w.integer(-70000);
  Bytes f = frame(w.buf, {});
  wire::Control c;
  REQUIRE(wire::read_control(f.data(), f.size(), &c));
  REQUIRE(c.op == wire::kMonitorP);
  REQUIRE(c.arity == 7);
  REQUIRE(c.item[3].is_ref());
  REQUIRE(etf::atom_is(c.item[4], "extra1"));
  REQUIRE(c.rest_size == 0);
  etf::View payload;
  REQUIRE_FALSE(wire::read_payload(c, &payload));
  // Not a tuple, an empty tuple, or an opcode that is no integer: malformed.
  for (const Bytes& bad : {Bytes{etf::kNil}, Bytes{etf::kSmallTuple, 0}, cat({{etf::kSmallTuple, 1}, latin1("x")})}) {
    Bytes bf = frame(bad, {});
    REQUIRE_FALSE(wire::read_control(bf.data(), bf.size(), &c));
  }
  // A payload must be exactly one term after its version byte.
  Bytes good = frame(w.buf, {etf::kNil});
  REQUIRE(wire::read_control(good.data(), good.size(), &c));
  REQUIRE(wire::read_payload(c, &payload));
  good.push_back(etf::kNil);
  REQUIRE(wire::read_control(good.data(), good.size(), &c));
  REQUIRE_FALSE(wire::read_payload(c, &payload));
}

TEST_CASE("exit reasons map to Erlang terms and back", "[wire]") {
  auto round_trip = [](const Bytes& reason) {
    etf::Writer w;
    wire::reason_to_term(w, reason.data(), reason.size(), false);
    bool kill;
    return wire::term_to_reason(view(w.buf), &kill);
  };
  for (uint8_t tag : {0, 2, 4, 6, 7}) REQUIRE(round_trip({tag}) == Bytes{tag});
  for (uint8_t tag : {uint8_t(SNOW_REASON_ERROR), uint8_t(SNOW_REASON_CUSTOM)}) {
    for (const std::string& text : {std::string("bad"), std::string("caf\xC3\xA9"), std::string(""),
                                    std::string("normal"), std::string(300, 'x'), std::string(255, 'x')}) {
      Bytes r = reason_of(tag, text);
      REQUIRE(round_trip(r) == r);
    }
  }
}

TEST_CASE("custom text that is no atom Erlang accepts travels as {custom, Bin}", "[wire]") {
  // 256 characters: too long for an atom, whatever its bytes.
  std::string long_text;
  for (int i = 0; i < 256; ++i) long_text += "\xC3\xA9";
  for (const std::string& text : {long_text, std::string("\xFF"), std::string("kill")}) {
    etf::Writer w;
    Bytes r = reason_of(SNOW_REASON_CUSTOM, text);
    wire::reason_to_term(w, r.data(), r.size(), false);
    REQUIRE(etf::validate(w.buf.data(), w.buf.size()));
    etf::Elements items(view(w.buf));
    etf::View kind;
    REQUIRE((items.count() == 2 && items.next(&kind) && etf::atom_is(kind, "custom")));
  }
  // 255 two-byte characters are an atom.
  etf::Writer w;
  Bytes r = reason_of(SNOW_REASON_CUSTOM, long_text.substr(2));
  wire::reason_to_term(w, r.data(), r.size(), false);
  std::string s;
  REQUIRE(etf::read_atom(view(w.buf), &s));
  REQUIRE(s == long_text.substr(2));
}

TEST_CASE("reason text from a peer is UTF-8: Latin-1 atoms convert, other bytes make a term reason", "[wire]") {
  // Issue 9, finding 5: exit(P, {custom, <<255>>}) from erl became custom
  // text "\xff", later sent back as an atom that is not UTF-8.
  bool kill;
  Bytes latin1_atom = atom(etf::kAtom, {0xFF});
  REQUIRE(wire::term_to_reason(view(latin1_atom), &kill) == reason_of(SNOW_REASON_CUSTOM, "\xC3\xBF"));
  Bytes custom_ff = cat({{etf::kSmallTuple, 2}, latin1("custom"), {etf::kBinary, 0, 0, 0, 1, 0xFF}});
  Bytes error_bad = cat({{etf::kSmallTuple, 2}, latin1("error"), {etf::kBinary, 0, 0, 0, 2, 0xC3, 0x28}});
  for (const Bytes* t : {&custom_ff, &error_bad}) {
    Bytes r = wire::term_to_reason(view(*t), &kill);
    REQUIRE(r[0] == SNOW_REASON_TERM);
    REQUIRE(Bytes(r.begin() + 10, r.end()) == *t);
    // What we send for it later is the same term.
    etf::Writer w;
    wire::reason_to_term(w, r.data(), r.size(), false);
    REQUIRE(w.buf == *t);
  }
  // The same tuples with UTF-8 binaries and Latin-1 atoms are text reasons.
  Bytes custom_ok = cat({{etf::kSmallTuple, 2}, latin1("custom"), {etf::kBinary, 0, 0, 0, 2, 0xC3, 0xBF}});
  REQUIRE(wire::term_to_reason(view(custom_ok), &kill) == reason_of(SNOW_REASON_CUSTOM, "\xC3\xBF"));
}

TEST_CASE("the atom kill is the untrappable kill; other terms become tag 8", "[wire]") {
  bool kill;
  auto r = wire::term_to_reason(view(latin1("kill")), &kill);
  REQUIRE(kill);
  REQUIRE(r == Bytes{SNOW_REASON_KILLED});
  etf::Writer t;
  t.tuple(2);
  t.atom("badarith");
  t.nil();
  auto term = wire::term_to_reason(view(t.buf), &kill);
  REQUIRE_FALSE(kill);
  REQUIRE(term[0] == SNOW_REASON_TERM);
  REQUIRE(get_u64(term.data() + 1) == t.buf.size() + 1);
  REQUIRE(term[9] == etf::kVersion);
}
