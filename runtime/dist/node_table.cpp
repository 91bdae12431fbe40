#include "runtime/dist/node_table.h"

#include "runtime/common/common.h"

#include <deque>
#include <map>
#include <tuple>

namespace snow::rt {

namespace {

constexpr uint32_t kRows = 65536;  // row 0 is this node
// Rows come back oldest first, and a fresh row is taken while fewer than
// this many are free, so a recycled row is reused as late as possible
// (handles never alias anyway: their numbers are never reused).
constexpr size_t kMinFreeRows = 256;

struct Key {
  std::string name;
  uint32_t creation;
  bool by_name;
  bool operator<(const Key& o) const {
    return std::tie(name, creation, by_name) < std::tie(o.name, o.creation, o.by_name);
  }
};

struct Table {
  std::mutex mu;  // guards by_key, free_rows, next_row
  std::atomic<NodeEntry*> rows[kRows] = {};
  std::map<Key, NodeEntry*> by_key;
  std::deque<uint16_t> free_rows;
  uint32_t next_row = 1;
  std::atomic<uint64_t> next_number{1};
  std::atomic<int64_t> pids{0};
};

// Never destroyed: threads a program leaves running may still call in
// while static destructors run at exit (see Dist in dist.cpp).
Table& T = *new Table();

void forget_pid_locked(NodeEntry* e, std::unordered_map<uint64_t, RemotePid>::iterator it) {
  e->pid_numbers.erase(uint64_t(it->second.id) << 32 | it->second.serial);
  e->pids.erase(it);
  T.pids.fetch_sub(1, std::memory_order_relaxed);
}

std::atomic<int64_t> g_dead_grace_ns{kDeadHandleGraceNs};

void mark_dead(RemotePid& p) {
  if (p.dead) return;
  p.dead = true;
  p.dead_since_ns = now_ns();
}

void apply_use(RemotePid& p, PidUse use) {
  if (use == PidUse::Exposed) p.exposed = true;
  if (use == PidUse::Dead) mark_dead(p);
}

bool idle_locked(const NodeEntry* e) {
  return e->in_use && e->pins == 0 && e->conns == 0 && e->pids.empty() && e->outbox.empty() && !e->dirty &&
         !e->cork_listed && e->links.empty() && e->monitors.empty() && e->peer_monitors.empty() && e->spawns.empty();
}

}  // namespace

NodeEntry* entry_at(uint64_t index) {
  if (index == 0 || index >= kRows) return nullptr;
  return T.rows[index].load(std::memory_order_acquire);
}

NodeEntry* entry_get(std::string_view name, uint32_t creation, bool by_name, bool dead_incarnation) {
  if (by_name) creation = 0;
  std::lock_guard<std::mutex> tl(T.mu);
  Key key{std::string(name), creation, by_name};
  auto it = T.by_key.find(key);
  if (it != T.by_key.end()) {
    NodeEntry* e = it->second;
    std::lock_guard<std::mutex> el(e->mu);
    ++e->pins;
    return e;
  }
  NodeEntry* e = nullptr;
  if (!T.free_rows.empty() && (T.free_rows.size() >= kMinFreeRows || T.next_row >= kRows)) {
    e = T.rows[T.free_rows.front()].load(std::memory_order_relaxed);
    T.free_rows.pop_front();
  } else if (T.next_row < kRows) {
    e = new (std::nothrow) NodeEntry();
    if (!e) return nullptr;
    e->index = uint16_t(T.next_row++);
    T.rows[e->index].store(e, std::memory_order_release);
  } else {
    return nullptr;
  }
  std::lock_guard<std::mutex> el(e->mu);
  ++e->generation;
  e->in_use = true;
  e->name = key.name;
  e->creation = creation;
  e->by_name = by_name;
  e->dead_incarnation = dead_incarnation;
  e->pins = 1;
  e->pids_after_sweep = 0;
  T.by_key.emplace(std::move(key), e);
  return e;
}

void entry_unpin(NodeEntry* e) {
  std::lock_guard<std::mutex> el(e->mu);
  --e->pins;
}

uint64_t handle_get(NodeEntry* e, uint32_t id, uint32_t serial, PidUse use) {
  uint64_t wire = uint64_t(id) << 32 | serial;
  std::lock_guard<std::mutex> el(e->mu);
  if (!e->in_use) return 0;
  auto it = e->pid_numbers.find(wire);
  uint64_t number;
  if (it != e->pid_numbers.end()) {
    number = it->second;
  } else {
    number = T.next_number.fetch_add(1, std::memory_order_relaxed) & kHandleNumberMask;
    e->pid_numbers.emplace(wire, number);
    e->pids.emplace(number, RemotePid{id, serial});
    T.pids.fetch_add(1, std::memory_order_relaxed);
  }
  RemotePid& p = e->pids[number];
  if (e->dead_incarnation) use = PidUse::Dead;
  apply_use(p, use);
  return uint64_t(e->index) << 48 | number;
}

bool handle_read(uint64_t handle, RemoteIdentity* out) {
  NodeEntry* e = entry_at(handle >> 48);
  if (!e) return false;
  std::lock_guard<std::mutex> el(e->mu);
  if (!e->in_use) return false;
  auto it = e->pids.find(handle & kHandleNumberMask);
  if (it == e->pids.end()) return false;
  out->entry = e;
  out->generation = e->generation;
  out->node = e->name;
  out->creation = e->creation;
  out->id = it->second.id;
  out->serial = it->second.serial;
  out->dead_incarnation = e->dead_incarnation;
  return true;
}

void handle_mark(uint64_t handle, PidUse use) {
  NodeEntry* e = entry_at(handle >> 48);
  if (!e) return;
  std::lock_guard<std::mutex> el(e->mu);
  auto it = e->pids.find(handle & kHandleNumberMask);
  if (it != e->pids.end()) apply_use(it->second, use);
}

void handles_set_dead_grace(int64_t ns) { g_dead_grace_ns.store(ns, std::memory_order_relaxed); }

void handles_all_dead_locked(NodeEntry* e) {
  for (auto& [number, p] : e->pids) mark_dead(p);
}

size_t handles_sweep_locked(NodeEntry* e) {
  auto named_here = [e](uint64_t pid) { return (pid >> 48) == e->index; };
  std::unordered_map<uint64_t, bool> kept;  // numbers a record names
  for (auto& [local, remote] : e->links)
    if (named_here(remote)) kept[remote & kHandleNumberMask] = true;
  for (auto& [ref, lr] : e->monitors)
    if (named_here(lr.second)) kept[lr.second & kHandleNumberMask] = true;
  for (auto& [ref, pm] : e->peer_monitors)
    if (named_here(pm.watcher)) kept[pm.watcher & kHandleNumberMask] = true;
  size_t gone = 0;
  const int64_t now = now_ns();
  for (auto it = e->pids.begin(); it != e->pids.end();) {
    RemotePid& p = it->second;
    bool keep = p.young || kept.count(it->first) || (p.exposed && !p.dead) ||
                (p.dead && now - p.dead_since_ns < g_dead_grace_ns.load(std::memory_order_relaxed));
    p.young = false;
    if (keep) {
      ++it;
      continue;
    }
    auto next = std::next(it);
    forget_pid_locked(e, it);
    it = next;
    ++gone;
  }
  e->pids_after_sweep = e->pids.size();
  return gone;
}

bool handles_sweep_due_locked(const NodeEntry* e) { return e->pids.size() > 2 * e->pids_after_sweep + 256; }

bool entry_recycle_if_idle(NodeEntry* e) {
  std::lock_guard<std::mutex> tl(T.mu);
  std::lock_guard<std::mutex> el(e->mu);
  if (!idle_locked(e)) return false;
  T.by_key.erase(Key{e->name, e->creation, e->by_name});
  e->in_use = false;
  ++e->generation;
  e->name.clear();
  e->name.shrink_to_fit();
  e->pid_numbers = {};
  e->pids = {};
  e->links = {};
  e->monitors = {};
  e->peer_monitors = {};
  e->peer_monitor_by_term = {};
  e->spawns = {};
  e->outbox = {};
  e->outbox_bytes = 0;
  e->gate.reset();
  T.free_rows.push_back(e->index);
  return true;
}

std::vector<NodeEntry*> entries_in_use() {
  std::lock_guard<std::mutex> tl(T.mu);
  std::vector<NodeEntry*> out;
  out.reserve(T.by_key.size());
  for (auto& [key, e] : T.by_key) out.push_back(e);
  return out;
}

NodeTableCounts node_table_counts() {
  NodeTableCounts c;
  {
    std::lock_guard<std::mutex> tl(T.mu);
    c.entries = T.by_key.size();
  }
  int64_t pids = T.pids.load(std::memory_order_relaxed);
  c.pids = pids > 0 ? uint64_t(pids) : 0;
  return c;
}

}  // namespace snow::rt
