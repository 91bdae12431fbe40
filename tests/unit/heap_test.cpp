// The per-process collected heap (runtime/heap): allocation, conservative
// marking from ranges and words, sweeping, sizing, memory given back, ASan
// poisoning. The shared region is in heap_shared_test.cpp.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "runtime/heap/heap.h"
#include "tests/unit/heap_test_util.h"

#if defined(SNOW_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#endif

using namespace snow::rt;
using heap_test::alive;
using heap_test::TestHeap;

namespace {

// Collects with one root range (a stand-in for a process stack or a message
// buffer) and optional single words (stand-ins for saved registers).
void collect(Heap* h, const void* lo = nullptr, size_t bytes = 0, std::vector<uintptr_t> words = {}) {
  HeapRange r{lo, static_cast<const char*>(lo) + bytes};
  HeapRoots roots;
  if (lo) {
    roots.ranges = &r;
    roots.range_count = 1;
  }
  roots.words = words.data();
  roots.word_count = words.size();
  heap_collect(h, roots);
}

struct Node {
  Node* next;
  uint64_t value;
};

Node* make_list(Heap* h, size_t n) {
  Node* head = nullptr;
  for (size_t i = 0; i < n; ++i) {
    auto* node = static_cast<Node*>(heap_alloc(h, sizeof(Node), 16));
    node->next = head;
    node->value = i;
    head = node;
  }
  return head;
}

}  // namespace

TEST_CASE("an object referenced from a stack range survives a collection and an unreferenced one is freed", "[heap]") {
  TestHeap t;
  void* kept = heap_alloc(t.h, 40, 16);
  void* lost = heap_alloc(t.h, 40, 16);
  std::memset(kept, 0x5A, 40);
  // Only the ranges given are scanned (not this function's real stack).
  uintptr_t stack[8] = {1, 2, reinterpret_cast<uintptr_t>(kept), 3};
  collect(t.h, stack, sizeof stack);
  CHECK(alive(kept));
  CHECK_FALSE(alive(lost));
  CHECK(static_cast<unsigned char*>(kept)[39] == 0x5A);
  CHECK(heap_stats(t.h).live_bytes == 48);
}

TEST_CASE("an object referenced only from a saved register word survives", "[heap]") {
  TestHeap t;
  void* p = heap_alloc(t.h, 24, 8);
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(p)});
  CHECK(alive(p));
  collect(t.h);
  CHECK_FALSE(alive(p));
}

TEST_CASE("spilled callee-saved registers and caller frames are covered by the range from sp", "[heap]") {
  struct Probe {
    const void* sp = nullptr;
    uintptr_t local_addr = 0;
  } probe;
  volatile uintptr_t marker = 0x1234;
  probe.local_addr = reinterpret_cast<uintptr_t>(&marker);
  heap_with_registers_spilled([](const void* sp, void* ctx) { static_cast<Probe*>(ctx)->sp = sp; }, &probe);
  // The caller's locals lie above the spill area on a downward stack.
  CHECK(reinterpret_cast<uintptr_t>(probe.sp) < probe.local_addr);
}

TEST_CASE("a pointer anywhere inside an object keeps the whole object", "[heap]") {
  TestHeap t;
  auto* a = static_cast<char*>(heap_alloc(t.h, 100, 16));  // 112 bytes with padding
  auto* b = static_cast<char*>(heap_alloc(t.h, 100, 16));
  auto* c = static_cast<char*>(heap_alloc(t.h, 100, 16));
  const void* start = nullptr;
  uint64_t size = 0;
  REQUIRE(heap_find_object(a + 57, &start, &size));
  CHECK(start == a);
  CHECK(size == 112);
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(a + 50), reinterpret_cast<uintptr_t>(b + 111)});
  CHECK(alive(a));
  CHECK(alive(b));
  CHECK_FALSE(alive(c));
}

