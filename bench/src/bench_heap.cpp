// bench_heap: micro-benchmarks of the collected heap (runtime/heap), taken
// against the runtime internals like the unit tests (the heap is not wired
// to snow_gc_alloc_actor yet; the BEAM comparison comes with that).
//
// Scenarios (RESULT lines as in bench/README.md):
//   gc_alloc_tput_32b / gc_alloc_tput_1k
//                     short-lived objects allocated in one heap, the last 16
//                     kept in a 1 KiB stand-in stack, collected whenever the
//                     heap asks (its budget); allocations per second
//   gc_pause_alloc_32b / gc_pause_alloc_1k
//                     the collections of the runs above: median, p99, max
//   gc_heap_bytes_after_collect
//                     memory a heap holds after such a run and one collection
//   gc_scan_stack_ints_per_kib / gc_scan_stack_ptrs_per_kib
//                     conservative scan of a 64 KiB root range of small integers
//                     (rejected by the bounds check) / of interior pointers into
//                     live objects (each looked up); ns per KiB (a collection
//                     with the range minus the same collection without it)
//   gc_mark_heap_per_kib
//                     a collection of 16 MiB of live linked objects; ns per KiB
//   gc_lookup_1k_objects / gc_lookup_1m_objects
//                     object lookup of interior pointers into a heap of 1k / 1M
//                     live objects (the same per candidate: O(1)); ns
//   gc_export_import_new / gc_export_import_shared
//                     heap_export + heap_import of a payload carrying one
//                     address, of a fresh object / of an already shared one; ns
//   gc_shared_cycle   shared_collect with 100k shared objects held by 8 receivers; ns
//   gc_shared_longest_hold
//                     per cycle above, the longest a lock that a process may
//                     wait for was held (SharedStats.longest_hold_ns); ns
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench_stats.h"
#include "runtime/heap/heap.h"

using namespace snow::rt;

namespace {

bool g_quick = false;
const char* g_only = nullptr;

bool want(const char* id) { return bench_selected(g_only, id) != 0; }

uint64_t iters(uint64_t full, uint64_t quick) { return g_quick ? quick : full; }

void report_ns(const char* id, std::vector<uint64_t> v, const char* extra = "") {
  if (v.empty()) {
    std::printf("RESULT system=snowrt scenario=%s error=no_samples\n", id);
    return;
  }
  std::sort(v.begin(), v.end());
  std::printf("RESULT system=snowrt scenario=%s median=%.1f p99=%.1f unit=ns n=%zu max=%llu%s\n", id,
              bench_median_u64(v.data(), v.size()), bench_p99_u64(v.data(), v.size()), v.size(),
              static_cast<unsigned long long>(v.back()), extra);
}

void report_value(const char* id, double value, const char* unit, const char* extra = "") {
  std::printf("RESULT system=snowrt scenario=%s median=%.1f p99=- unit=%s n=1%s\n", id, value, unit, extra);
}

// Allocation throughput of short-lived objects, and the collections it causes.
void alloc_tput(const char* tput_id, const char* pause_id, uint64_t size, uint64_t count, bool report_bytes) {
  Heap* h = heap_create();
  uintptr_t stack[128] = {};  // 1 KiB stand-in stack; the last 16 objects in it
  HeapRange range{stack, stack + 128};
  HeapRoots roots{&range, 1, nullptr, 0};
  std::vector<uint64_t> pauses;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < count; ++i) {
    auto* p = static_cast<uint64_t*>(heap_alloc(h, size, 8));
    p[0] = i;
    stack[i & 15] = reinterpret_cast<uintptr_t>(p);
    if (heap_wants_collect(h)) {
      uint64_t c0 = bench_now_ns();
      heap_collect(h, roots);
      pauses.push_back(bench_now_ns() - c0);
    }
  }
  uint64_t t1 = bench_now_ns();
  char extra[96];
  std::snprintf(extra, sizeof extra, " collections=%zu", pauses.size());
  report_value(tput_id, double(count) * 1e9 / double(t1 - t0), "per_s", extra);
  report_ns(pause_id, pauses);
  if (report_bytes) {
    heap_collect(h, roots);
    HeapStats s = heap_stats(h);
    std::snprintf(extra, sizeof extra, " live=%llu", static_cast<unsigned long long>(s.live_bytes));
    report_value("gc_heap_bytes_after_collect", double(s.heap_bytes), "bytes", extra);
  }
  heap_destroy(h);
}

