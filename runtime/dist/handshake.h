// The distribution handshake's messages (erl_dist_protocol, "Distribution
// Handshake", version 6 as OTP 23 and later speak it): pure encoders and
// parsers, no I/O and no state, so each can be tested and fuzzed alone.
//
// A handshake message travels as [u16 length][body]; these functions deal
// with bodies. The sequence, for the connecting side A and the accepting
// side B:
//
//   A -> B  'N' name       flags, creation, A's name
//   B -> A  's' status     ok | ok_simultaneous | nok | alive | not_allowed
//  (A -> B  's' true|false after "alive": whether A is a new incarnation)
//   B -> A  'N' challenge  flags, B's challenge, creation, B's name
//   A -> B  'r' reply      A's challenge, digest(B's challenge)
//   B -> A  'a' ack        digest(A's challenge)
//
// digest(c) = MD5(cookie ++ decimal text of c). Neither side is
// authenticated before it has shown a correct digest; everything a peer
// sends before that is read with lengths checked against the body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace snow::rt::hs {

struct Name {
  uint64_t flags = 0;
  uint32_t creation = 0;
  std::string node;
};

struct Challenge {
  uint64_t flags = 0;
  uint32_t challenge = 0;
  uint32_t creation = 0;
  std::string node;
};

struct Reply {
  uint32_t challenge = 0;
  uint8_t digest[16] = {};
};

// 'N' without a challenge (sent by the connecting side).
std::vector<uint8_t> encode_name(uint64_t flags, uint32_t creation, std::string_view node);
// 'N' with a challenge (sent by the accepting side).
std::vector<uint8_t> encode_challenge(uint64_t flags, uint32_t challenge, uint32_t creation, std::string_view node);
std::vector<uint8_t> encode_status(std::string_view status);
std::vector<uint8_t> encode_reply(uint32_t challenge, const uint8_t digest[16]);
std::vector<uint8_t> encode_ack(const uint8_t digest[16]);

// Parsers: false when the body is not that message (wrong tag, too short,
// a name longer than the body). A node name must be 1..255 bytes.
bool parse_name(const uint8_t* b, size_t n, Name* out);
bool parse_challenge(const uint8_t* b, size_t n, Challenge* out);
bool parse_status(const uint8_t* b, size_t n, std::string* out);
bool parse_reply(const uint8_t* b, size_t n, Reply* out);
bool parse_ack(const uint8_t* b, size_t n, uint8_t digest[16]);

void digest(std::string_view cookie, uint32_t challenge, uint8_t out[16]);
// Compares `got` with digest(challenge) in constant time.
bool digest_matches(std::string_view cookie, uint32_t challenge, const uint8_t got[16]);

// A fresh random challenge (OpenSSL's generator).
uint32_t new_challenge();

}  // namespace snow::rt::hs