TEST_CASE("objects reachable only through other objects survive, at any depth", "[heap]") {
  TestHeap t;
  // A binary tree of depth 12 whose nodes are reachable only from the root.
  struct Tree {
    Tree* left;
    Tree* right;
  };
  std::vector<Tree*> level{static_cast<Tree*>(heap_alloc(t.h, sizeof(Tree), 16))};
  Tree* root = level[0];
  std::vector<Tree*> all{root};
  for (int d = 0; d < 12; ++d) {
    std::vector<Tree*> next;
    for (Tree* n : level) {
      n->left = static_cast<Tree*>(heap_alloc(t.h, sizeof(Tree), 16));
      n->right = static_cast<Tree*>(heap_alloc(t.h, sizeof(Tree), 16));
      next.push_back(n->left);
      next.push_back(n->right);
    }
    all.insert(all.end(), next.begin(), next.end());
    level.swap(next);
  }
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(root)});
  size_t live = 0;
  for (Tree* n : all) live += alive(n);
  CHECK(live == all.size());
  CHECK(heap_stats(t.h).live_bytes == all.size() * 16);
}

TEST_CASE("an unreachable cycle is freed and a reachable one is kept", "[heap]") {
  TestHeap t;
  auto* a = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));
  auto* b = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));
  a->next = b;
  b->next = a;
  auto* c = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));
  auto* d = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));
  c->next = d;
  d->next = c;
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(a)});
  CHECK(alive(a));
  CHECK(alive(b));
  CHECK_FALSE(alive(c));
  CHECK_FALSE(alive(d));
}

namespace {
struct ListJob {
  Heap* h;
  Node* head;
  size_t counted_after_keep = 0;
  uint64_t live_after_keep = 0;
  uint64_t live_after_drop = 0;
};

void* run_list_job(void* arg) {
  auto* j = static_cast<ListJob*>(arg);
  uintptr_t root = reinterpret_cast<uintptr_t>(j->head);
  heap_collect(j->h, HeapRoots{nullptr, 0, &root, 1});
  j->live_after_keep = heap_stats(j->h).live_bytes;
  for (Node* n = j->head; n; n = n->next) ++j->counted_after_keep;
  heap_collect(j->h, HeapRoots{});
  j->live_after_drop = heap_stats(j->h).live_bytes;
  return nullptr;
}
}  // namespace

