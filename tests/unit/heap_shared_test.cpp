// Values carried by messages (runtime/heap shared region): promotion at
// export, tickets in flight, external references, orphans after the
// sender's exit, unsharing, bounded memory, and the shared collection
// running concurrently with senders and receivers.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "runtime/heap/heap.h"
#include "tests/unit/heap_test_util.h"

using namespace snow::rt;
using heap_test::alive;
using heap_test::TestHeap;

namespace {

void collect_with(Heap* h, std::vector<uintptr_t> words) {
  HeapRoots r;
  r.words = words.data();
  r.word_count = words.size();
  heap_collect(h, r);
}

// A Snow-style string: [u64 len][bytes].
char* make_string(Heap* h, const char* text) {
  size_t n = std::strlen(text);
  auto* s = static_cast<char*>(heap_alloc(h, 8 + n, 8));
  uint64_t len = n;
  std::memcpy(s, &len, 8);
  std::memcpy(s + 8, text, n);
  return s;
}

bool string_is(const char* s, const char* text) {
  uint64_t len;
  std::memcpy(&len, s, 8);
  return len == std::strlen(text) && std::memcmp(s + 8, text, len) == 0;
}

// A message payload carrying one address, as the compiler sends it.
ExportTicket* send_addr(Heap* sender, const void* p) {
  uint64_t payload[2] = {42, reinterpret_cast<uintptr_t>(p)};
  return heap_export(sender, payload, sizeof payload);
}

struct Pair {
  Pair* next;
  char* str;
};

// Leaves the shared region as the test found it (nothing orphaned or in
// flight), so each test's figures are its own. Starts with a shared
// collection: what earlier tests (processes that exited) left unreachable
// is reclaimed before the figures are taken.
struct SharedBaseline {
  SharedStats before = (shared_collect(), shared_stats());
  void check_back() {
    shared_collect();
    SharedStats now = shared_stats();
    CHECK(now.orphan_bytes == before.orphan_bytes);
    CHECK(now.tickets == before.tickets);
  }
};

}  // namespace

TEST_CASE("a payload without heap addresses needs no ticket", "[heap][shared]") {
  TestHeap a;
  heap_alloc(a.h, 32, 16);
  uint64_t payload[3] = {1, 2, 0xdeadbeef};
  CHECK(heap_export(a.h, payload, sizeof payload) == nullptr);
  CHECK(heap_export(a.h, payload, 7) == nullptr);
}

TEST_CASE("an exported value and everything it reaches survive the sender's collections", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a, b;
    auto* p1 = static_cast<Pair*>(heap_alloc(a.h, sizeof(Pair), 16));
    auto* p2 = static_cast<Pair*>(heap_alloc(a.h, sizeof(Pair), 16));
    p1->next = p2;
    p1->str = make_string(a.h, "first");
    p2->str = make_string(a.h, "second");
    void* unrelated = heap_alloc(a.h, 32, 16);
    ExportTicket* t = send_addr(a.h, p1);
    REQUIRE(t != nullptr);
    CHECK(heap_object_is_shared(p1));
    CHECK(heap_object_is_shared(p2->str));
    CHECK_FALSE(heap_object_is_shared(unrelated));
    collect_with(a.h, {});  // the sender keeps no reference
    CHECK(alive(p1));
    CHECK(alive(p2));
    CHECK(string_is(p2->str, "second"));
    CHECK_FALSE(alive(unrelated));
    heap_import(b.h, t);
    CHECK(string_is(p1->str, "first"));
  }
  base.check_back();
}

TEST_CASE("a value outlives its sender's exit while the receiver holds it, then is freed", "[heap][shared]") {
  SharedBaseline base;
  TestHeap b;
  Heap* a = heap_create();
  char* s = make_string(a, "worker result");
  ExportTicket* t = send_addr(a, s);
  heap_destroy(a);  // the worker exits before its message is read
  CHECK(shared_stats().orphan_bytes > base.before.orphan_bytes);
  heap_import(b.h, t);
  collect_with(b.h, {reinterpret_cast<uintptr_t>(s)});
  shared_collect();
  CHECK(alive(s));
  CHECK(string_is(s, "worker result"));
  CHECK(heap_stats(b.h).external_refs == 1);
  collect_with(b.h, {});  // the receiver lets go
  CHECK(heap_stats(b.h).external_refs == 0);
  shared_collect();
  CHECK_FALSE(alive(s));
  base.check_back();
}

