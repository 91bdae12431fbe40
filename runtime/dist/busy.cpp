// The send-side busy limit, as Erlang's distribution buffer busy limit
// (erl +zdbbl): when the bytes queued toward a node reach the limit, a
// process sending it a message is suspended until they fall below it.
//
// What is counted: per node entry (one incarnation of a peer, or its
// by-name entry), the bytes of every frame from the moment a sender queues
// it (enqueue_frame) until it is deleted: written to the socket whole, or
// dropped because the connection is gone. The frame's destructor takes its
// bytes out of the count (Frame in node_table.h), so every path that frees
// a frame keeps the count right. The kernel's socket buffers are not
// counted (as on BEAM).
//
// Who waits: proc_await_send_room (runtime/proc) asks send_busy before a
// user message or a remote named send is queued. A process is enlisted
// here (busy_enlist) and parks until proc_wake; a thread outside a process
// gets SNOW_EBUSY. Control signals (links, unlinks, exits, monitors,
// DOWNs), service calls and replies, remote spawns and whatever the
// runtime itself sends are never held: they are queued at once and count
// toward the limit.
//
// No lost wake-up: a waiter, under the entry's mutex, adds itself and
// raises busy_waiter_count, then re-reads queued_bytes; a waker lowers
// queued_bytes (the frame's destructor), then reads busy_waiter_count, and
// only if it is not zero takes the mutex and the list. All four accesses
// are sequentially consistent, so either the waiter sees the lowered count
// (and does not park) or the waker sees the waiter (and wakes it). Every
// path that deletes frames calls busy_wake_if_drained afterwards, holding
// no lock of this module except loop_mu.
#include <cstdlib>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt {

Frame::~Frame() {
  if (counted_in) counted_in->queued_bytes.fetch_sub(counted, std::memory_order_seq_cst);
}

}  // namespace snow::rt

namespace snow::rt::dist {

namespace {

constexpr uint64_t kDefaultBusyLimit = uint64_t(1) << 20;  // erl's +zdbbl default, 1024 KiB
constexpr uint64_t kMinBusyLimit = 1024;

// SNOW_DIST_BUF_BUSY_LIMIT, in bytes, read when the library is loaded.
uint64_t limit_from_environment() {
  const char* v = getenv("SNOW_DIST_BUF_BUSY_LIMIT");
  if (!v || !*v) return kDefaultBusyLimit;
  char* end = nullptr;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end != '\0' || n < kMinBusyLimit) {
    log_line("snowrt: SNOW_DIST_BUF_BUSY_LIMIT=%s is not a number of bytes >= %llu: using %llu", v,
             static_cast<unsigned long long>(kMinBusyLimit), static_cast<unsigned long long>(kDefaultBusyLimit));
    return kDefaultBusyLimit;
  }
  return uint64_t(n);
}

const uint64_t g_busy_limit = limit_from_environment();

NodeEntry* entry_of(uint64_t to) { return entry_at(to >> 48); }

}  // namespace

void busy_count_locked(NodeEntry* e, Frame* f) {
  f->counted_in = e;
  f->counted = f->bytes.size();
  e->queued_bytes.fetch_add(f->counted, std::memory_order_seq_cst);
}

void busy_wake_if_drained(NodeEntry* e) {
  if (e->busy_waiter_count.load(std::memory_order_seq_cst) == 0) return;
  if (e->queued_bytes.load(std::memory_order_seq_cst) >= g_busy_limit) return;
  std::vector<uint64_t> woken;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (e->queued_bytes.load(std::memory_order_seq_cst) >= g_busy_limit) return;
    woken.swap(e->busy_waiters);
    e->busy_waiter_count.store(0, std::memory_order_seq_cst);
  }
  for (uint64_t pid : woken) proc_wake(pid);
}

}  // namespace snow::rt::dist

namespace snow::rt {

using namespace dist;

uint64_t dist_busy_limit() { return g_busy_limit; }

bool dist_send_busy(uint64_t to) {
  NodeEntry* e = entry_of(to);
  return e && e->queued_bytes.load(std::memory_order_relaxed) >= g_busy_limit;
}

bool dist_busy_enlist(uint64_t to, uint64_t waiter) {
  NodeEntry* e = entry_of(to);
  if (!e) return false;
  std::lock_guard<std::mutex> lk(e->mu);
  e->busy_waiters.push_back(waiter);
  e->busy_waiter_count.fetch_add(1, std::memory_order_seq_cst);
  if (e->queued_bytes.load(std::memory_order_seq_cst) >= g_busy_limit) return true;
  e->busy_waiters.pop_back();
  e->busy_waiter_count.fetch_sub(1, std::memory_order_seq_cst);
  return false;
}

}  // namespace snow::rt
