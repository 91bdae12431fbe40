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

// Anchor caches. Every spawn takes an anchor and every exit frees one, often
// on different workers (a child runs where a thief took it), so a single
// table lock would be a line two CPUs pass back and forth per spawn. Each
// scheduler loop instead has a shard: a few anchors ready to be handed out
// and a few freed ones, under a lock of its own that only that loop takes
// in practice (more loops than shards share them; threads that are no
// loop share the last one). A shard goes to R.table_mu once per kBatch
// anchors, to refill or to flush. Lock order: a shard's lock, then
// R.table_mu; nothing else is taken under either.
//
// The pid rules of the table still hold: a freed anchor reaches the global
// free list (oldest first) only later, and is taken from it only while
// kMinFree anchors are free there, so an index comes back after at least
// kMinFree exits, as before; generations change only at allocation. What a
// shard holds is neither live nor free for others: with the table almost
// full, an allocation fails while other shards still cache up to kBatch
// anchors each (docs/design/scheduler.md, "Known gaps").
constexpr uint32_t kBatch = 32;
constexpr int kShards = 64;

struct alignas(kCacheLine) AnchorShard {
  SpinLock mu;
  uint32_t ready_next = 0;  // ready[ready_next, ready_end): taken from the table, not handed out
  uint32_t ready_end = 0;
  uint32_t freed_count = 0;
  uint32_t ready[kBatch];
  uint32_t freed[kBatch];  // freed here, not yet on the table's free list
};

AnchorShard g_shards[kShards];

AnchorShard& my_shard() {
  const int i = sched_worker_index();
  return g_shards[i >= 0 ? i % (kShards - 1) : kShards - 1];
}

// Under R.table_mu: the next index for a new pid (the oldest free one once
// enough are free, else a fresh one), or UINT32_MAX when the table is full.
uint32_t table_take_index() {
  const bool fresh_left = R.next_unused < (1u << kIndexBits);
  if (R.free_head != UINT32_MAX && (R.free_count >= Runtime::kMinFree || !fresh_left)) {
    uint32_t idx = R.free_head;
    R.free_head = anchor_at(idx)->next_free;
    if (R.free_head == UINT32_MAX) R.free_tail = UINT32_MAX;
    --R.free_count;
    return idx;
  }
  if (!fresh_left) return UINT32_MAX;
  uint32_t idx = R.next_unused;
  if ((idx & (kChunkSize - 1)) == 0 && !R.chunks[idx >> kChunkBits].load(std::memory_order_relaxed)) {
    Anchor* c = new (std::nothrow) Anchor[kChunkSize];
    if (!c) return UINT32_MAX;
    // Each anchor's generations start at a random point (see "Pid").
    for (uint32_t i = 0; i < kChunkSize; ++i)
      c[i].generation = uint32_t(splitmix64(R.generation_seed ^ (idx + i)) & kGenMask);
    R.chunks[idx >> kChunkBits].store(c, std::memory_order_release);
  }
  ++R.next_unused;
  return idx;
}

// Under R.table_mu: the shard's freed anchors join the free list's tail.
void table_take_freed(AnchorShard& sh) {
  for (uint32_t i = 0; i < sh.freed_count; ++i) {
    const uint32_t idx = sh.freed[i];
    anchor_at(idx)->next_free = UINT32_MAX;
    if (R.free_tail == UINT32_MAX) R.free_head = idx;
    else anchor_at(R.free_tail)->next_free = idx;
    R.free_tail = idx;
    ++R.free_count;
  }
  sh.freed_count = 0;
}

// Under the shard's lock: up to kBatch indices from the table (flushing the
// shard's freed ones first, so they count towards kMinFree).
void shard_refill(AnchorShard& sh) {
  std::lock_guard<SpinLock> lk(R.table_mu);
  table_take_freed(sh);
  sh.ready_next = sh.ready_end = 0;
  while (sh.ready_end < kBatch) {
    const uint32_t idx = table_take_index();
    if (idx == UINT32_MAX) break;
    sh.ready[sh.ready_end++] = idx;
  }
}

// Takes a free anchor and gives it the next generation. Returns nullptr when
// the table is full.
Anchor* anchor_alloc(uint64_t* pid_out) {
  AnchorShard& sh = my_shard();
  std::lock_guard<SpinLock> lk(sh.mu);
  if (sh.ready_next == sh.ready_end) shard_refill(sh);
  if (sh.ready_next == sh.ready_end) return nullptr;
  const uint32_t idx = sh.ready[sh.ready_next++];  // oldest first within the batch too
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
  AnchorShard& sh = my_shard();
  std::lock_guard<SpinLock> lk(sh.mu);
  sh.freed[sh.freed_count++] = anchor_index(pid);
  if (sh.freed_count == kBatch) {
    std::lock_guard<SpinLock> tl(R.table_mu);
    table_take_freed(sh);
  }
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