TEST_CASE("a ticket in flight keeps its objects alive across shared collections", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a, b;
    char* s = make_string(a.h, "in flight");
    ExportTicket* t = send_addr(a.h, s);
    shared_collect();
    collect_with(a.h, {});
    shared_collect();
    CHECK(heap_object_is_shared(s));
    CHECK(alive(s));
    heap_import(b.h, t);
    CHECK(string_is(s, "in flight"));
  }
  base.check_back();
}

TEST_CASE("shared objects no process reaches are unshared, then freed by their owner", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a, b;
    char* s = make_string(a.h, "short-lived");
    heap_import(b.h, send_addr(a.h, s));
    collect_with(b.h, {});  // the receiver forgets it
    shared_collect();
    CHECK_FALSE(heap_object_is_shared(s));
    CHECK(alive(s));  // the owner has not collected yet
    collect_with(a.h, {});
    CHECK_FALSE(alive(s));
    CHECK(shared_stats().unshared_bytes >= 16);
  }
  base.check_back();
}

TEST_CASE("the owner keeps an unshared object it still reaches", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a;
    char* s = make_string(a.h, "mine again");
    heap_ticket_drop(send_addr(a.h, s));  // sent to a dead process
    shared_collect();
    CHECK_FALSE(heap_object_is_shared(s));
    collect_with(a.h, {reinterpret_cast<uintptr_t>(s)});
    CHECK(alive(s));
    CHECK(string_is(s, "mine again"));
  }
  base.check_back();
}

TEST_CASE("a value forwarded to a third process stays alive after the first two let go", "[heap][shared]") {
  SharedBaseline base;
  TestHeap c;
  {
    TestHeap b;
    Heap* a = heap_create();
    char* s = make_string(a, "relayed");
    heap_import(b.h, send_addr(a, s));
    ExportTicket* to_c = send_addr(b.h, s);  // b forwards a's object
    REQUIRE(to_c != nullptr);
    heap_destroy(a);
    collect_with(b.h, {});
    shared_collect();
    heap_import(c.h, to_c);
    shared_collect();
    CHECK(string_is(s, "relayed"));
    collect_with(c.h, {});
    shared_collect();
    CHECK_FALSE(alive(s));
  }
  base.check_back();
}

TEST_CASE("a value built from received values keeps them alive through the new value", "[heap][shared]") {
  SharedBaseline base;
  TestHeap c;
  char* inner;
  Pair* outer;
  {
    TestHeap b;
    Heap* a = heap_create();
    inner = make_string(a, "inner");
    heap_import(b.h, send_addr(a, inner));
    heap_destroy(a);
    outer = static_cast<Pair*>(heap_alloc(b.h, sizeof(Pair), 16));
    outer->str = inner;
    heap_import(c.h, send_addr(b.h, outer));
    collect_with(b.h, {});  // b keeps outer only because it is shared
    collect_with(c.h, {reinterpret_cast<uintptr_t>(outer)});
    CHECK(heap_stats(c.h).external_refs == 1);  // outer; inner is reached through it
    shared_collect();
    CHECK(string_is(outer->str, "inner"));
    collect_with(c.h, {});
  }
  shared_collect();
  CHECK_FALSE(alive(inner));
  CHECK_FALSE(alive(outer));
  base.check_back();
}

TEST_CASE("large and huge shared objects are orphaned and freed like small ones", "[heap][shared]") {
  SharedBaseline base;
  TestHeap b;
  Heap* a = heap_create();
  auto* large = static_cast<char*>(heap_alloc(a, 200 * 1024, 16));
  auto* huge = static_cast<char*>(heap_alloc(a, 2 * 1024 * 1024, 16));
  large[5] = 'L';
  huge[5] = 'H';
  heap_import(b.h, send_addr(a, large));
  heap_import(b.h, send_addr(a, huge));
  heap_destroy(a);
  collect_with(b.h, {reinterpret_cast<uintptr_t>(large), reinterpret_cast<uintptr_t>(huge)});
  shared_collect();
  CHECK(large[5] == 'L');
  CHECK(huge[5] == 'H');
  collect_with(b.h, {});
  shared_collect();
  CHECK_FALSE(alive(large));
  CHECK_FALSE(alive(huge));
  base.check_back();
}

