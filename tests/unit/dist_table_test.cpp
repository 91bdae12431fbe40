// The node table under hostile and long-running peers, driven through the
// connection reader's test seam (dist_test_feed): nothing is kept for a
// peer without the cookie, handles nothing needs are reclaimed, and pids
// naming nodes that cannot exist are refused.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/dist/dist.h"
#include "runtime/dist/node_table.h"

using namespace snow::rt;

namespace {

using Bytes = std::vector<uint8_t>;

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void atom(Bytes& b, const std::string& a) {
  b.push_back(119);  // SMALL_ATOM_UTF8_EXT
  b.push_back(uint8_t(a.size()));
  b.insert(b.end(), a.begin(), a.end());
}

void pid(Bytes& b, const std::string& node, uint32_t id, uint32_t serial, uint32_t creation) {
  b.push_back(88);  // NEW_PID_EXT
  atom(b, node);
  put32(b, id);
  put32(b, serial);
  put32(b, creation);
}

// A pass-through frame [u32 len][112][131 control][131 payload...].
Bytes frame(const Bytes& control, const Bytes& payload = {}) {
  Bytes body{112, 131};
  body.insert(body.end(), control.begin(), control.end());
  if (!payload.empty()) {
    body.push_back(131);
    body.insert(body.end(), payload.begin(), payload.end());
  }
  Bytes out;
  put32(out, uint32_t(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// Starts the runtime and a node named uniquely for this test process.
struct Node {
  std::string name = "unit" + std::to_string(getpid()) + "@127.0.0.1";
  Node() {
    snow_rt_init();
    REQUIRE(snow_rt_init_actor(2) == 0);
    REQUIRE(snow_node_start(name.data(), name.size(), "cookie", 6) == 0);
  }
  ~Node() {
    snow_rt_halt(0);
    snow_rt_run_scheduler();
  }
};

void idle_trapping(const uint8_t*) {
  snow_actor_set_trap_exit(true);
  for (;;) snow_actor_receive(-1);
}

// Our pid's external term format (no version byte).
Bytes our_pid(snow_pid_t p) {
  uint8_t buf[300];
  int64_t n = snow_term_encode_pid(p, buf, sizeof buf);
  REQUIRE(n > 1);
  return Bytes(buf + 1, buf + n);
}

void feed(TestConnStart start, const Bytes& bytes, bool sweep = false, const std::string& peer = "peer@127.0.0.1") {
  TestFeed f;
  f.start = start;
  f.bytes = bytes.data();
  f.n = bytes.size();
  f.peer = peer;
  f.sweep = sweep;
  REQUIRE(dist_test_feed(f) == 0);
}

// What each row holds, for failure messages.
std::string table_summary() {
  std::string out;
  for (NodeEntry* e : entries_in_use()) {
    std::lock_guard<std::mutex> lk(e->mu);
    size_t young = 0, exposed = 0, dead = 0;
    for (auto& [number, p] : e->pids) {
      young += p.young;
      exposed += p.exposed;
      dead += p.dead;
    }
    out += e->name + " creation " + std::to_string(e->creation) + ": " + std::to_string(e->pids.size()) +
           " pids (young " + std::to_string(young) + ", exposed " + std::to_string(exposed) + ", dead " +
           std::to_string(dead) + "), " + std::to_string(e->links.size()) + " links, " +
           std::to_string(e->monitors.size() + e->peer_monitors.size()) + " monitors; ";
  }
  return out;
}

}  // namespace

TEST_CASE("handshake names from peers without the cookie take no node table rows", "[dist]") {
  Node node;
  NodeTableCounts before = node_table_counts();
  for (int i = 0; i < 70000; ++i) {
    // A name message for a new node each time, then the peer goes away
    // (it cannot answer the challenge).
    std::string name = "n" + std::to_string(i) + "@10.0.0." + std::to_string(i % 250);
    Bytes msg{'N'};
    for (int k = 0; k < 8; ++k) msg.push_back(0xff);  // every flag
    put32(msg, uint32_t(i + 1));
    msg.push_back(uint8_t(name.size() >> 8));
    msg.push_back(uint8_t(name.size()));
    msg.insert(msg.end(), name.begin(), name.end());
    Bytes framed{uint8_t(msg.size() >> 8), uint8_t(msg.size())};
    framed.insert(framed.end(), msg.begin(), msg.end());
    feed(TestConnStart::Incoming, framed, i % 1000 == 999);
  }
  NodeTableCounts after = node_table_counts();
  CHECK(after.entries == before.entries);
  CHECK(after.pids == before.pids);
}

TEST_CASE("handles of remote processes that linked and exited are reclaimed", "[dist]") {
  Node node;
  snow_pid_t target = snow_actor_spawn(idle_trapping, nullptr, 0, 1);
  REQUIRE(target != 0);
  Bytes to = our_pid(target);
  const int n = 20000;
  Bytes stream;
  for (int k = 0; k < n; ++k) {
    Bytes from;
    pid(from, "peer@127.0.0.1", uint32_t(k), 0, 7);
    Bytes link{104, 3, 97, 1};  // {1, From, To}
    link.insert(link.end(), from.begin(), from.end());
    link.insert(link.end(), to.begin(), to.end());
    Bytes f1 = frame(link);
    stream.insert(stream.end(), f1.begin(), f1.end());
    Bytes exit{104, 4, 97, 3};  // {3, From, To, normal}
    exit.insert(exit.end(), from.begin(), from.end());
    exit.insert(exit.end(), to.begin(), to.end());
    atom(exit, "normal");
    Bytes f2 = frame(exit);
    stream.insert(stream.end(), f2.begin(), f2.end());
  }
  TestFeed f;
  f.start = TestConnStart::Up;
  f.bytes = stream.data();
  f.n = stream.size();
  f.peer_creation = 7;
  REQUIRE(dist_test_feed(f) == 0);
  // Two sweeps: handles decoded since the last sweep survive one, and dead
  // ones are kept for the grace time (their EXITs may wait in a mailbox).
  feed(TestConnStart::Incoming, {}, true);
  feed(TestConnStart::Incoming, {}, true);
  INFO(table_summary());
  CHECK(node_table_counts().pids >= uint64_t(n));
  // Once the grace time is over, the next sweep reclaims them.
  handles_set_dead_grace(0);
  feed(TestConnStart::Incoming, {}, true);
  handles_set_dead_grace(kDeadHandleGraceNs);
  INFO(table_summary());
  CHECK(node_table_counts().pids < 16);
}

TEST_CASE("pids naming a node that cannot exist take no row", "[dist]") {
  Node node;
  snow_pid_t target = snow_actor_spawn(idle_trapping, nullptr, 0, 1);
  REQUIRE(target != 0);
  Bytes to = our_pid(target);
  Bytes stream;
  for (const char* bad : {"", "x", "@", "a@", "@b", "a@b:4369", "a@b/c", "a b@c"}) {
    Bytes link{104, 3, 97, 1};
    pid(link, bad, 1, 0, 1);
    link.insert(link.end(), to.begin(), to.end());
    Bytes f1 = frame(link);
    stream.insert(stream.end(), f1.begin(), f1.end());
  }
  TestFeed f;
  f.start = TestConnStart::Up;
  f.bytes = stream.data();
  f.n = stream.size();
  REQUIRE(dist_test_feed(f) == 0);
  for (NodeEntry* e : entries_in_use()) {
    std::lock_guard<std::mutex> lk(e->mu);
    CHECK(e->name == "peer@127.0.0.1");
  }
}
