// bench_gc: the collected heap as compiled programs use it, through
// snow_gc_alloc_actor in real processes (BEAM's figures come from the same
// scenarios in bench/peers/beam/snow_bench.erl, mode "gc").
//
// Scenarios (RESULT lines as in bench/README.md):
//   gc_alloc_tput     one process allocates 32-byte objects that die at once
//                     (the last two stay live), collecting when its heap
//                     asks; allocations per second, collections included
//   gc_pause_self     the collections of that run, each a pause of the
//                     process itself; median [p99], max= in the raw line
//   gc_pause_self_max the longest of them
//   gc_pause_pingpong round trips of a ping-pong pair while another process
//                     churns garbage as above; median [p99]
//   gc_pause_pingpong_max the longest round trip of that run
//   gc_bytes_after_collect
//                     heap bytes of a process keeping 512 bytes live after it
//                     allocated 1 MiB of garbage and collected (its control
//                     block, 600 bytes or so, is not included)
//   gc_scan_stack_ints_per_kib, gc_scan_stack_refs_per_kib
//                     what a deep stack adds to a collection, per KiB of
//                     stack: a process recurses until its stack holds about
//                     256 KiB (64 in quick mode), then collects 200 (30)
//                     times at the bottom (snow_gc_collect, timed around the
//                     call); the median at depth 1 is subtracted and the
//                     difference divided by the stack added. Every frame
//                     keeps an integer (ints: the cost of the conservative
//                     scan itself, each word looked up and rejected) or a
//                     32-byte object of its own (refs: scanning plus marking
//                     what the words point to) live across its call. BEAM
//                     runs the same recursion (its frames are 16 bytes, ours
//                     about 48, so it has about three times as many objects
//                     per KiB in the refs case; frames= in the raw lines);
//                     its full collection scans the stack and moves it with
//                     the heap.
// Reads the process's heap figures through proc_gc_stats (runtime internals,
// like bench_heap), hence C++ and the static library.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "abi/include/snowrt.h"
#include "bench_stats.h"
#include "runtime/heap/heap.h"
#include "runtime/proc/process.h"

using namespace snow::rt;

namespace {

bool g_quick = false;
const char* g_only = nullptr;

bool want(const char* id) { return bench_selected(g_only, id) != 0; }

uint64_t iters(uint64_t full, uint64_t quick) { return g_quick ? quick : full; }

void report_ns(const char* id, std::vector<uint64_t> v) {
  if (v.empty()) {
    std::printf("RESULT system=snowrt scenario=%s error=no_samples\n", id);
    return;
  }
  std::sort(v.begin(), v.end());
  std::printf("RESULT system=snowrt scenario=%s median=%.1f p99=%.1f unit=ns n=%zu max=%llu\n", id,
              bench_median_u64(v.data(), v.size()), bench_p99_u64(v.data(), v.size()), v.size(),
              static_cast<unsigned long long>(v.back()));
  std::printf("RESULT system=snowrt scenario=%s_max median=%llu p99=- unit=ns n=1\n", id,
              static_cast<unsigned long long>(v.back()));
}

void report_value(const char* id, double value, const char* unit) {
  std::printf("RESULT system=snowrt scenario=%s median=%.1f p99=- unit=%s n=1\n", id, value, unit);
}

// What a scenario process hands back to main.
struct Run {
  uint64_t count = 0;
  std::vector<uint64_t> pauses;
  uint64_t elapsed_ns = 0;
  std::atomic<bool> stop{false};
  snow_pid_t main_pid = 0;
};

void tell_main(Run* r) {
  uint64_t done = 1;
  snow_actor_send(r->main_pid, reinterpret_cast<const uint8_t*>(&done), sizeof done);
}

Run* run_of(const uint8_t* args) {
  Run* r;
  std::memcpy(&r, args, sizeof r);
  return r;
}

// Allocates r->count 32-byte objects (or until r->stop when count is 0),
// keeping the last two, and records each collection's pause.
void churn(const uint8_t* args) {
  Run* r = run_of(args);
  Process* self = proc_current();
  uint64_t collections = proc_gc_stats(self).collections;
  void* volatile keep[2] = {nullptr, nullptr};
  asm volatile("" : : "r"(keep) : "memory");
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; r->count == 0 ? !r->stop.load(std::memory_order_relaxed) : i < r->count; ++i) {
    auto* p = static_cast<uint64_t*>(snow_gc_alloc_actor(32, 16));
    p[0] = i;
    keep[i & 1] = p;
    HeapStats s = proc_gc_stats(self);
    if (s.collections != collections) {
      collections = s.collections;
      r->pauses.push_back(s.last_pause_ns);
    }
    snow_reduction_check();
  }
  r->elapsed_ns = bench_now_ns() - t0;
  tell_main(r);
}

