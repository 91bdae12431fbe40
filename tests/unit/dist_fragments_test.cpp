// Fragmented distribution messages (runtime/dist/fragments.h): the
// reassembler on its own (order, bounds, refusals, protocol violations),
// the conversions between the pass-through and header forms, and the
// connection reader delivering or refusing fragmented messages through its
// test seam (dist_test_feed).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/dist/dist.h"
#include "runtime/dist/fragments.h"

using namespace snow::rt;
using namespace snow::rt::dist;

namespace {

using Bytes = std::vector<uint8_t>;
using Outcome = Reassembler::Outcome;

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void put64(Bytes& b, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void atom(Bytes& b, const std::string& a) {
  b.push_back(119);  // SMALL_ATOM_UTF8_EXT
  b.push_back(uint8_t(a.size()));
  b.insert(b.end(), a.begin(), a.end());
}

// {2, '', ToAtom}: a well-formed SEND control term (no version byte).
Bytes send_control(const Bytes& to = {}) {
  Bytes c{104, 3, 97, 2};
  atom(c, "");
  if (to.empty()) atom(c, "nobody");
  else c.insert(c.end(), to.begin(), to.end());
  return c;
}

// A binary term (no version byte) of `n` bytes with a recognisable pattern.
Bytes binary_term(size_t n) {
  Bytes b{109};
  put32(b, uint32_t(n));
  for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(i * 7 + (i >> 8)));
  return b;
}

// The frame bodies of one sequence: the control term and the payload split
// into fragments of `size` payload bytes (at least one fragment).
std::vector<Bytes> fragments(uint64_t seq, const Bytes& control, const Bytes& payload, size_t size) {
  size_t count = payload.empty() ? 1 : (payload.size() + size - 1) / size;
  std::vector<Bytes> out;
  for (size_t i = 0; i < count; ++i) {
    Bytes f{131, uint8_t(i == 0 ? 69 : 70)};
    put64(f, seq);
    put64(f, count - i);
    if (i == 0) {
      f.push_back(0);  // no atom cache references
      f.insert(f.end(), control.begin(), control.end());
    }
    size_t at = i * size, n = std::min(size, payload.size() - std::min(at, payload.size()));
    f.insert(f.end(), payload.begin() + long(at), payload.begin() + long(at + n));
    out.push_back(f);
  }
  return out;
}

// The pass-through form a reassembled message must have.
Bytes pass_through(const Bytes& control, const Bytes& payload) {
  Bytes b{112, 131};
  b.insert(b.end(), control.begin(), control.end());
  if (!payload.empty()) {
    b.push_back(131);
    b.insert(b.end(), payload.begin(), payload.end());
  }
  return b;
}

Outcome feed(Reassembler& r, const Bytes& body) { return r.feed(body.data(), body.size()); }

}  // namespace

// ------------------------------------------------------------------ the reassembler

TEST_CASE("fragments of one message are joined into its pass-through form", "[dist][fragments]") {
  Reassembler r(1 << 20);
  Bytes control = send_control(), payload = binary_term(10000);
  auto fs = fragments(42, control, payload, 3000);
  REQUIRE(fs.size() == 4);
  for (size_t i = 0; i + 1 < fs.size(); ++i) CHECK(feed(r, fs[i]) == Outcome::Pending);
  REQUIRE(feed(r, fs.back()) == Outcome::Complete);
  CHECK(r.message() == pass_through(control, payload));
  CHECK(r.sequences() == 0);
  CHECK(r.bytes_held() == 0);
}

TEST_CASE("a sequence of one fragment completes at once", "[dist][fragments]") {
  Reassembler r(1 << 20);
  Bytes control = send_control(), payload = binary_term(100);
  auto fs = fragments(1, control, payload, 1000);
  REQUIRE(fs.size() == 1);
  REQUIRE(feed(r, fs[0]) == Outcome::Complete);
  CHECK(r.message() == pass_through(control, payload));
}

