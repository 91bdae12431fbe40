// External term format: round trips, bounds, and hostile input.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/wire.h"
#include "runtime/etf/etf.h"

using namespace snow::rt;

namespace {
etf::Term decode_all(const std::vector<uint8_t>& b, bool* ok) {
  etf::Reader r(b.data(), b.size());
  etf::Term t;
  *ok = etf::decode(r, t) && r.left() == 0;
  return t;
}
}  // namespace

TEST_CASE("pids, refs and integers survive encode then decode", "[etf]") {
  etf::Writer w;
  w.tuple(5);
  w.pid(etf::Pid{"a@127.0.0.1", 7, 9, 1234});
  w.ref(etf::Ref{"b@h", 5, {1, 2, 3}});
  w.integer(-5);
  w.integer(int64_t(1) << 40);
  w.unsigned_integer(UINT64_MAX);
  bool ok;
  etf::Term t = decode_all(w.buf, &ok);
  REQUIRE(ok);
  REQUIRE(t.type == etf::Type::Tuple);
  REQUIRE(t.items.size() == 5);
  REQUIRE(t.items[0].pid == etf::Pid{"a@127.0.0.1", 7, 9, 1234});
  REQUIRE(t.items[1].ref == etf::Ref{"b@h", 5, {1, 2, 3}});
  REQUIRE(t.items[2].i == -5);
  REQUIRE(t.items[3].i == int64_t(1) << 40);
  uint64_t big;
  REQUIRE(etf::as_u64(t.items[4], &big));
  REQUIRE(big == UINT64_MAX);
}

TEST_CASE("re-encoding a decoded term gives the same bytes, improper lists included", "[etf]") {
  etf::Writer w;
  w.tuple(2);
  w.list(1);
  w.atom("alias");
  w.ref(etf::Ref{"n@h", 1, {9, 8, 7}});  // the improper tail: [alias | Ref]
  w.binary("xyz", 3);
  bool ok;
  etf::Term t = decode_all(w.buf, &ok);
  REQUIRE(ok);
  REQUIRE_FALSE(t.items[0].proper);
  etf::Writer again;
  again.term(t);
  REQUIRE(again.buf == w.buf);
}

TEST_CASE("claimed lengths beyond the input are rejected without allocating them", "[etf]") {
  std::vector<uint8_t> list = {etf::kList, 0xff, 0xff, 0xff, 0xff, etf::kNil};
  std::vector<uint8_t> bin = {etf::kBinary, 0x7f, 0xff, 0xff, 0xff, 1, 2};
  std::vector<uint8_t> tuple = {etf::kLargeTuple, 0x10, 0, 0, 0};
  std::vector<uint8_t> map = {etf::kMap, 0xff, 0xff, 0xff, 0xff};
  for (auto* b : {&list, &bin, &tuple, &map}) {
    bool ok;
    decode_all(*b, &ok);
    REQUIRE_FALSE(ok);
    REQUIRE_FALSE(etf::validate(b->data(), b->size()));
  }
}

TEST_CASE("deep nesting validates without recursion; decoding into a tree is refused past the limit", "[etf]") {
  // 100,000 nested one-element tuples: Erlang accepts this term, so payload
  // validation must too (it runs on small process stacks and on the loop).
  std::vector<uint8_t> b;
  for (int i = 0; i < 100000; ++i) {
    b.push_back(etf::kSmallTuple);
    b.push_back(1);
  }
  b.push_back(etf::kNil);
  REQUIRE(etf::validate(b.data(), b.size()));
  REQUIRE_FALSE(etf::validate_tree(b.data(), b.size()));
  bool ok;
  decode_all(b, &ok);
  REQUIRE_FALSE(ok);
  // Truncated or with an element missing, it is still refused.
  REQUIRE_FALSE(etf::validate(b.data(), b.size() - 1));
  b[b.size() - 2] = 2;  // the innermost tuple claims two elements
  REQUIRE_FALSE(etf::validate(b.data(), b.size()));
}