TEST_CASE("a million-element list is marked without recursion and freed when dropped", "[heap]") {
  TestHeap t;
  constexpr size_t kN = 1000000;
  ListJob job{t.h, make_list(t.h, kN)};
  // Collect on a thread with a 128 KiB stack: a recursive marker would
  // need a frame per element and crash.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  pthread_t th;
  REQUIRE(pthread_create(&th, &attr, run_list_job, &job) == 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
  CHECK(job.counted_after_keep == kN);
  CHECK(job.live_after_keep == kN * 16);
  CHECK(job.live_after_drop == 0);
}

TEST_CASE("an object referenced only from a message buffer survives", "[heap]") {
  TestHeap t;
  auto* s = static_cast<char*>(heap_alloc(t.h, 5 + 8, 8));
  std::memcpy(s + 8, "hello", 5);
  // A received message outside the heap: [tag][len][payload with the address].
  std::vector<uint8_t> msg(16 + 8);
  uintptr_t addr = reinterpret_cast<uintptr_t>(s);
  std::memcpy(msg.data() + 16, &addr, 8);
  addr = 0;
  collect(t.h, msg.data(), msg.size());
  CHECK(alive(s));
  CHECK(std::memcmp(s + 8, "hello", 5) == 0);
}

TEST_CASE("large and huge objects are kept through interior pointers and freed when unreachable", "[heap]") {
  TestHeap t;
  auto* large = static_cast<char*>(heap_alloc(t.h, 100 * 1024, 64));
  auto* huge = static_cast<char*>(heap_alloc(t.h, 3 * 1024 * 1024 + 5, 4096));
  REQUIRE(large);
  REQUIRE(huge);
  CHECK(reinterpret_cast<uintptr_t>(huge) % 4096 == 0);
  large[100 * 1024 - 1] = 7;
  huge[3 * 1024 * 1024 + 4] = 9;
  uint64_t before = heap_stats(t.h).heap_bytes;
  collect(t.h, nullptr, 0,
          {reinterpret_cast<uintptr_t>(large + 99 * 1024), reinterpret_cast<uintptr_t>(huge + 3 * 1024 * 1024)});
  CHECK(alive(large));
  CHECK(alive(huge));
  CHECK(large[100 * 1024 - 1] == 7);
  CHECK(huge[3 * 1024 * 1024 + 4] == 9);
  CHECK(heap_stats(t.h).live_bytes >= 100 * 1024 + 3 * 1024 * 1024);
  collect(t.h);
  CHECK_FALSE(alive(large));
  CHECK_FALSE(alive(huge));
  CHECK(heap_stats(t.h).heap_bytes < before - 3 * 1024 * 1024);
}

TEST_CASE("a heap grows with its live data and shrinks after the data is dropped", "[heap]") {
  TestHeap t;
  std::vector<void*> keep;
  for (int i = 0; i < 20000; ++i) keep.push_back(heap_alloc(t.h, 500, 16));  // ~10 MiB live
  collect(t.h, keep.data(), keep.size() * sizeof(void*));
  HeapStats big = heap_stats(t.h);
  CHECK(big.live_bytes == 20000u * 512);
  CHECK(big.heap_bytes >= big.live_bytes);
  CHECK(big.budget == big.live_bytes);
  keep.resize(10);
  collect(t.h, keep.data(), keep.size() * sizeof(void*));
  HeapStats small = heap_stats(t.h);
  CHECK(small.live_bytes == 10u * 512);
  CHECK(small.budget == kHeapMinBudget);
  // What is left: the blocks of the 10 survivors plus about one budget.
  CHECK(small.heap_bytes <= 10 * 64 * 1024 + 2 * kHeapMinBudget);
  heap_release_free(t.h);
  CHECK(heap_stats(t.h).heap_bytes <= 10 * 64 * 1024);
}

TEST_CASE("a heap asks for a collection once it has allocated its budget", "[heap]") {
  TestHeap t;
  CHECK_FALSE(heap_wants_collect(t.h));
  uint64_t got = 0;
  while (got < kHeapMinBudget - 64) {
    heap_alloc(t.h, 64, 16);
    got += 64;
  }
  CHECK_FALSE(heap_wants_collect(t.h));
  heap_alloc(t.h, 64, 16);
  CHECK(heap_wants_collect(t.h));
  collect(t.h);
  CHECK_FALSE(heap_wants_collect(t.h));
}

TEST_CASE("memory of dropped data goes back to the OS", "[heap]") {
  uint64_t purged_before = heap_memory_stats().purged_bytes;
  {
    TestHeap t;
    for (int i = 0; i < 300; ++i) heap_alloc(t.h, 60 * 1024, 16);  // 18 MiB of Large blocks
    collect(t.h);
  }
  HeapMemoryStats m = heap_memory_stats();
  CHECK(m.purged_bytes > purged_before);
  CHECK(m.dirty_bytes <= 4u << 20);
}

TEST_CASE("memory handed out again after a collection is zeroed", "[heap]") {
  TestHeap t;
  std::set<uintptr_t> first;
  for (int i = 0; i < 200; ++i) {
    void* p = heap_alloc(t.h, 48, 16);
    std::memset(p, 0xFF, 48);
    first.insert(reinterpret_cast<uintptr_t>(p));
  }
  std::memset(heap_alloc(t.h, 1500, 16), 0xFF, 1500);
  collect(t.h);
  size_t reused = 0;
  bool zero = true;
  for (int i = 0; i < 200; ++i) {
    auto* p = static_cast<unsigned char*>(heap_alloc(t.h, 48, 16));
    for (int k = 0; k < 48; ++k) zero = zero && p[k] == 0;
    reused += first.count(reinterpret_cast<uintptr_t>(p));
  }
  auto* q = static_cast<unsigned char*>(heap_alloc(t.h, 1500, 16));
  for (int k = 0; k < 1500; ++k) zero = zero && q[k] == 0;
  CHECK(reused > 40);  // those in the block the heap kept (its budget)
  CHECK(zero);
}

TEST_CASE("allocations honour the requested alignment", "[heap]") {
  TestHeap t;
  for (uint64_t align : {1, 2, 8, 16, 32, 64, 256, 1024, 4096}) {
    for (uint64_t size : {1, 17, 100, 2000, 3000, 70000}) {
      auto p = reinterpret_cast<uintptr_t>(heap_alloc(t.h, size, align));
      REQUIRE(p != 0);
      CHECK(p % std::max<uint64_t>(align, 16) == 0);
    }
  }
}

TEST_CASE("bad sizes and alignments get null", "[heap]") {
  TestHeap t;
  CHECK(heap_alloc(t.h, 0, 16) == nullptr);
  CHECK(heap_alloc(t.h, 16, 3) == nullptr);
  CHECK(heap_alloc(t.h, 16, 8192) == nullptr);
  CHECK(heap_alloc(t.h, uint64_t(1) << 50, 16) == nullptr);
  CHECK(heap_alloc(nullptr, 16, 16) == nullptr);
  CHECK(heap_alloc(t.h, 16, 0) != nullptr);
}

TEST_CASE("addresses between objects belong to no object", "[heap]") {
  TestHeap t;
  auto* a = static_cast<char*>(heap_alloc(t.h, 16, 16));
  auto* b = static_cast<char*>(heap_alloc(t.h, 16, 16));
  auto* c = static_cast<char*>(heap_alloc(t.h, 16, 16));
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(a), reinterpret_cast<uintptr_t>(c)});
  CHECK(alive(a));
  CHECK(alive(c));
  CHECK_FALSE(heap_find_object(b, nullptr, nullptr));
  CHECK_FALSE(heap_find_object(b + 8, nullptr, nullptr));
  int on_stack = 0;
  CHECK_FALSE(heap_find_object(&on_stack, nullptr, nullptr));
}