TEST_CASE("interleaved sequences are joined separately", "[dist][fragments]") {
  Reassembler r(1 << 20);
  Bytes c = send_control(), pa = binary_term(5000), pb = binary_term(7000);
  pb[10] = 0xEE;
  auto fa = fragments(1, c, pa, 1000), fb = fragments(2, c, pb, 1000);
  size_t ia = 0, ib = 0;
  int complete = 0;
  while (ia < fa.size() || ib < fb.size()) {
    for (auto* which : {&fa, &fb}) {
      size_t& i = which == &fa ? ia : ib;
      if (i >= which->size()) continue;
      Outcome o = feed(r, (*which)[i++]);
      if (i < which->size()) {
        CHECK(o == Outcome::Pending);
        continue;
      }
      REQUIRE(o == Outcome::Complete);
      CHECK(r.message() == pass_through(c, which == &fa ? pa : pb));
      ++complete;
    }
  }
  CHECK(complete == 2);
  CHECK(r.bytes_held() == 0);
}

TEST_CASE("a continuation of a sequence never started breaks the protocol", "[dist][fragments]") {
  Reassembler r(1 << 20);
  auto fs = fragments(9, send_control(), binary_term(3000), 1000);
  CHECK(feed(r, fs[1]) == Outcome::Violation);
}

TEST_CASE("fragment ids out of order break the protocol", "[dist][fragments]") {
  Reassembler r(1 << 20);
  auto fs = fragments(9, send_control(), binary_term(5000), 1000);
  REQUIRE(feed(r, fs[0]) == Outcome::Pending);
  CHECK(feed(r, fs[2]) == Outcome::Violation);
}

TEST_CASE("a sequence id started twice breaks the protocol", "[dist][fragments]") {
  Reassembler r(1 << 20);
  auto fs = fragments(9, send_control(), binary_term(5000), 1000);
  REQUIRE(feed(r, fs[0]) == Outcome::Pending);
  CHECK(feed(r, fs[0]) == Outcome::Violation);
}

TEST_CASE("atom cache references in a first fragment break the protocol", "[dist][fragments]") {
  Reassembler r(1 << 20);
  auto fs = fragments(9, send_control(), binary_term(5000), 1000);
  fs[0][18] = 1;
  CHECK(feed(r, fs[0]) == Outcome::Violation);
}

TEST_CASE("a first fragment without a whole control message breaks the protocol", "[dist][fragments]") {
  Reassembler r(1 << 20);
  Bytes f{131, 69};
  put64(f, 1);
  put64(f, 2);
  f.push_back(0);
  f.insert(f.end(), {104, 3, 97});  // a tuple cut short
  CHECK(feed(r, f) == Outcome::Violation);
}

TEST_CASE("a message over the limit is refused alone and its later fragments are dropped", "[dist][fragments]") {
  Reassembler r(20000);
  Bytes c = send_control();
  auto big = fragments(1, c, binary_term(50000), 4000);
  auto small = fragments(2, c, binary_term(6000), 4000);
  REQUIRE(feed(r, small[0]) == Outcome::Pending);
  int refused = 0;
  for (auto& f : big) {
    Outcome o = feed(r, f);
    CHECK(o != Outcome::Violation);
    CHECK(o != Outcome::Complete);
    refused += o == Outcome::Refused;
    CHECK(r.bytes_held() <= 20000);
  }
  CHECK(refused == 1);
  CHECK(r.refused_sequence() == 1);
  REQUIRE(feed(r, small[1]) == Outcome::Complete);
  CHECK(r.message() == pass_through(c, binary_term(6000)));
  CHECK(r.sequences() == 0);
  CHECK(r.bytes_held() == 0);
}

TEST_CASE("unfinished messages of a connection together hold no more than the limit", "[dist][fragments]") {
  Reassembler r(20000);
  Bytes c = send_control();
  // Each message alone is under the limit; the second would take the
  // connection's unfinished bytes over it and is refused.
  auto a = fragments(1, c, binary_term(15000), 5000);
  auto b = fragments(2, c, binary_term(15000), 5000);
  REQUIRE(feed(r, a[0]) == Outcome::Pending);
  REQUIRE(feed(r, a[1]) == Outcome::Pending);
  REQUIRE(feed(r, b[0]) == Outcome::Pending);
  CHECK(feed(r, b[1]) == Outcome::Refused);
  CHECK(r.bytes_held() <= 20000);
  REQUIRE(feed(r, a[2]) == Outcome::Pending);
  REQUIRE(feed(r, a[3]) == Outcome::Complete);
  CHECK(feed(r, b[2]) == Outcome::Pending);
  CHECK(feed(r, b[3]) == Outcome::Pending);  // the refused one's last fragment, dropped
  CHECK(r.sequences() == 0);
}