TEST_CASE("imported references are trimmed by the receiver's next collection", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a, b;
    std::vector<uintptr_t> keep;
    for (int i = 0; i < 100; ++i) {
      char* s = make_string(a.h, "x");
      heap_import(b.h, send_addr(a.h, s));
      if (i < 3) keep.push_back(reinterpret_cast<uintptr_t>(s));
    }
    CHECK(heap_stats(b.h).external_refs == 100);
    CHECK(heap_wants_collect(b.h));
    collect_with(b.h, keep);
    CHECK(heap_stats(b.h).external_refs == 3);
    CHECK_FALSE(heap_wants_collect(b.h));
  }
  base.check_back();
}

TEST_CASE("a server that sends new strings forever keeps bounded memory", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap server, client;
    uintptr_t client_slot = 0;  // the client's one live reference
    uint64_t max_server = 0;
    constexpr int kSends = 100000;  // 26 MB of strings in total
    char text[241];
    std::memset(text, 'a', 240);
    text[240] = 0;
    for (int i = 0; i < kSends; ++i) {
      char* s = make_string(server.h, text);
      heap_import(client.h, send_addr(server.h, s));
      client_slot = reinterpret_cast<uintptr_t>(s);
      if (heap_wants_collect(client.h)) collect_with(client.h, {client_slot});
      if (heap_wants_collect(server.h)) collect_with(server.h, {});
      if (shared_wants_collect()) shared_collect();
      max_server = std::max(max_server, heap_stats(server.h).heap_bytes);
    }
    CHECK(string_is(reinterpret_cast<char*>(client_slot), text));
    CHECK(shared_stats().cycles > base.before.cycles);
    CHECK(max_server < 16u << 20);
  }
  base.check_back();
}

namespace {
// The window test: the collector stops inside its marking phase (after the
// tickets, before the external references) until the test lets it go.
std::mutex g_window_mu;
std::condition_variable g_window_cv;
int g_window_state = 0;  // 1: collector waiting, 2: released

void window_hook() {
  std::unique_lock<std::mutex> lk(g_window_mu);
  g_window_state = 1;
  g_window_cv.notify_all();
  g_window_cv.wait(lk, [] { return g_window_state == 2; });
}
}  // namespace

TEST_CASE("a reference handed on while a shared collection marks is not lost", "[heap][shared]") {
  SharedBaseline base;
  {
    TestHeap a, b, c;
    char* s = make_string(a.h, "handed on");
    heap_import(b.h, send_addr(a.h, s));
    collect_with(a.h, {});  // only b holds it now
    g_window_state = 0;
    heap_debug_set_shared_cycle_hook(window_hook);
    std::thread collector([] { shared_collect(); });
    {
      std::unique_lock<std::mutex> lk(g_window_mu);
      g_window_cv.wait(lk, [] { return g_window_state == 1; });
    }
    // Tickets were read; b's references were not yet. b passes the value on
    // and forgets it before the collector looks at b.
    ExportTicket* to_c = send_addr(b.h, s);
    collect_with(b.h, {});
    {
      std::lock_guard<std::mutex> lk(g_window_mu);
      g_window_state = 2;
    }
    g_window_cv.notify_all();
    collector.join();
    heap_debug_set_shared_cycle_hook(nullptr);
    collect_with(a.h, {});  // frees it if the cycle wrongly unshared it
    heap_import(c.h, to_c);
    CHECK(alive(s));
    CHECK(heap_object_is_shared(s));
    CHECK(string_is(s, "handed on"));
  }
  base.check_back();
}

