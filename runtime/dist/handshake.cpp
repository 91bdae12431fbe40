#include "runtime/dist/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstring>

#include "runtime/common/common.h"

namespace snow::rt::hs {

namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, uint32_t(v >> 32));
  put32(b, uint32_t(v));
}
// A message of `tag` with room for `size` bytes: sized before anything is
// appended (GCC 12 at -O3 reports false -Warray-bounds errors when a
// one-byte vector grows through insert).
std::vector<uint8_t> message(uint8_t tag, size_t size) {
  std::vector<uint8_t> b;
  b.reserve(size);
  b.push_back(tag);
  return b;
}
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint64_t get64(const uint8_t* p) { return uint64_t(get32(p)) << 32 | get32(p + 4); }

// [u16 length][bytes] at b[at..n): the node name of an 'N' message.
bool read_node(const uint8_t* b, size_t n, size_t at, std::string* out) {
  if (n < at + 2) return false;
  size_t len = get16(b + at);
  if (len == 0 || len > 255 || n < at + 2 + len) return false;
  out->assign(reinterpret_cast<const char*>(b + at + 2), len);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_name(uint64_t flags, uint32_t creation, std::string_view node) {
  std::vector<uint8_t> b = message('N', 15 + node.size());
  put64(b, flags);
  put32(b, creation);
  put16(b, uint16_t(node.size()));
  b.insert(b.end(), node.begin(), node.end());
  return b;
}

std::vector<uint8_t> encode_challenge(uint64_t flags, uint32_t challenge, uint32_t creation, std::string_view node) {
  std::vector<uint8_t> b = message('N', 19 + node.size());
  put64(b, flags);
  put32(b, challenge);
  put32(b, creation);
  put16(b, uint16_t(node.size()));
  b.insert(b.end(), node.begin(), node.end());
  return b;
}

std::vector<uint8_t> encode_status(std::string_view status) {
  std::vector<uint8_t> b = message('s', 1 + status.size());
  b.insert(b.end(), status.begin(), status.end());
  return b;
}

std::vector<uint8_t> encode_reply(uint32_t challenge, const uint8_t digest[16]) {
  std::vector<uint8_t> b = message('r', 21);
  put32(b, challenge);
  b.insert(b.end(), digest, digest + 16);
  return b;
}

std::vector<uint8_t> encode_ack(const uint8_t digest[16]) {
  std::vector<uint8_t> b = message('a', 17);
  b.insert(b.end(), digest, digest + 16);
  return b;
}

// 'N' flags:8 creation:4 nlen:2 name (OTP 23+ "send_name").
bool parse_name(const uint8_t* b, size_t n, Name* out) {
  if (n < 15 || b[0] != 'N') return false;
  out->flags = get64(b + 1);
  out->creation = get32(b + 9);
  return read_node(b, n, 13, &out->node);
}

// 'N' flags:8 challenge:4 creation:4 nlen:2 name.
bool parse_challenge(const uint8_t* b, size_t n, Challenge* out) {
  if (n < 19 || b[0] != 'N') return false;
  out->flags = get64(b + 1);
  out->challenge = get32(b + 9);
  out->creation = get32(b + 13);
  return read_node(b, n, 17, &out->node);
}

bool parse_status(const uint8_t* b, size_t n, std::string* out) {
  if (n < 1 || b[0] != 's' || n > 64) return false;
  out->assign(reinterpret_cast<const char*>(b + 1), n - 1);
  return true;
}

bool parse_reply(const uint8_t* b, size_t n, Reply* out) {
  if (n != 21 || b[0] != 'r') return false;
  out->challenge = get32(b + 1);
  std::memcpy(out->digest, b + 5, 16);
  return true;
}

bool parse_ack(const uint8_t* b, size_t n, uint8_t digest[16]) {
  if (n != 17 || b[0] != 'a') return false;
  std::memcpy(digest, b + 1, 16);
  return true;
}

void digest(std::string_view cookie, uint32_t challenge, uint8_t out[16]) {
  std::string s(cookie);
  s += std::to_string(challenge);
  unsigned int len = 16;
  EVP_Digest(s.data(), s.size(), out, &len, EVP_md5(), nullptr);
}

bool digest_matches(std::string_view cookie, uint32_t challenge, const uint8_t got[16]) {
  uint8_t want[16];
  digest(cookie, challenge, want);
  return CRYPTO_memcmp(want, got, 16) == 0;
}

uint32_t new_challenge() {
  uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = uint32_t(now_ns() ^ getpid());
  return v;
}

}  // namespace snow::rt::hs