TEST_CASE("more unfinished sequences than the bound break the protocol", "[dist][fragments]") {
  Reassembler r(1 << 30);
  Bytes c = send_control();
  for (uint64_t s = 0; s < kMaxSequences; ++s)
    REQUIRE(feed(r, fragments(s, c, binary_term(100), 60)[0]) == Outcome::Pending);
  CHECK(feed(r, fragments(kMaxSequences, c, binary_term(100), 60)[0]) == Outcome::Violation);
}

TEST_CASE("random fragment streams never make the reassembler hold more than its limit", "[dist][fragments]") {
  std::mt19937 rng(1234);
  const uint64_t limit = 50000;
  for (int round = 0; round < 200; ++round) {
    Reassembler r(limit);
    for (int i = 0; i < 300; ++i) {
      Bytes f{131, uint8_t(69 + rng() % 2)};
      put64(f, rng() % 8);
      put64(f, rng() % 6);
      if (f[1] == 69) {
        f.push_back(0);
        Bytes c = send_control();
        f.insert(f.end(), c.begin(), c.end());
      }
      f.resize(f.size() + rng() % 9000, 7);
      if (feed(r, f) == Outcome::Violation) break;
      REQUIRE(r.bytes_held() <= limit);
      REQUIRE(r.sequences() <= kMaxSequences);
    }
  }
}

// ------------------------------------------------------------------ forms

TEST_CASE("a header-form frame reads as its pass-through form", "[dist][fragments]") {
  Bytes c = send_control(), p = binary_term(10);
  for (bool with_payload : {true, false}) {
    Bytes body{131, 68, 0};
    body.insert(body.end(), c.begin(), c.end());
    if (with_payload) body.insert(body.end(), p.begin(), p.end());
    wire::Control ctl;
    size_t n;
    REQUIRE(wire::read_header_form(body.data(), body.size(), &ctl, &n));
    Bytes want = pass_through(c, with_payload ? p : Bytes{});
    CHECK(Bytes(body.data(), body.data() + n) == want);
    // The control message read from it is the one read from the
    // pass-through form.
    wire::Control direct;
    REQUIRE(wire::read_control(want.data(), want.size(), &direct));
    CHECK(ctl.op == direct.op);
    CHECK(ctl.arity == direct.arity);
    for (size_t i = 0; i < wire::Control::kKeptItems; ++i) CHECK(ctl.item[i].bytes() == direct.item[i].bytes());
    CHECK(ctl.rest_size == direct.rest_size);
    CHECK(Bytes(ctl.rest, ctl.rest + ctl.rest_size) == Bytes(direct.rest, direct.rest + direct.rest_size));
  }
  Bytes cached{131, 68, 1, 0};  // atom cache references: never negotiated
  wire::Control ctl;
  size_t n;
  CHECK_FALSE(wire::read_header_form(cached.data(), cached.size(), &ctl, &n));
}

TEST_CASE("a frame encoded in header form converts to pass-through form", "[dist][fragments]") {
  Bytes c = send_control(), p = binary_term(10);
  for (bool with_payload : {true, false}) {
    FrameWriter w;
    w.raw(c.data(), c.size());
    if (with_payload) {
      w.payload();
      w.raw(p.data(), p.size());
    }
    Frame* f = w.finish();
    CHECK(f->header_form);
    frame_to_pass_through(f);
    Bytes body = pass_through(c, with_payload ? p : Bytes{});
    Bytes want;
    put32(want, uint32_t(body.size()));
    want.insert(want.end(), body.begin(), body.end());
    CHECK(f->bytes == want);
    frame_to_pass_through(f);  // once
    CHECK(f->bytes == want);
    // And back, as a frame built in pass-through form would be.
    frame_to_header_form(f);
    CHECK(f->header_form);
    CHECK(f->control_end == 7 + c.size());
    delete f;
  }
}