// The same loop without reading the heap's figures: the throughput.
void churn_plain(const uint8_t* args) {
  Run* r = run_of(args);
  void* volatile keep[2] = {nullptr, nullptr};
  asm volatile("" : : "r"(keep) : "memory");
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < r->count; ++i) {
    auto* p = static_cast<uint64_t*>(snow_gc_alloc_actor(32, 16));
    p[0] = i;
    keep[i & 1] = p;
    snow_reduction_check();
  }
  r->elapsed_ns = bench_now_ns() - t0;
  tell_main(r);
}

template <class R>
void spawn_and_wait(void (*fn)(const uint8_t*), R* r) {
  r->main_pid = snow_actor_self();
  snow_actor_spawn(fn, reinterpret_cast<const uint8_t*>(&r), sizeof r, SNOW_PRIO_NORMAL);
  (void)snow_actor_receive(-1);
}

void alloc_tput() {
  Run plain;
  plain.count = iters(20000000, 1000000);
  spawn_and_wait(churn_plain, &plain);
  report_value("gc_alloc_tput", double(plain.count) * 1e9 / double(plain.elapsed_ns), "per_s");
  Run timed;
  timed.count = plain.count;
  spawn_and_wait(churn, &timed);
  report_ns("gc_pause_self", timed.pauses);
}

void pong(const uint8_t*) {
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    snow_pid_t from;
    std::memcpy(&from, m->data, sizeof from);
    if (from == 0) return;
    snow_actor_send(from, m->data, 8);
  }
}

struct PingRun {
  snow_pid_t pong = 0;
  uint64_t rounds = 0;
  std::vector<uint64_t> rtt;
  snow_pid_t main_pid = 0;
};

void ping(const uint8_t* args) {
  PingRun* r;
  std::memcpy(&r, args, sizeof r);
  snow_pid_t self = snow_actor_self();
  for (uint64_t i = 0; i < r->rounds; ++i) {
    uint64_t t0 = bench_now_ns();
    snow_actor_send(r->pong, reinterpret_cast<const uint8_t*>(&self), sizeof self);
    (void)snow_actor_receive(-1);
    r->rtt.push_back(bench_now_ns() - t0);
  }
  uint64_t done = 1;
  snow_actor_send(r->main_pid, reinterpret_cast<const uint8_t*>(&done), sizeof done);
}

void pause_pingpong() {
  Run churner;
  churner.count = 0;  // until stopped
  churner.main_pid = snow_actor_self();
  Run* cr = &churner;
  snow_actor_spawn(churn, reinterpret_cast<const uint8_t*>(&cr), sizeof cr, SNOW_PRIO_NORMAL);
  PingRun pr;
  pr.main_pid = snow_actor_self();
  pr.rounds = iters(200000, 20000);
  pr.rtt.reserve(pr.rounds);
  pr.pong = snow_actor_spawn(pong, nullptr, 0, SNOW_PRIO_NORMAL);
  PingRun* prp = &pr;
  snow_actor_spawn(ping, reinterpret_cast<const uint8_t*>(&prp), sizeof prp, SNOW_PRIO_NORMAL);
  (void)snow_actor_receive(-1);  // the ping side is done
  churner.stop.store(true);
  (void)snow_actor_receive(-1);  // the churner is done
  snow_pid_t zero = 0;
  snow_actor_send(pr.pong, reinterpret_cast<const uint8_t*>(&zero), sizeof zero);
  pr.rtt.erase(pr.rtt.begin(), pr.rtt.begin() + long(pr.rtt.size() / 10));  // warm-up
  report_ns("gc_pause_pingpong", pr.rtt);
  std::printf(
      "NOTE system=snowrt gc_pause_pingpong: a third process churned garbage meanwhile (%zu collections, "
      "longest %llu ns)\n",
      churner.pauses.size(),
      static_cast<unsigned long long>(
          churner.pauses.empty() ? 0 : *std::max_element(churner.pauses.begin(), churner.pauses.end())));
}

