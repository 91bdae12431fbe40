// Introspection (introspect.h): the process list and one process's gauges,
// read from any thread without stopping the process, and the relations
// requests a process answers about itself.
#include "runtime/proc/introspect.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "runtime/proc/process_internal.h"

namespace snow::rt {

std::vector<uint64_t> proc_live_pids() {
  std::vector<uint64_t> pids(size_t(proc_list(nullptr, 0)) + 64);
  uint64_t n = proc_list(pids.data(), pids.size());
  pids.resize(size_t(std::min<uint64_t>(n, pids.size())));
  return pids;
}

const char* proc_status_name(uint8_t status) {
  return status == SNOW_PROC_WAITING ? "waiting" : status == SNOW_PROC_EXITING ? "exiting" : "running";
}

uint64_t proc_list(uint64_t* buf, uint64_t cap) {
  uint32_t n;
  {
    std::lock_guard<SpinLock> lk(R.table_mu);
    n = R.next_unused;
  }
  uint64_t count = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Anchor* a = anchor_at(i);
    uint64_t pid = a ? a->pid.load(std::memory_order_acquire) : 0;
    if (pid == 0 || !with_control_block(pid, [](Process* p) { return !p->watchers_closed; })) continue;
    if (count < cap) buf[count] = pid;
    ++count;
  }
  return count;
}

int32_t proc_info(uint64_t pid, snow_proc_info* out) {
  *out = snow_proc_info{};
  // Gone once its exit notifies (the watcher table closes first): after a
  // DOWN or EXIT from it, it is never reported alive.
  bool live = with_control_block(pid, [&](Process* p) {
    if (p->watchers_closed) return false;
    const ProcessGauges& g = p->gauges;
    out->status = g.status.load(std::memory_order_relaxed);
    out->message_queue_len = g.message_queue_len.load(std::memory_order_relaxed);
    out->links = g.links.load(std::memory_order_relaxed);
    out->monitors = g.monitors.load(std::memory_order_relaxed);
    out->heap_size = g.heap_bytes.load(std::memory_order_relaxed);
    out->reductions = g.reductions.load(std::memory_order_relaxed);
    out->monitored_by = p->watchers ? p->watchers->size() : 0;  // under the watch lock
    out->entry = reinterpret_cast<uint64_t>(p->fn);
    return true;
  });
  if (!live) return SNOW_ENOPROC;
  out->pid = pid;
  std::lock_guard<std::mutex> lk(R.reg_mu);
  for (const auto& [name, holder] : R.names)
    if (holder == pid && name.size() < sizeof out->name) {
      out->name_len = name.size();
      std::memcpy(out->name, name.data(), name.size());
    }
  return 0;
}

// ---------------------------------------------------------------- relations requests

// The reply target of a relations request (introspect.h): held by the
// requester and by the signal until each lets go.
struct RelationsReply {
  std::atomic<int> holders{2};
  std::mutex mu;
  std::condition_variable answered_cv;
  bool answered = false;  // under mu
  bool alive = false;     // under mu: answered by the live owner
  ProcessRelations relations;
};

inline namespace proc_detail {

namespace {

void let_go(RelationsReply* r) {
  if (r->holders.fetch_sub(1, std::memory_order_acq_rel) == 1) delete r;
}

RelationsReply* reply_of(const Signal* s) {
  RelationsReply* r;
  std::memcpy(&r, s->msg.data, sizeof r);
  return r;
}

// Answers the request of `s` (alive: with `relations`) and frees it.
void answer(Signal* s, bool alive, ProcessRelations&& relations) {
  RelationsReply* r = reply_of(s);
  signal_free(s);
  {
    std::lock_guard<std::mutex> lk(r->mu);
    r->answered = true;
    r->alive = alive;
    r->relations = std::move(relations);
  }
  r->answered_cv.notify_one();
  let_go(r);
}

// The relations of p, read by its owner: its own tables, and its watcher
// table under the watch lock (the watchers write it).
ProcessRelations relations_of(Process* p) {
  ProcessRelations out;
  if (const Relations* r = p->rel) {
    r->links.for_each([&](uint64_t peer, uint64_t unlink_id) {
      if (unlink_id == 0) out.links.push_back(peer);  // an unlink in flight ended it for us
    });
    r->monitors.for_each([&](uint64_t, uint64_t target) { out.monitors.push_back(target); });
    r->monitored_by.for_each([&](uint64_t, uint64_t watcher) { out.monitored_by.push_back(watcher); });
  }
  std::lock_guard<SpinLock> lk(watch_lock(p->pid));
  if (p->watchers) p->watchers->for_each([&](uint64_t, uint64_t watcher) { out.monitored_by.push_back(watcher); });
  return out;
}

}  // namespace

void answer_relations(Process* p, Signal* s) { answer(s, true, relations_of(p)); }

void answer_relations_gone(Signal* s) { answer(s, false, ProcessRelations{}); }

void drop_signals(Signal* s) {
  while (s) {
    Signal* n = s->next;
    if (s->kind == SigKind::RelationsRequest) answer_relations_gone(s);
    else signal_free(s);
    s = n;
  }
}

}  // namespace proc_detail

int32_t proc_relations(uint64_t pid, ProcessRelations* out, int64_t timeout_ms) {
  *out = ProcessRelations{};
  if (!R.started.load(std::memory_order_acquire)) return SNOW_ENOTSTARTED;
  if (pid == 0 || pid_is_remote(pid)) return SNOW_ENOPROC;
  Process* self = proc_current();
  if (self && self->pid == pid) {
    *out = relations_of(self);
    return 0;
  }
  if (self && !self->task.is_thread) return SNOW_EINVAL;
  auto* reply = new (std::nothrow) RelationsReply();
  if (!reply) return SNOW_ENOMEM;
  Signal* s = signal_alloc(SigKind::RelationsRequest, pid, 0, sizeof reply);
  if (!s) {
    delete reply;
    return SNOW_ENOMEM;
  }
  std::memcpy(s->msg.data, &reply, sizeof reply);
  proc_deliver(pid, s);  // a dead pid is answered "gone" before this returns
  int32_t rc;
  {
    std::unique_lock<std::mutex> lk(reply->mu);
    // A day at most: a longer wait would overflow the clock's arithmetic.
    int64_t ms = std::clamp<int64_t>(timeout_ms, 0, int64_t(86400) * 1000);
    if (!reply->answered_cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return reply->answered; }))
      rc = SNOW_ETIMEDOUT;
    else if (!reply->alive) rc = SNOW_ENOPROC;
    else {
      *out = std::move(reply->relations);
      rc = 0;
    }
  }
  let_go(reply);
  return rc;
}

}  // namespace snow::rt
