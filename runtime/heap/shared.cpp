// The shared region: promotion at send, tickets, external references,
// orphan blocks and the shared collection. The protocol and why it is
// correct: shared.h.
#include "runtime/heap/shared.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/heap/heap_internal.h"

namespace snow::rt {

using namespace heap_layout;

struct ExternalRefs {
  SpinLock lock;
  FlatMap64* refs = nullptr;  // object start -> 0
  uint64_t added = 0;         // imports since the owner's last collection
  uint64_t kept = 0;          // entries its last collection found
  ExternalRefs* next = nullptr;
  ExternalRefs* prev = nullptr;
};

struct ExportTicket {
  ExportTicket* next;
  ExportTicket* prev;
  uint32_t shard;
  uint32_t count;
  uintptr_t* refs;  // count entries, right after the ticket
};

namespace {

enum : uint64_t { kIdle = 0, kMarking = 1, kSweeping = 2 };
constexpr unsigned kStripes = 64;
constexpr unsigned kTicketShards = 16;
constexpr uint64_t kSharedMinTrigger = 4u << 20;

struct alignas(kCacheLine) SectionStripe {
  std::atomic<int64_t> active[2] = {};
};

struct alignas(kCacheLine) TicketShard {
  SpinLock mu;
  ExportTicket* head = nullptr;
};

struct SharedRegion {
  std::atomic<uint64_t> state{0};  // transition sequence << 2 | phase
  std::atomic<uint32_t> cycle{0};
  SectionStripe stripes[kStripes];
  std::atomic<unsigned> next_stripe{0};
  TicketShard shards[kTicketShards];
  SpinLock ext_mu;  // the ExternalRefs list and the retired list
  ExternalRefs* ext_head = nullptr;
  ExternalRefs* retired = nullptr;
  SpinLock reg_mu;  // blocks holding shared objects
  Block* reg_head = nullptr;
  SpinLock grey_mu;
  std::vector<uintptr_t> grey;
  std::mutex collect_mu;  // one shared collection at a time
  std::atomic<uint64_t> promoted_since{0};
  std::atomic<uint64_t> tickets{0};
  std::atomic<uint64_t> orphan_bytes{0};
  std::atomic<uint64_t> cycles{0};
  std::atomic<uint64_t> shared_bytes{0};
  std::atomic<uint64_t> unshared_bytes{0};
  std::atomic<uint64_t> last_cycle_ns{0};
  std::atomic<uint64_t> longest_hold_ns{0};
};

// Never destroyed (see Dist in dist.cpp).
SharedRegion& G = *new SharedRegion();
SNOW_TLS int t_stripe = -1;
std::atomic<void (*)()> g_cycle_hook{nullptr};

unsigned my_stripe() {
  if (t_stripe < 0) t_stripe = int(G.next_stripe.fetch_add(1, std::memory_order_relaxed) % kStripes);
  return unsigned(t_stripe);
}

// A mutator operation that depends on the cycle phase (see shared.h,
// "Grace periods"). Never spans a context switch.
class MutatorSection {
 public:
  MutatorSection() : stripe_(&G.stripes[my_stripe()]) {
    for (;;) {
      uint64_t s = G.state.load(std::memory_order_seq_cst);
      parity_ = (s >> 2) & 1;
      stripe_->active[parity_].fetch_add(1, std::memory_order_seq_cst);
      if (G.state.load(std::memory_order_seq_cst) == s) {
        phase_ = s & 3;
        return;
      }
      stripe_->active[parity_].fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  ~MutatorSection() { stripe_->active[parity_].fetch_sub(1, std::memory_order_release); }
  MutatorSection(const MutatorSection&) = delete;
  MutatorSection& operator=(const MutatorSection&) = delete;
  uint64_t phase() const { return phase_; }

 private:
  SectionStripe* stripe_;
  uint64_t parity_ = 0;
  uint64_t phase_ = 0;
};

// Collector: moves to `phase` and waits until every section that read the
// previous state has ended.
void transition(uint64_t phase) {
  uint64_t s = G.state.load(std::memory_order_relaxed);
  uint64_t old_parity = (s >> 2) & 1;
  G.state.store((((s >> 2) + 1) << 2) | phase, std::memory_order_seq_cst);
  for (SectionStripe& st : G.stripes)
    while (st.active[old_parity].load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

void grey(const uintptr_t* refs, size_t n) {
  std::lock_guard<SpinLock> lk(G.grey_mu);
  G.grey.insert(G.grey.end(), refs, refs + n);
}

void grey_set(const FlatMap64* set) {
  if (!set || set->empty()) return;
  std::lock_guard<SpinLock> lk(G.grey_mu);
  set->for_each([](uint64_t k, uint64_t) { G.grey.push_back(uintptr_t(k)); });
}

bool any_shared(const Block* b) {
  const ChunkHeader* c = b->chunk;
  if (load_relaxed(b->kind) != kSmall) return bit_test(c->bits[kSharedBits], c->huge ? 0 : block_g0(b));
  for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64; ++w)
    if (load_relaxed(c->bits[kSharedBits][w])) return true;
  return false;
}

bool is_registered(const Block* b) { return load_relaxed(b->shared_state) & kRegistered; }

void register_block(Block* b) {
  if (is_registered(b)) return;
  std::lock_guard<SpinLock> lk(G.reg_mu);
  if (is_registered(b)) return;
  b->shared_prev = nullptr;
  b->shared_next = G.reg_head;
  if (G.reg_head) G.reg_head->shared_prev = b;
  G.reg_head = b;
  store_relaxed(b->shared_state, uint8_t(b->shared_state | kRegistered));
}

// Under the block's lock (collector only).
void deregister_block(Block* b) {
  std::lock_guard<SpinLock> lk(G.reg_mu);
  if (b->shared_prev) b->shared_prev->shared_next = b->shared_next;
  else G.reg_head = b->shared_next;
  if (b->shared_next) b->shared_next->shared_prev = b->shared_prev;
  b->shared_next = b->shared_prev = nullptr;
  store_relaxed(b->shared_state, uint8_t(b->shared_state & ~kRegistered));
}

std::vector<Block*> registry_copy() {
  std::vector<Block*> v;
  std::lock_guard<SpinLock> lk(G.reg_mu);
  for (Block* b = G.reg_head; b; b = b->shared_next) v.push_back(b);
  return v;
}

ExternalRefs* ext_create() {
  auto* x = make<ExternalRefs>();
  if (!x) return nullptr;
  std::lock_guard<SpinLock> lk(G.ext_mu);
  x->next = G.ext_head;
  if (G.ext_head) G.ext_head->prev = x;
  G.ext_head = x;
  return x;
}

void ext_free(ExternalRefs* x) {
  destroy(x->refs);
  destroy(x);
}

void ticket_unregister(ExportTicket* t) {
  TicketShard& sh = G.shards[t->shard];
  {
    std::lock_guard<SpinLock> lk(sh.mu);
    if (t->prev) t->prev->next = t->next;
    else sh.head = t->next;
    if (t->next) t->next->prev = t->prev;
  }
  G.tickets.fetch_sub(1, std::memory_order_relaxed);
  mem_free(t);
}

void note_hold(int64_t t0) {
  uint64_t d = uint64_t(now_ns() - t0);
  uint64_t cur = G.longest_hold_ns.load(std::memory_order_relaxed);
  while (d > cur && !G.longest_hold_ns.compare_exchange_weak(cur, d, std::memory_order_relaxed)) {
  }
}

// Export side: promotes the sender's objects (see shared.h, Barriers).
class Promoter {
 public:
  Promoter(Heap* h, uint64_t phase, uint32_t cycle) : h_(h), phase_(phase), cycle_(cycle) {}

  void promote(const ObjectRef& root) {
    visit_own(root);
    drain();
    // Some reached objects were not traversed: every shared object of this
    // heap is scanned again until nothing is left out.
    rescan_after_overflow(
        stack_, [this](auto&& f) { for_each_block(h_, f); }, kSharedBits, [this](uintptr_t w) { visit_word(w); },
        [this] { drain(); });
  }

  uint64_t promoted() const { return promoted_; }

 private:
  void visit_word(uintptr_t w) {
    ObjectRef o;
    if (object_find(w, &o) && load_relaxed(o.block->owner) == h_) visit_own(o);
  }

  void visit_own(const ObjectRef& o) {
    Block* b = o.block;
    bool locked = phase_ == kSweeping;
    if (locked) block_lock(b);
    bool newly = !bit_fetch_set(o.bits[kSharedBits], o.granule);
    if (newly) {
      register_block(b);
      promoted_ += o.size;
    }
    bool want_smark = phase_ == kMarking || (phase_ == kSweeping && b->swept_cycle != cycle_);
    bool newly_marked = want_smark && !bit_fetch_set(o.bits[kSharedMarkBits], o.granule);
    if (locked) block_unlock(b);
    if (newly || newly_marked) stack_.push(o.start, o.size);
  }

  void drain() {
    MarkStack::Entry e;
    while (stack_.pop(&e)) scan_words(e.start, e.start + e.size, [this](uintptr_t w) { visit_word(w); });
  }

  Heap* h_;
  uint64_t phase_;
  uint32_t cycle_;
  MarkStack stack_;
  uint64_t promoted_ = 0;
};

// Collector side: marks reachable shared objects (smark bits).
class SharedMarker {
 public:
  void visit(uintptr_t w) {
    ObjectRef o;
    if (!object_find(w, &o)) return;
    if (!bit_test_acquire(o.bits[kSharedBits], o.granule)) return;
    if (bit_fetch_set(o.bits[kSharedMarkBits], o.granule)) return;
    stack_.push(o.start, o.size);
  }

  void drain() {
    MarkStack::Entry e;
    while (stack_.pop(&e)) scan_words(e.start, e.start + e.size, [this](uintptr_t w) { visit(w); });
  }

  // Drains the mark stack and the grey buffer until both are empty.
  void drain_all() {
    std::vector<uintptr_t> batch;
    for (;;) {
      drain();
      {
        std::lock_guard<SpinLock> lk(G.grey_mu);
        batch.swap(G.grey);
      }
      if (batch.empty()) break;
      for (uintptr_t w : batch) visit(w);
      batch.clear();
    }
    rescan_after_overflow(
        stack_,
        [](auto&& f) {
          for (Block* b : registry_copy()) f(b);
        },
        kSharedMarkBits, [this](uintptr_t w) { visit(w); }, [this] { drain(); });
  }

 private:
  MarkStack stack_;
};

struct SweepTotals {
  uint64_t kept = 0;
  uint64_t released = 0;
};

// Unshares (owned block) or frees (orphan block) the unmarked shared
// objects of one registered block; clears its smark bits.
void sweep_block(Block* b, uint32_t cycle, SweepTotals* t) {
  int64_t t0 = now_ns();
  block_lock(b);
  Heap* owner = load_relaxed(b->owner);
  ChunkHeader* c = b->chunk;
  uint64_t* sb = c->bits[kSharedBits];
  uint64_t* sm = c->bits[kSharedMarkBits];
  bool left = false;
  if (load_relaxed(b->kind) == kSmall) {
    for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64; ++w) {
      uint64_t s = load_acquire(sb[w]);
      uint64_t m = load_relaxed(sm[w]);
      store_relaxed(sm[w], uint64_t(0));
      for (uint64_t v = s & m; v; v &= v - 1) t->kept += small_object_size(b, w * 64 + uint32_t(std::countr_zero(v)));
      left = left || (s & m);
      uint64_t dead = s & ~m;
      if (!dead) continue;
      if (owner) std::atomic_ref<uint64_t>(sb[w]).fetch_and(~dead, std::memory_order_release);
      for (; dead; dead &= dead - 1) {
        uint32_t g = w * 64 + uint32_t(std::countr_zero(dead));
        uint64_t size = small_object_size(b, g);
        t->released += size;
        if (owner) continue;
        bit_clear_owner(c->bits[kStartBits], g);
        bit_clear_owner(c->bits[kEndBits], g + uint32_t(size >> kGranuleShift) - 1);
        bit_fetch_clear(sb, g);
        asan_poison(reinterpret_cast<void*>(granule_addr(b, g)), size);
      }
    }
  } else {
    uint32_t g = c->huge ? 0 : block_g0(b);
    bool s = bit_test_acquire(sb, g), m = bit_test(sm, g);
    bit_fetch_clear(sm, g);
    if (s && m) {
      left = true;
      t->kept += load_relaxed(b->object_size);
    } else if (s) {
      t->released += load_relaxed(b->object_size);
      bit_fetch_clear(sb, g);
    }
  }
  b->swept_cycle = cycle;
  if (!left) {
    deregister_block(b);
    if (!owner) {
      uint64_t bytes = block_bytes(b);
      block_clear_bits(b);
      block_unlock(b);
      note_hold(t0);
      G.orphan_bytes.fetch_sub(bytes, std::memory_order_relaxed);
      block_free(b);
      return;
    }
  }
  block_unlock(b);
  note_hold(t0);
}

}  // namespace

// ---------------------------------------------------------------- hooks for heap.cpp

void shared_after_collect(Heap* h, FlatMap64* found) {
  if (found && found->empty()) {
    destroy(found);
    found = nullptr;
  }
  if (!found && (!h->ext || !h->ext->refs)) return;
  MutatorSection sec;
  ExternalRefs* x = h->ext;
  if (!x) {
    x = h->ext = ext_create();
    if (!x) {
      // Out of memory: the references found stay unrecorded, which would
      // let them be unshared; keep the process's view conservative instead.
      fatal_oom("recording a heap's external references");
    }
  }
  FlatMap64* old;
  {
    std::lock_guard<SpinLock> lk(x->lock);
    if (sec.phase() == kMarking) grey_set(x->refs);
    old = x->refs;
    x->refs = found;
    x->added = 0;
    x->kept = found ? found->size() : 0;
  }
  destroy(old);
}

void shared_heap_gone(Heap* h) {
  ExternalRefs* x = h->ext;
  if (!x) return;
  h->ext = nullptr;
  MutatorSection sec;
  {
    std::lock_guard<SpinLock> lk(x->lock);
    if (sec.phase() == kMarking) grey_set(x->refs);
  }
  bool retire = sec.phase() != kIdle;
  {
    std::lock_guard<SpinLock> lk(G.ext_mu);
    if (x->prev) x->prev->next = x->next;
    else G.ext_head = x->next;
    if (x->next) x->next->prev = x->prev;
    if (retire) {
      // The collector may hold a copy of the list: freed after its cycle.
      x->next = G.retired;
      G.retired = x;
    }
  }
  if (!retire) ext_free(x);
}

bool shared_block_releasable(Block* b) {
  block_lock(b);
  bool ok = !is_registered(b) && !any_shared(b);
  block_unlock(b);
  return ok;
}

bool shared_adopt_orphan(Block* b) {
  block_lock(b);
  if (!is_registered(b) && !any_shared(b)) {
    block_unlock(b);
    return false;
  }
  ChunkHeader* c = b->chunk;
  if (load_relaxed(b->kind) == kSmall) {
    uint64_t* st = c->bits[kStartBits];
    for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64; ++w) {
      uint64_t priv = load_relaxed(st[w]) & ~load_acquire(c->bits[kSharedBits][w]);
      for (; priv; priv &= priv - 1) {
        uint32_t g = w * 64 + uint32_t(std::countr_zero(priv));
        uint64_t size = small_object_size(b, g);
        bit_clear_owner(st, g);
        bit_clear_owner(c->bits[kEndBits], g + uint32_t(size >> kGranuleShift) - 1);
        asan_poison(reinterpret_cast<void*>(granule_addr(b, g)), size);
      }
      store_relaxed(c->bits[kMarkBits][w], uint64_t(0));
    }
  } else {
    store_relaxed(c->bits[kMarkBits][c->huge ? 0 : block_g0(b) / 64], uint64_t(0));
  }
  store_release(b->owner, static_cast<Heap*>(nullptr));
  block_unlock(b);
  uint64_t bytes = block_bytes(b);
  G.orphan_bytes.fetch_add(bytes, std::memory_order_relaxed);
  G.promoted_since.fetch_add(bytes, std::memory_order_relaxed);
  return true;
}

bool shared_refs_want_collect(const Heap* h) {
  const ExternalRefs* x = h->ext;
  return x && x->added > 64 && x->added > 2 * x->kept;
}

uint64_t shared_refs_count(const Heap* h) {
  const ExternalRefs* x = h->ext;
  return x && x->refs ? x->refs->size() : 0;
}

// ---------------------------------------------------------------- interface

ExportTicket* heap_export(Heap* h, const void* payload, uint64_t len) {
  if (!payload || len < 8) return nullptr;
  const auto* bytes = static_cast<const uint8_t*>(payload);
  uint64_t words = len / 8;
  uint64_t first = words;
  ObjectRef o;
  for (uint64_t i = 0; i < words; ++i)
    if (object_find(uintptr_t(get_u64(bytes + 8 * i)), &o)) {
      first = i;
      break;
    }
  if (first == words) return nullptr;  // no heap address at all: the common case

  MutatorSection sec;
  Promoter pr(h, sec.phase(), G.cycle.load(std::memory_order_acquire));
  std::vector<uintptr_t> refs;
  for (uint64_t i = first; i < words; ++i) {
    if (!object_find(uintptr_t(get_u64(bytes + 8 * i)), &o)) continue;
    if (h && load_relaxed(o.block->owner) == h) {
      pr.promote(o);
      refs.push_back(o.start);
    } else if (bit_test_acquire(o.bits[kSharedBits], o.granule)) {
      refs.push_back(o.start);
    }
  }
  G.promoted_since.fetch_add(pr.promoted(), std::memory_order_relaxed);
  if (refs.empty()) return nullptr;
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  auto* t = static_cast<ExportTicket*>(mem_alloc(sizeof(ExportTicket) + refs.size() * sizeof(uintptr_t)));
  if (!t) {
    log_line("snowrt: out of memory exporting %zu heap references", refs.size());
    return nullptr;
  }
  t->refs = reinterpret_cast<uintptr_t*>(t + 1);
  t->count = uint32_t(refs.size());
  std::memcpy(t->refs, refs.data(), refs.size() * sizeof(uintptr_t));
  if (sec.phase() == kMarking) grey(t->refs, t->count);
  t->shard = my_stripe() % kTicketShards;
  TicketShard& sh = G.shards[t->shard];
  {
    std::lock_guard<SpinLock> lk(sh.mu);
    t->prev = nullptr;
    t->next = sh.head;
    if (sh.head) sh.head->prev = t;
    sh.head = t;
  }
  G.tickets.fetch_add(1, std::memory_order_relaxed);
  return t;
}

void heap_import(Heap* h, ExportTicket* t) {
  if (!t) return;
  if (!h) {
    heap_ticket_drop(t);
    return;
  }
  MutatorSection sec;
  ExternalRefs* x = h->ext ? h->ext : (h->ext = ext_create());
  if (x) {
    std::lock_guard<SpinLock> lk(x->lock);
    if (!x->refs) x->refs = make<FlatMap64>();
    if (!x->refs) x = nullptr;
    for (uint32_t i = 0; x && i < t->count; ++i) x->refs->emplace(t->refs[i], 0);
    if (x) x->added += t->count;
  }
  if (!x) {
    // Out of memory: keep the ticket registered (its objects stay alive).
    log_line("snowrt: out of memory importing heap references; they are kept");
    return;
  }
  if (sec.phase() == kMarking) grey(t->refs, t->count);
  ticket_unregister(t);
}

void heap_ticket_drop(ExportTicket* t) {
  if (!t) return;
  MutatorSection sec;
  if (sec.phase() == kMarking) grey(t->refs, t->count);
  ticket_unregister(t);
}

bool shared_wants_collect() {
  uint64_t trigger = std::max(kSharedMinTrigger, G.shared_bytes.load(std::memory_order_relaxed));
  return G.promoted_since.load(std::memory_order_relaxed) >= trigger;
}

void shared_collect() {
  std::lock_guard<std::mutex> lk(G.collect_mu);
  int64_t t0 = now_ns();
  G.longest_hold_ns.store(0, std::memory_order_relaxed);
  uint64_t promoted_at_start = G.promoted_since.load(std::memory_order_relaxed);

  // Idle: nobody sets smark bits now; clear any left by the last cycle.
  for (Block* b : registry_copy()) {
    ChunkHeader* c = b->chunk;
    if (c->huge) {
      store_relaxed(c->bits[kSharedMarkBits][0], uint64_t(0));
      continue;
    }
    for (uint32_t w = block_g0(b) / 64; w < block_g1(b) / 64; ++w)
      store_relaxed(c->bits[kSharedMarkBits][w], uint64_t(0));
  }
  uint32_t cycle = G.cycle.fetch_add(1, std::memory_order_acq_rel) + 1;

  transition(kMarking);
  // Roots: each ticket shard's and each heap's references are copied out
  // under their lock and visited after it, so a process waits at most for
  // a copy. Safe because every change to them during Marking greys what it
  // adds or removes.
  SharedMarker m;
  std::vector<uintptr_t> batch;
  auto visit_batch = [&] {
    for (uintptr_t w : batch) m.visit(w);
    batch.clear();
  };
  for (TicketShard& sh : G.shards) {
    int64_t h0 = now_ns();
    {
      std::lock_guard<SpinLock> l(sh.mu);
      for (ExportTicket* t = sh.head; t; t = t->next) batch.insert(batch.end(), t->refs, t->refs + t->count);
    }
    note_hold(h0);
    visit_batch();
  }
  if (auto hook = g_cycle_hook.load(std::memory_order_acquire)) hook();
  std::vector<ExternalRefs*> exts;
  {
    std::lock_guard<SpinLock> l(G.ext_mu);
    for (ExternalRefs* x = G.ext_head; x; x = x->next) exts.push_back(x);
  }
  for (ExternalRefs* x : exts) {
    int64_t h0 = now_ns();
    {
      std::lock_guard<SpinLock> l(x->lock);
      if (x->refs) {
        batch.reserve(x->refs->size());
        x->refs->for_each([&](uint64_t k, uint64_t) { batch.push_back(uintptr_t(k)); });
      }
    }
    note_hold(h0);
    visit_batch();
  }
  m.drain_all();

  transition(kSweeping);
  m.drain_all();  // what the last Marking-phase operations greyed
  SweepTotals totals;
  for (Block* b : registry_copy()) sweep_block(b, cycle, &totals);

  transition(kIdle);
  ExternalRefs* retired;
  {
    std::lock_guard<SpinLock> l(G.ext_mu);
    retired = G.retired;
    G.retired = nullptr;
  }
  while (retired) {
    ExternalRefs* next = retired->next;
    ext_free(retired);
    retired = next;
  }
  G.shared_bytes.store(totals.kept, std::memory_order_relaxed);
  G.unshared_bytes.store(totals.released, std::memory_order_relaxed);
  G.promoted_since.fetch_sub(promoted_at_start, std::memory_order_relaxed);
  G.cycles.fetch_add(1, std::memory_order_relaxed);
  G.last_cycle_ns.store(uint64_t(now_ns() - t0), std::memory_order_relaxed);
}

void heap_debug_set_shared_cycle_hook(void (*hook)()) { g_cycle_hook.store(hook, std::memory_order_release); }

SharedStats shared_stats() {
  return SharedStats{G.cycles.load(),         G.shared_bytes.load(), G.orphan_bytes.load(),  G.unshared_bytes.load(),
                     G.promoted_since.load(), G.tickets.load(),      G.last_cycle_ns.load(), G.longest_hold_ns.load()};
}

}  // namespace snow::rt