void bytes_after(const uint8_t* args) {
  Run* r = run_of(args);
  void* volatile live = snow_gc_alloc_actor(512, 16);
  for (int i = 0; i < 1024 * 1024 / 32; ++i) (void)snow_gc_alloc_actor(32, 16);
  snow_gc_collect();
  r->count = proc_gc_stats(proc_current()).heap_bytes;
  (void)live;
  tell_main(r);
}

void bytes_after_collect() {
  Run r;
  spawn_and_wait(bytes_after, &r);
  report_value("gc_bytes_after_collect", double(r.count), "bytes");
}

// A recursion whose bottom collects (gc_scan_stack_*_per_kib).
struct DeepRun {
  uint64_t target = 0;   // stack bytes to reach before collecting
  bool refs = false;     // every frame keeps a 32-byte object of its own
  uintptr_t base = 0;    // frame address where the recursion began
  uint64_t reached = 0;  // stack bytes at the bottom
  uint64_t frames = 0;
  std::vector<uint64_t> ns;  // each collection, reserved before the run
  snow_pid_t main_pid = 0;
};

__attribute__((noinline)) void collect_repeatedly(DeepRun* d) {
  for (size_t i = 0; i < d->ns.capacity(); ++i) {
    uint64_t t0 = bench_now_ns();
    snow_gc_collect();
    d->ns.push_back(bench_now_ns() - t0);
  }
}

// Not a tail call: the frame's words are used after the call returns.
__attribute__((noinline)) uint64_t deep(DeepRun* d, uint64_t n) {
  volatile uint64_t word = n;
  void* volatile ref = d->refs ? snow_gc_alloc_actor(32, 16) : nullptr;
  uint64_t used = d->base - reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uint64_t r = 0;
  if (used >= d->target) {
    d->reached = used;
    d->frames = n;
    collect_repeatedly(d);
  } else {
    r = deep(d, n + 1);
  }
  return r + word + (ref != nullptr);
}

void deep_stack(const uint8_t* args) {
  DeepRun* d;
  std::memcpy(&d, args, sizeof d);
  void* volatile anchor = snow_gc_alloc_actor(32, 16);  // a heap to collect, in both runs
  d->base = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  (void)deep(d, 1);
  (void)anchor;
  uint64_t done = 1;
  snow_actor_send(d->main_pid, reinterpret_cast<const uint8_t*>(&done), sizeof done);
}

void scan_stack_per_kib(const char* id, bool refs) {
  size_t reps = iters(200, 30);
  DeepRun shallow, deep_run;
  for (DeepRun* d : {&shallow, &deep_run}) {
    d->refs = refs;
    d->ns.reserve(reps);
  }
  deep_run.target = iters(256, 64) * 1024;
  spawn_and_wait(deep_stack, &shallow);
  spawn_and_wait(deep_stack, &deep_run);
  if (deep_run.ns.empty() || shallow.ns.empty() || deep_run.reached <= shallow.reached) {
    std::printf("RESULT system=snowrt scenario=%s error=no_samples\n", id);
    return;
  }
  std::sort(shallow.ns.begin(), shallow.ns.end());
  std::sort(deep_run.ns.begin(), deep_run.ns.end());
  double deep_ns = bench_median_u64(deep_run.ns.data(), deep_run.ns.size());
  double shallow_ns = bench_median_u64(shallow.ns.data(), shallow.ns.size());
  double kib = double(deep_run.reached - shallow.reached) / 1024.0;
  std::printf(
      "RESULT system=snowrt scenario=%s median=%.1f p99=- unit=ns n=%zu stack_kib=%.1f frames=%llu "
      "deep_ns=%.1f shallow_ns=%.1f\n",
      id, (deep_ns - shallow_ns) / kib, deep_run.ns.size(), kib, static_cast<unsigned long long>(deep_run.frames),
      deep_ns, shallow_ns);
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
  snow_rt_init();
  if (snow_rt_init_actor(0) != 0) return 1;
  std::printf("INFO system=snowrt gc_bench=1 quick=%d\n", g_quick ? 1 : 0);
  if (want("gc_alloc_tput")) alloc_tput();
  if (want("gc_pause_pingpong")) pause_pingpong();
  if (want("gc_bytes_after_collect")) bytes_after_collect();
  if (want("gc_scan_stack_ints_per_kib")) scan_stack_per_kib("gc_scan_stack_ints_per_kib", false);
  if (want("gc_scan_stack_refs_per_kib")) scan_stack_per_kib("gc_scan_stack_refs_per_kib", true);
  snow_rt_halt(0);
  snow_rt_run_scheduler();
  return 0;
}