TEST_CASE("atoms hold what Erlang accepts: UTF-8 forms well-formed and at most 255 characters", "[etf]") {
  auto atom = [](uint8_t tag, std::vector<uint8_t> text) {
    std::vector<uint8_t> b{etf::kVersion, tag};
    if (tag == etf::kAtomUtf8 || tag == etf::kAtom) b.push_back(uint8_t(text.size() >> 8));
    b.push_back(uint8_t(text.size()));
    b.insert(b.end(), text.begin(), text.end());
    return b;
  };
  auto valid = [](const std::vector<uint8_t>& b) {
    bool ok;
    (void)decode_all(std::vector<uint8_t>(b.begin() + 1, b.end()), &ok);
    REQUIRE(etf::validate(b.data(), b.size()) == ok);
    return ok;
  };
  const std::vector<uint8_t> bad_utf8{0xC3, 0x28};    // a lead byte without its continuation
  const std::vector<uint8_t> surrogate{0xED, 0xA0, 0x80};
  const std::vector<uint8_t> e_acute{0xC3, 0xA9};     // U+00E9, two bytes
  for (uint8_t tag : {uint8_t(etf::kSmallAtomUtf8), uint8_t(etf::kAtomUtf8)}) {
    REQUIRE(valid(atom(tag, {'o', 'k'})));
    REQUIRE(valid(atom(tag, e_acute)));
    REQUIRE_FALSE(valid(atom(tag, bad_utf8)));
    REQUIRE_FALSE(valid(atom(tag, surrogate)));
  }
  // 255 two-byte characters (510 bytes) fit; 256 do not.
  std::vector<uint8_t> long_text;
  for (int i = 0; i < 255; ++i) long_text.insert(long_text.end(), e_acute.begin(), e_acute.end());
  REQUIRE(valid(atom(etf::kAtomUtf8, long_text)));
  long_text.insert(long_text.end(), e_acute.begin(), e_acute.end());
  REQUIRE_FALSE(valid(atom(etf::kAtomUtf8, long_text)));
  // The Latin-1 forms take any byte, up to 255 of them.
  REQUIRE(valid(atom(etf::kSmallAtom, bad_utf8)));
  REQUIRE(valid(atom(etf::kAtom, std::vector<uint8_t>(255, 0xE9))));
  REQUIRE_FALSE(valid(atom(etf::kAtom, std::vector<uint8_t>(256, 'a'))));
}

TEST_CASE("random garbage never crashes the decoder", "[etf]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> b(rng() % 64);
    for (auto& x : b) x = uint8_t(rng());
    if (!b.empty() && rng() % 2) b[0] = uint8_t(97 + rng() % 23);  // start with a real tag often
    etf::validate(b.data(), b.size());
    etf::Reader r(b.data(), b.size());
    etf::Term t;
    etf::decode(r, t);
  }
  SUCCEED();
}

TEST_CASE("exit reasons map to Erlang terms and back", "[wire]") {
  auto round_trip = [](std::vector<uint8_t> reason) {
    etf::Writer w;
    wire::reason_to_term(w, reason.data(), reason.size(), false);
    bool kill;
    return wire::term_to_reason(w.buf.data(), w.buf.size(), &kill);
  };
  for (uint8_t tag : {0, 2, 4, 6, 7}) REQUIRE(round_trip({tag}) == std::vector<uint8_t>{tag});
  std::vector<uint8_t> err = {SNOW_REASON_ERROR, 3, 0, 0, 0, 0, 0, 0, 0, 'b', 'a', 'd'};
  REQUIRE(round_trip(err) == err);
  std::vector<uint8_t> custom = {SNOW_REASON_CUSTOM, 3, 0, 0, 0, 0, 0, 0, 0, 'f', 'o', 'o'};
  REQUIRE(round_trip(custom) == custom);
}

TEST_CASE("the atom kill is the untrappable kill; other terms become tag 8", "[wire]") {
  etf::Writer w;
  w.atom("kill");
  bool kill;
  auto r = wire::term_to_reason(w.buf.data(), w.buf.size(), &kill);
  REQUIRE(kill);
  REQUIRE(r == std::vector<uint8_t>{SNOW_REASON_KILLED});
  etf::Writer t;
  t.tuple(2);
  t.atom("badarith");
  t.nil();
  auto term = wire::term_to_reason(t.buf.data(), t.buf.size(), &kill);
  REQUIRE_FALSE(kill);
  REQUIRE(term[0] == SNOW_REASON_TERM);
  REQUIRE(get_u64(term.data() + 1) == t.buf.size() + 1);
  REQUIRE(term[9] == etf::kVersion);
}