TEST_CASE("a queued frame converts to header form once", "[dist][fragments]") {
  Bytes c = send_control(), p = binary_term(10);
  for (bool with_payload : {true, false}) {
    Bytes body = pass_through(c, with_payload ? p : Bytes{});
    Frame f;
    put32(f.bytes, uint32_t(body.size()));
    f.bytes.insert(f.bytes.end(), body.begin(), body.end());
    frame_to_header_form(&f);
    Bytes want;
    Bytes hb{131, 68, 0};
    hb.insert(hb.end(), c.begin(), c.end());
    if (with_payload) hb.insert(hb.end(), p.begin(), p.end());
    put32(want, uint32_t(hb.size()));
    want.insert(want.end(), hb.begin(), hb.end());
    CHECK(f.bytes == want);
    frame_to_header_form(&f);
    CHECK(f.bytes == want);
  }
}

// ------------------------------------------------------------------ through the connection reader

namespace {

std::atomic<uint64_t> g_received_len{0};
std::atomic<int> g_received{0};

// Notes the length of each message it receives.
void recorder(const uint8_t*) {
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    if (!m) continue;
    g_received_len.store(m->len);
    g_received.fetch_add(1);
  }
}

struct LimitedNode {
  std::string name = "frag" + std::to_string(getpid()) + "@127.0.0.1";
  explicit LimitedNode(const char* limit) {
    setenv("SNOW_DIST_MAX_MESSAGE", limit, 1);
    snow_rt_init();
    REQUIRE(snow_rt_init_actor(2) == 0);
    REQUIRE(snow_node_start(name.data(), name.size(), "cookie", 6) == 0);
    unsetenv("SNOW_DIST_MAX_MESSAGE");
  }
  ~LimitedNode() {
    snow_rt_halt(0);
    snow_rt_run_scheduler();
  }
};

Bytes our_pid(snow_pid_t p) {
  uint8_t buf[300];
  int64_t n = snow_term_encode_pid(p, buf, sizeof buf);
  REQUIRE(n > 1);
  return Bytes(buf + 1, buf + n);
}

void append_frame(Bytes& stream, const Bytes& body) {
  put32(stream, uint32_t(body.size()));
  stream.insert(stream.end(), body.begin(), body.end());
}

bool wait_received(int n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (g_received.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

uint64_t refused_count() {
  snow_stats s;
  std::memset(&s, 0, sizeof s);
  REQUIRE(snow_rt_stats(&s) == 0);
  return s.dist_messages_refused;
}

}  // namespace

TEST_CASE("a fragmented message over the limit is refused and the next one is delivered", "[dist][fragments]") {
  LimitedNode node("100000");
  snow_pid_t target = snow_actor_spawn(recorder, nullptr, 0, 1);
  REQUIRE(target != 0);
  Bytes c = send_control(our_pid(target));
  uint64_t refused_before = refused_count();
  g_received = 0;
  Bytes stream;
  for (auto& f : fragments(5, c, binary_term(300000), 65536)) append_frame(stream, f);
  // An unfragmented frame over the limit is refused the same way.
  Bytes whole{131, 68, 0};
  whole.insert(whole.end(), c.begin(), c.end());
  Bytes big = binary_term(150000);
  whole.insert(whole.end(), big.begin(), big.end());
  append_frame(stream, whole);
  for (auto& f : fragments(6, c, binary_term(70000), 65536)) append_frame(stream, f);
  TestFeed feed;
  feed.start = TestConnStart::Up;
  feed.bytes = stream.data();
  feed.n = stream.size();
  feed.chunk = 5000;
  feed.sweep = true;  // the peer's node table row goes with its connection
  REQUIRE(dist_test_feed(feed) == 0);
  REQUIRE(wait_received(1));
  CHECK(g_received_len.load() == 70000);
  CHECK(refused_count() - refused_before == 2);
}
