// Relations requests (runtime/proc/introspect.h): another thread asks a
// process for its links and monitors, and the process answers itself. These
// check who answers and when: a parked process (woken, nothing added to its
// mailbox), a process asking about itself, a dead pid, and a process that
// exits with the request still queued (answered "gone", never left
// waiting). Processes are spawned through the public ABI; the requests go
// through proc_relations, which rex calls and the ABI does not expose.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/proc/introspect.h"
#include "runtime/proc/process_internal.h"

using namespace snow::rt;

namespace {

// The runtime for one test case; the test body runs as the main process.
struct RuntimeUp {
  RuntimeUp() {
    snow_rt_init();
    REQUIRE(snow_rt_init_actor(2) == 0);
  }
  ~RuntimeUp() {
    snow_rt_halt(0);
    snow_rt_run_scheduler();
  }
  RuntimeUp(const RuntimeUp&) = delete;
  RuntimeUp& operator=(const RuntimeUp&) = delete;
};

using Clock = std::chrono::steady_clock;

// Polls `ready` until it holds or 10 s pass; returns its last answer.
template <class F>
bool wait_for(F&& ready) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!ready()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A process that waits in receive for messages forever.
void waiter(const uint8_t*) {
  for (;;) (void)snow_actor_receive(-1);
}

std::atomic<uint64_t> g_peer{0}, g_watched{0};
std::atomic<int> g_stage{0};

// Links to g_peer, monitors g_watched, says so (stage 1), then waits in
// receive; reports a message's tag as stage 2 + tag.
void relating(const uint8_t*) {
  snow_actor_link(g_peer.load());
  snow_process_monitor(g_watched.load());
  g_stage = 1;
  const snow_msg* m = snow_actor_receive(-1);
  g_stage = 2 + int(m && m->len ? m->data[0] : 100);
  for (;;) (void)snow_actor_receive(-1);
}

std::atomic<uint64_t> g_target{0};
std::atomic<int> g_watching{0};

// Monitors g_target, then waits.
void watching(const uint8_t*) {
  snow_process_monitor(g_target.load());
  g_watching = 1;
  waiter(nullptr);
}

// Runs without reaching a point where it applies signals until one is
// pending (the request), then returns: the exit finds the request queued.
void exits_with_a_request_queued(const uint8_t*) {
  Process* self = proc_current();
  g_stage = 1;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!self->anchor->queue.has_pending() && Clock::now() < deadline) {
  }
}

std::atomic<int> g_self_rc{-1};
std::atomic<size_t> g_self_links{0};

void asks_itself(const uint8_t*) {
  snow_actor_link(g_peer.load());
  ProcessRelations rel;
  g_self_links = 0;
  int32_t rc = proc_relations(snow_actor_self(), &rel, 1000);
  g_self_links = rel.links.size() == 1 && rel.links[0] == g_peer.load() ? 1 : 2;
  g_self_rc = rc;
}

}  // namespace

TEST_CASE("a parked process answers with its links, monitors and watchers, its mailbox untouched", "[relations]") {
  RuntimeUp rt;
  uint64_t peer = snow_actor_spawn(waiter, nullptr, 0, 0);
  uint64_t watched = snow_actor_spawn(waiter, nullptr, 0, 0);
  g_peer = peer;
  g_watched = watched;
  g_stage = 0;
  uint64_t a = snow_actor_spawn(relating, nullptr, 0, 0);
  REQUIRE(wait_for([] { return g_stage.load() == 1; }));
  g_target = a;
  g_watching = 0;
  uint64_t watcher = snow_actor_spawn(watching, nullptr, 0, 0);
  REQUIRE(wait_for([] { return g_watching.load() == 1; }));
  snow_proc_info info;
  REQUIRE(wait_for([&] { return snow_process_info(a, &info) == 0 && info.status == SNOW_PROC_WAITING; }));

  ProcessRelations rel;
  REQUIRE(proc_relations(a, &rel, 10000) == 0);
  CHECK(rel.links == std::vector<uint64_t>{peer});
  CHECK(rel.monitors == std::vector<uint64_t>{watched});
  CHECK(rel.monitored_by == std::vector<uint64_t>{watcher});
  // The peer's side of the link, and the watched process's watcher.
  REQUIRE(proc_relations(peer, &rel, 10000) == 0);
  CHECK(rel.links == std::vector<uint64_t>{a});
  REQUIRE(proc_relations(watched, &rel, 10000) == 0);
  CHECK(rel.monitored_by == std::vector<uint64_t>{a});
  CHECK(rel.links.empty());

  // Nothing reached the mailbox: the first message a receives is ours.
  REQUIRE(snow_process_info(a, &info) == 0);
  CHECK(info.message_queue_len == 0);
  CHECK(g_stage.load() == 1);
  uint8_t msg[8] = {7};
  REQUIRE(snow_actor_send(a, msg, sizeof msg) == 0);
  REQUIRE(wait_for([] { return g_stage.load() != 1; }));
  CHECK(g_stage.load() == 2 + 7);
}