namespace {

// Stress: mutator threads send each other lists of strings, keep some and
// forward some, while another thread runs shared collections back to back. Every value a
// thread holds must read back intact.
struct Mailbox {
  std::mutex mu;
  std::deque<std::pair<ExportTicket*, uintptr_t>> q;
};

constexpr int kMutators = 3;
constexpr int kListLen = 4;
constexpr size_t kSlots = 16;

uintptr_t build_value(Heap* h, uint32_t seed) {
  Pair* head = nullptr;
  for (int i = kListLen - 1; i >= 0; --i) {
    auto* p = static_cast<Pair*>(heap_alloc(h, sizeof(Pair), 16));
    char text[32];
    std::snprintf(text, sizeof text, "v%u.%d", seed, i);
    p->str = make_string(h, text);
    p->next = head;
    head = p;
  }
  return reinterpret_cast<uintptr_t>(head);
}

bool check_value(uintptr_t v, uint32_t seed) {
  auto* p = reinterpret_cast<Pair*>(v);
  for (int i = 0; i < kListLen; ++i, p = p->next) {
    if (!p) return false;
    char text[32];
    std::snprintf(text, sizeof text, "v%u.%d", seed, i);
    if (!string_is(p->str, text)) return false;
  }
  return p == nullptr;
}

uint32_t seed_of(uintptr_t v) {
  auto* p = reinterpret_cast<Pair*>(v);
  return uint32_t(std::strtoul(p->str + 9, nullptr, 10));
}

}  // namespace

TEST_CASE("values sent while shared collections run are never lost", "[heap][shared]") {
  SharedBaseline base;
  double scale = 1.0;
  if (const char* s = std::getenv("SNOW_TEST_SCALE")) scale = std::atof(s);
  const int iters = std::max(200, int(20000 * scale));
  Mailbox boxes[kMutators];
  Heap* heaps[kMutators];
  for (Heap*& h : heaps) h = heap_create();
  std::atomic<int> running{kMutators};
  std::atomic<int> bad{0};
  std::atomic<int> received{0};
  std::thread collector([&] {
    while (running.load() > 0) shared_collect();
  });
  std::vector<std::thread> mutators;
  for (int id = 0; id < kMutators; ++id) {
    mutators.emplace_back([&, id] {
      Heap* h = heaps[id];
      std::vector<uintptr_t> slots(kSlots, 0);  // what this "process" holds
      std::mt19937 rng(uint32_t(id) * 7919u + 1);
      auto roots = [&] {
        HeapRange r{slots.data(), slots.data() + slots.size()};
        heap_collect(h, HeapRoots{&r, 1, nullptr, 0});
      };
      auto receive_all = [&] {
        std::deque<std::pair<ExportTicket*, uintptr_t>> got;
        {
          std::lock_guard<std::mutex> lk(boxes[id].mu);
          got.swap(boxes[id].q);
        }
        for (auto& [t, v] : got) {
          heap_import(h, t);
          if (!check_value(v, seed_of(v))) bad.fetch_add(1);
          slots[rng() % kSlots] = v;
          received.fetch_add(1);
        }
      };
      for (int i = 0; i < iters; ++i) {
        uint32_t seed = uint32_t(id) * 1000000u + uint32_t(i);
        uintptr_t v;
        size_t slot = rng() % kSlots;
        if (i % 3 == 0 && slots[slot]) {
          // Forward a value received from someone else, and let go of it:
          // the reference moves from this heap to a ticket mid-cycle.
          v = slots[slot];
          slots[slot] = 0;
        } else {
          v = build_value(h, seed);
        }
        uint64_t payload[2] = {7, v};
        ExportTicket* t = heap_export(h, payload, sizeof payload);
        if (!t) bad.fetch_add(1);
        int to = int(rng() % kMutators);
        {
          std::lock_guard<std::mutex> lk(boxes[to].mu);
          boxes[to].q.emplace_back(t, v);
        }
        receive_all();
        for (uintptr_t s : slots)
          if (s && !check_value(s, seed_of(s))) bad.fetch_add(1);
        if (heap_wants_collect(h) || i % 16 == 0) roots();
      }
      running.fetch_sub(1);
      // Drain what others still send after we stopped sending.
      while (running.load() > 0) {
        receive_all();
        std::this_thread::yield();
      }
      receive_all();
      roots();
      for (uintptr_t s : slots)
        if (s && !check_value(s, seed_of(s))) bad.fetch_add(1);
    });
  }
  for (auto& m : mutators) m.join();
  collector.join();
  for (Mailbox& b : boxes)  // sent to a thread after its last receive
    for (auto& [t, v] : b.q) {
      received.fetch_add(1);
      heap_ticket_drop(t);
    }
  CHECK(bad.load() == 0);
  CHECK(received.load() == kMutators * iters);
  for (Heap* h : heaps) heap_destroy(h);
  base.check_back();
}