void scan_stack(const char* id, bool pointers) {
  Heap* h = heap_create();
  constexpr size_t kWords = 64 * 1024 / 8;
  std::vector<uintptr_t> stack(kWords);
  std::vector<void*> objs;
  for (size_t i = 0; i < 4096; ++i) objs.push_back(heap_alloc(h, 32, 16));
  for (size_t i = 0; i < kWords; ++i)
    stack[i] = pointers ? reinterpret_cast<uintptr_t>(objs[i % objs.size()]) + 8 : i * 3;
  // `objs` keeps everything reachable, so both collections below do the
  // same marking and sweeping; their difference is the scan of the range.
  HeapRange ranges[2] = {{objs.data(), objs.data() + objs.size()}, {stack.data(), stack.data() + kWords}};
  HeapRoots with{ranges, 2, nullptr, 0};
  HeapRoots without{ranges, 1, nullptr, 0};
  std::vector<uint64_t> per_kib;
  for (uint64_t r = 0; r < iters(200, 20); ++r) {
    uint64_t c0 = bench_now_ns();
    heap_collect(h, without);
    uint64_t c1 = bench_now_ns();
    heap_collect(h, with);
    uint64_t c2 = bench_now_ns();
    uint64_t base = c1 - c0, full = c2 - c1;
    per_kib.push_back(full > base ? (full - base) / 64 : 0);
  }
  report_ns(id, per_kib);
  heap_destroy(h);
}

struct Node {
  Node* next;
  uint64_t pad[3];
};

void mark_heap() {
  Heap* h = heap_create();
  constexpr size_t kNodes = (16u << 20) / sizeof(Node);
  Node* head = nullptr;
  for (size_t i = 0; i < kNodes; ++i) {
    auto* n = static_cast<Node*>(heap_alloc(h, sizeof(Node), 16));
    n->next = head;
    head = n;
  }
  uintptr_t root = reinterpret_cast<uintptr_t>(head);
  HeapRoots roots{nullptr, 0, &root, 1};
  std::vector<uint64_t> per_kib;
  for (uint64_t r = 0; r < iters(10, 2); ++r) {
    uint64_t c0 = bench_now_ns();
    heap_collect(h, roots);
    per_kib.push_back((bench_now_ns() - c0) / (16 * 1024));
  }
  report_ns("gc_mark_heap_per_kib", per_kib);
  heap_destroy(h);
}

void lookup(const char* id, size_t objects) {
  Heap* h = heap_create();
  std::vector<uintptr_t> objs(objects);
  std::mt19937_64 rng(1);
  for (auto& o : objs) o = reinterpret_cast<uintptr_t>(heap_alloc(h, 16 + 16 * (rng() % 8), 16));
  constexpr size_t kProbes = 1 << 16;
  std::vector<const void*> probes(kProbes);
  for (auto& p : probes) p = reinterpret_cast<const void*>(objs[rng() % objects] + (rng() % 16));
  std::vector<uint64_t> ns;
  for (uint64_t r = 0; r < iters(30, 5); ++r) {
    uint64_t found = 0;
    uint64_t c0 = bench_now_ns();
    for (const void* p : probes) found += heap_find_object(p, nullptr, nullptr);
    uint64_t d = bench_now_ns() - c0;
    if (found != kProbes) {
      std::printf("RESULT system=snowrt scenario=%s error=lookup_missed\n", id);
      heap_destroy(h);
      return;
    }
    ns.push_back(d / kProbes);
  }
  report_ns(id, ns);
  heap_destroy(h);
}