TEST_CASE("a process that exits with a relations request queued answers it: gone", "[relations]") {
  RuntimeUp rt;
  g_stage = 0;
  uint64_t p = snow_actor_spawn(exits_with_a_request_queued, nullptr, 0, 0);
  REQUIRE(wait_for([] { return g_stage.load() == 1; }));
  ProcessRelations rel;
  rel.links.push_back(1);
  auto t0 = Clock::now();
  // Thirty seconds: an exit that dropped the request would leave this
  // waiting out the whole deadline and return SNOW_ETIMEDOUT.
  int32_t rc = proc_relations(p, &rel, 30000);
  CHECK(rc == SNOW_ENOPROC);
  CHECK(rel.links.empty());
  CHECK(Clock::now() - t0 < std::chrono::seconds(20));
}

TEST_CASE("a relations request to a dead pid is answered gone at once", "[relations]") {
  RuntimeUp rt;
  uint64_t p = snow_actor_spawn(waiter, nullptr, 0, 0);
  snow_ref_t ref = snow_process_monitor(p);
  REQUIRE(ref != 0);
  REQUIRE(snow_actor_exit(p, SNOW_REASON_KILLED) == 0);
  const snow_msg* down = snow_actor_receive(10000);
  REQUIRE(down != nullptr);
  REQUIRE(snow_msg_kind(down) == SNOW_MSG_DOWN);
  ProcessRelations rel;
  auto t0 = Clock::now();
  CHECK(proc_relations(p, &rel, 30000) == SNOW_ENOPROC);
  CHECK(Clock::now() - t0 < std::chrono::seconds(20));
  CHECK(proc_relations(0, &rel, 1000) == SNOW_ENOPROC);
}

TEST_CASE("a process asking about itself is answered at once", "[relations]") {
  RuntimeUp rt;
  g_peer = snow_actor_spawn(waiter, nullptr, 0, 0);
  g_self_rc = -1;
  (void)snow_actor_spawn(asks_itself, nullptr, 0, 0);
  REQUIRE(wait_for([] { return g_self_rc.load() != -1; }));
  CHECK(g_self_rc.load() == 0);
  CHECK(g_self_links.load() == 1);
}

TEST_CASE("relations of a running process that never reaches a safepoint time out", "[relations]") {
  RuntimeUp rt;
  g_stage = 0;
  // Spins until the request is pending, then (the request unanswered)
  // spins on until the test lets it go: the requester's deadline ends the
  // wait, not an answer.
  static std::atomic<bool> release{false};
  release = false;
  uint64_t p = snow_actor_spawn(
      [](const uint8_t*) {
        g_stage = 1;
        auto deadline = Clock::now() + std::chrono::seconds(20);
        while (!release.load() && Clock::now() < deadline) {
        }
        for (;;) (void)snow_actor_receive(-1);
      },
      nullptr, 0, 0);
  REQUIRE(wait_for([] { return g_stage.load() == 1; }));
  ProcessRelations rel;
  CHECK(proc_relations(p, &rel, 200) == SNOW_ETIMEDOUT);
  release = true;
  // Once it receives, it answers the next request (and drops the late one).
  CHECK(proc_relations(p, &rel, 10000) == 0);
}
