// Distribution handshake messages: encoders, parsers and the cookie digest.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/dist/handshake.h"

using namespace snow::rt;

TEST_CASE("a name message round-trips", "[handshake]") {
  auto b = hs::encode_name(0x123456789abcdef0ull, 0xdeadbeef, "a@127.0.0.1");
  hs::Name n;
  REQUIRE(hs::parse_name(b.data(), b.size(), &n));
  CHECK(n.flags == 0x123456789abcdef0ull);
  CHECK(n.creation == 0xdeadbeef);
  CHECK(n.node == "a@127.0.0.1");
}

TEST_CASE("a challenge message round-trips", "[handshake]") {
  auto b = hs::encode_challenge(7, 42, 9, "b@host");
  hs::Challenge c;
  REQUIRE(hs::parse_challenge(b.data(), b.size(), &c));
  CHECK(c.flags == 7);
  CHECK(c.challenge == 42);
  CHECK(c.creation == 9);
  CHECK(c.node == "b@host");
}

TEST_CASE("a name longer than the message is refused", "[handshake]") {
  auto b = hs::encode_name(1, 2, "abc@d");
  b.pop_back();
  hs::Name n;
  CHECK_FALSE(hs::parse_name(b.data(), b.size(), &n));
  auto c = hs::encode_challenge(1, 2, 3, "abc@d");
  c[c.size() - 6] = 0xff;  // the name length's high byte
  hs::Challenge ch;
  CHECK_FALSE(hs::parse_challenge(c.data(), c.size(), &ch));
}

TEST_CASE("empty names, wrong tags and truncated messages are refused", "[handshake]") {
  hs::Name n;
  auto empty = hs::encode_name(1, 2, "");
  CHECK_FALSE(hs::parse_name(empty.data(), empty.size(), &n));
  auto b = hs::encode_name(1, 2, "x@y");
  b[0] = 'n';  // a version 5 name message
  CHECK_FALSE(hs::parse_name(b.data(), b.size(), &n));
  for (size_t len = 0; len < 15; ++len) CHECK_FALSE(hs::parse_name(b.data(), len, &n));
  std::string status;
  CHECK_FALSE(hs::parse_status(nullptr, 0, &status));
  uint8_t d[16];
  auto ack = hs::encode_ack(d);
  CHECK_FALSE(hs::parse_ack(ack.data(), ack.size() - 1, d));
  hs::Reply r;
  auto reply = hs::encode_reply(5, d);
  CHECK_FALSE(hs::parse_reply(reply.data(), reply.size() - 1, &r));
}

TEST_CASE("status, reply and ack round-trip", "[handshake]") {
  std::string st;
  auto s = hs::encode_status("ok_simultaneous");
  REQUIRE(hs::parse_status(s.data(), s.size(), &st));
  CHECK(st == "ok_simultaneous");
  uint8_t d[16];
  for (int i = 0; i < 16; ++i) d[i] = uint8_t(i * 3);
  hs::Reply r;
  auto reply = hs::encode_reply(0x01020304, d);
  REQUIRE(hs::parse_reply(reply.data(), reply.size(), &r));
  CHECK(r.challenge == 0x01020304);
  CHECK(std::memcmp(r.digest, d, 16) == 0);
  uint8_t got[16];
  auto ack = hs::encode_ack(d);
  REQUIRE(hs::parse_ack(ack.data(), ack.size(), got));
  CHECK(std::memcmp(got, d, 16) == 0);
}

TEST_CASE("the digest is MD5 of the cookie and the challenge's decimal text", "[handshake]") {
  // md5("secret12345") computed independently (Python hashlib).
  const uint8_t want[16] = {0xd4, 0x04, 0x7d, 0x3e, 0x56, 0xe6, 0xd6, 0xd6,
                            0x3f, 0x7d, 0x16, 0xb8, 0x5c, 0xd2, 0xfa, 0x88};
  uint8_t d[16];
  hs::digest("secret", 12345, d);
  CHECK(std::memcmp(d, want, 16) == 0);
  CHECK(hs::digest_matches("secret", 12345, want));
  CHECK_FALSE(hs::digest_matches("secreT", 12345, want));
  CHECK_FALSE(hs::digest_matches("secret", 12346, want));
}