void export_import() {
  Heap* sender = heap_create();
  Heap* receiver = heap_create();
  std::vector<uint64_t> fresh, again;
  void* kept = heap_alloc(sender, 40, 16);
  for (uint64_t r = 0; r < iters(100000, 10000); ++r) {
    void* obj = heap_alloc(sender, 40, 16);
    uint64_t payload[2] = {1, reinterpret_cast<uintptr_t>(obj)};
    uint64_t c0 = bench_now_ns();
    heap_import(receiver, heap_export(sender, payload, sizeof payload));
    uint64_t c1 = bench_now_ns();
    payload[1] = reinterpret_cast<uintptr_t>(kept);
    heap_import(receiver, heap_export(sender, payload, sizeof payload));
    uint64_t c2 = bench_now_ns();
    fresh.push_back(c1 - c0);
    again.push_back(c2 - c1);
    if (heap_wants_collect(receiver)) heap_collect(receiver, HeapRoots{});
    if (heap_wants_collect(sender)) heap_collect(sender, HeapRoots{});
    if (shared_wants_collect()) shared_collect();
  }
  report_ns("gc_export_import_new", fresh);
  report_ns("gc_export_import_shared", again);
  heap_destroy(receiver);
  heap_destroy(sender);
  shared_collect();
}

void shared_cycle() {
  constexpr int kReceivers = 8;
  const size_t objects = iters(100000, 10000);
  Heap* sender = heap_create();
  std::vector<Heap*> receivers;
  std::vector<std::vector<uintptr_t>> held(kReceivers);
  for (int i = 0; i < kReceivers; ++i) receivers.push_back(heap_create());
  for (size_t i = 0; i < objects; ++i) {
    void* obj = heap_alloc(sender, 48, 16);
    uint64_t payload[1] = {reinterpret_cast<uintptr_t>(obj)};
    heap_import(receivers[i % kReceivers], heap_export(sender, payload, sizeof payload));
    held[i % kReceivers].push_back(reinterpret_cast<uintptr_t>(obj));
  }
  for (int i = 0; i < kReceivers; ++i) {
    HeapRange r{held[i].data(), held[i].data() + held[i].size()};
    heap_collect(receivers[i], HeapRoots{&r, 1, nullptr, 0});
  }
  std::vector<uint64_t> ns, hold;
  for (uint64_t r = 0; r < iters(20, 3); ++r) {
    shared_collect();
    SharedStats s = shared_stats();
    ns.push_back(s.last_cycle_ns);
    hold.push_back(s.longest_hold_ns);
  }
  report_ns("gc_shared_cycle", ns);
  char extra[64];
  std::snprintf(extra, sizeof extra, " objects=%zu", objects);
  report_ns("gc_shared_longest_hold", hold, extra);
  for (Heap* h : receivers) heap_destroy(h);
  heap_destroy(sender);
  shared_collect();
}

}  // namespace

int main(int argc, char** argv) {
  const char* q = std::getenv("SNOW_BENCH_QUICK");
  if (q && *q && std::strcmp(q, "0") != 0) g_quick = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--full") == 0) g_quick = false;
    else if (argv[i][0] != '-') g_only = argv[i];
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("INFO system=snowrt heap_min_budget=%llu quick=%d\n", static_cast<unsigned long long>(kHeapMinBudget),
              g_quick ? 1 : 0);
  if (want("gc_alloc_tput_32b"))
    alloc_tput("gc_alloc_tput_32b", "gc_pause_alloc_32b", 32, iters(50000000, 2000000), true);
  if (want("gc_alloc_tput_1k"))
    alloc_tput("gc_alloc_tput_1k", "gc_pause_alloc_1k", 1024, iters(2000000, 200000), false);
  if (want("gc_scan_stack_ints_per_kib")) scan_stack("gc_scan_stack_ints_per_kib", false);
  if (want("gc_scan_stack_ptrs_per_kib")) scan_stack("gc_scan_stack_ptrs_per_kib", true);
  if (want("gc_mark_heap_per_kib")) mark_heap();
  if (want("gc_lookup_1k_objects")) lookup("gc_lookup_1k_objects", 1000);
  if (want("gc_lookup_1m_objects")) lookup("gc_lookup_1m_objects", 1000000);
  if (want("gc_export_import_new")) export_import();
  if (want("gc_shared_cycle")) shared_cycle();
  return 0;
}
