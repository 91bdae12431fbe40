// Introspection (introspect.h): the process list and one process's gauges,
// read from any thread without stopping the process.
#include "runtime/proc/introspect.h"

#include <cstring>

#include "runtime/proc/process_internal.h"

namespace snow::rt {

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

}  // namespace snow::rt