TEST_CASE("marking finishes when the mark stack cannot grow", "[heap]") {
  TestHeap t;
  // An array of 20,000 pointers pushes 20,000 objects at once.
  constexpr size_t kN = 20000;
  auto** arr = static_cast<void**>(heap_alloc(t.h, kN * sizeof(void*), 16));
  for (size_t i = 0; i < kN; ++i) {
    auto* n = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));
    n->next = static_cast<Node*>(heap_alloc(t.h, sizeof(Node), 16));  // and one level below
    arr[i] = n;
  }
  heap_debug_set_mark_stack_limit(256);
  collect(t.h, nullptr, 0, {reinterpret_cast<uintptr_t>(arr)});
  heap_debug_set_mark_stack_limit(0);
  size_t live = 0;
  for (size_t i = 0; i < kN; ++i) live += alive(arr[i]) && alive(static_cast<Node*>(arr[i])->next);
  CHECK(live == kN);
}

#if defined(SNOW_SANITIZE_ADDRESS)
TEST_CASE("a freed object is poisoned and touching it is reported by ASan", "[heap]") {
  {
    TestHeap t;
    void* p = heap_alloc(t.h, 64, 16);
    CHECK_FALSE(__asan_address_is_poisoned(p));
    collect(t.h);
    CHECK(__asan_address_is_poisoned(p));
  }
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 2);
    Heap* h = heap_create();
    auto* volatile p = static_cast<volatile char*>(heap_alloc(h, 64, 16));
    heap_collect(h, HeapRoots{});
    p[3] = 1;  // use after the collector freed it
    _exit(0);
  }
  close(out[1]);
  std::string err;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) err.append(buf, size_t(n));
  close(out[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(err.find("use-after-poison") != std::string::npos);
}
#endif
