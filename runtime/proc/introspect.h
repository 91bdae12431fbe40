// Introspection: what snow_rt_processes and snow_process_info report about
// the processes of this node, for operators (issue 13).
//
// Vocabulary:
// - *Gauges* (ProcessGauges): figures a process publishes about itself in
//   its control block. Only the owner writes them, with relaxed atomic
//   stores, at points it passes anyway: when a message enters or leaves its
//   mailbox, and when it parks, yields or spends its reduction budget (links,
//   monitors, heap size, reductions). Any thread reads them, relaxed, under
//   the target's watch lock, which keeps the control block alive
//   (process.cpp, "Local monitors"). A reading is a recent value, not a
//   snapshot taken in one instant: the figures of a running process may be
//   up to one time slice old.
// - *Status*: running (on a worker, or queued to run), waiting (parked in a
//   receive, a sleep or another wait), exiting (its exit has begun).
//
// Ownership: the gauges belong to the process; the list of processes is
// the process table's (a walk of the anchors, process.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "abi/include/snowrt.h"

namespace snow::rt {

struct ProcessGauges {
  std::atomic<uint64_t> message_queue_len{0};
  std::atomic<uint64_t> links{0};
  std::atomic<uint64_t> monitors{0};
  std::atomic<uint64_t> heap_bytes{0};
  std::atomic<uint64_t> reductions{0};
  std::atomic<uint8_t> status{SNOW_PROC_RUNNING};

  void queue_add(int64_t n) {
    message_queue_len.store(message_queue_len.load(std::memory_order_relaxed) + uint64_t(n), std::memory_order_relaxed);
  }
  void set(std::atomic<uint64_t>& g, uint64_t v) { g.store(v, std::memory_order_relaxed); }
  void add_reductions(uint64_t n) { set(reductions, reductions.load(std::memory_order_relaxed) + n); }
  void set_status(uint8_t s) { status.store(s, std::memory_order_relaxed); }
};

// Sets a status for a scope (a park: waiting) and puts the one before
// back at its end. Owner only.
class GaugeStatus {
 public:
  GaugeStatus(ProcessGauges& g, uint8_t s) : g_(g), before_(g.status.load(std::memory_order_relaxed)) {
    g_.set_status(s);
  }
  ~GaugeStatus() { g_.set_status(before_); }
  GaugeStatus(const GaugeStatus&) = delete;
  GaugeStatus& operator=(const GaugeStatus&) = delete;

 private:
  ProcessGauges& g_;
  uint8_t before_;
};

// The pids of the live local processes, in table order: writes the first
// min(count, cap) to buf and returns the count. Any thread.
uint64_t proc_list(uint64_t* buf, uint64_t cap);

// Fills *out for the live local process `pid`: 0, or SNOW_ENOPROC when it
// is not one (dead, unknown, remote). Any thread.
int32_t proc_info(uint64_t pid, snow_proc_info* out);

}  // namespace snow::rt
