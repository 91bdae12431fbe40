// The process table: anchors (one per pid slot, never freed), pid values
// and their per-incarnation randomness, control block allocation, publish
// and free. Owns R.table_mu and the anchor chunks (see process_internal.h).
#include "runtime/proc/process_internal.h"

#include <sys/random.h>
#include <unistd.h>

namespace snow::rt {

inline namespace proc_detail {

Runtime& R = *new Runtime();
constinit SNOW_TLS Process* t_thread_proc = nullptr;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

// Draws this OS process's pid randomness, once (before the first start
// makes any pid).
void draw_pid_salt() {
  if (R.pid_salt_drawn) return;
  uint64_t seed[2] = {0, 0};
  if (getrandom(seed, sizeof seed, 0) != ssize_t(sizeof seed)) {
    // No entropy source: the clock and the OS pid still differ between
    // incarnations on one host.
    seed[0] = uint64_t(now_ns()) ^ (uint64_t(getpid()) << 32);
    seed[1] = splitmix64(seed[0] ^ uint64_t(reinterpret_cast<uintptr_t>(&seed)));
  }
  R.index_mask.store(uint32_t(splitmix64(seed[0]) & kIndexMask), std::memory_order_relaxed);
  R.generation_seed = seed[1];
  R.pid_salt_drawn = true;
}

namespace {

// Takes a free anchor and gives it the next generation. Returns nullptr when
// the table is full. (Internal to this file, so that it inlines into
// new_process.)
Anchor* anchor_alloc(uint64_t* pid_out) {
  std::lock_guard<SpinLock> lk(R.table_mu);
  uint32_t idx;
  bool fresh_left = R.next_unused < (1u << kIndexBits);
  if (R.free_head != UINT32_MAX && (R.free_count >= Runtime::kMinFree || !fresh_left)) {
    idx = R.free_head;
    R.free_head = anchor_at(idx)->next_free;
    if (R.free_head == UINT32_MAX) R.free_tail = UINT32_MAX;
    --R.free_count;
  } else {
    if (R.next_unused >= (1u << kIndexBits)) return nullptr;
    idx = R.next_unused++;
    if ((idx & (kChunkSize - 1)) == 0 && !R.chunks[idx >> kChunkBits].load(std::memory_order_relaxed)) {
      Anchor* c = new (std::nothrow) Anchor[kChunkSize];
      if (!c) {
        --R.next_unused;
        return nullptr;
      }
      // Each anchor's generations start at a random point (see "Pid").
      for (uint32_t i = 0; i < kChunkSize; ++i)
        c[i].generation = uint32_t(splitmix64(R.generation_seed ^ (idx + i)) & kGenMask);
      R.chunks[idx >> kChunkBits].store(c, std::memory_order_release);
    }
  }
  Anchor* a = anchor_at(idx);
  a->generation = (a->generation + 1) & kGenMask;
  if (a->generation == 0) a->generation = 1;
  *pid_out = (uint64_t(a->generation) << kIndexBits) | (idx ^ R.index_mask.load(std::memory_order_relaxed));
  return a;
}

}  // namespace

void anchor_free(Anchor* a, uint64_t pid) {
  a->proc.store(nullptr, std::memory_order_relaxed);
  a->pid.store(0, std::memory_order_release);
  std::lock_guard<SpinLock> lk(R.table_mu);
  uint32_t idx = anchor_index(pid);
  a->next_free = UINT32_MAX;
  if (R.free_tail == UINT32_MAX) R.free_head = idx;
  else anchor_at(R.free_tail)->next_free = idx;
  R.free_tail = idx;
  ++R.free_count;
}

uint32_t anchors_in_use() {
  std::lock_guard<SpinLock> lk(R.table_mu);
  return R.next_unused;
}

Process* new_process() {
  Process* p = make<Process>();
  if (!p) return nullptr;
  uint64_t pid;
  Anchor* a = anchor_alloc(&pid);
  if (!a) {
    destroy(p);
    return nullptr;
  }
  p->pid = pid;
  p->anchor = a;
  return p;
}

// The control block itself, its stack binding and its anchor slot (whose pid
// the caller has already cleared).
void free_control_block(Process* p) {
  Anchor* a = p->anchor;
  uint64_t pid = p->pid;
  SNOW_ASSERT(a->pid.load(std::memory_order_acquire) != pid);
  mem_free(p->exit_reason);
  if (!p->task.is_thread) sched_task_release(&p->task);
  delete p->task.parker;
  destroy(p);
  anchor_free(a, pid);
}

void free_process(Process* p) {
  {
    // Before the control block goes (see "Local monitors" in links.cpp).
    std::lock_guard<SpinLock> lk(watch_lock(p->pid));
    p->anchor->pid.store(0, std::memory_order_release);
  }
  free_control_block(p);
  R.exited.add(1);
  if (R.alive.fetch_sub(1, std::memory_order_acq_rel) == 1) post_wakeup();
}

// Exits every live process except `keep` with an untrappable shutdown.
void shutdown_all(uint64_t keep) {
  uint32_t n = anchors_in_use();
  for (uint32_t i = 0; i < n; ++i) {
    Anchor* a = anchor_at(i);
    if (!a) continue;
    uint64_t pid = a->pid.load(std::memory_order_acquire);
    if (pid == 0 || pid == keep) continue;
    Signal* s = signal_exit_like(SigKind::Exit, pid, 0, kReasonShutdown, 1);
    if (!s) oom_signal();
    s->flags = kSigShutdown;
    proc_deliver(pid, s);
  }
}

}  // namespace proc_detail

}  // namespace snow::rt
