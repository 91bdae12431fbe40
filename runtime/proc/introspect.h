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
// - *Relations* (ProcessRelations): the pids a process's links and
//   monitors name, as erlang:process_info lists them. They live in tables
//   only the owner may read, so they are not gauges: another thread asks the
//   process itself with a *relations request*, a signal the owner answers
//   when it next applies its signals (see "Relations requests" below).
// - *Status*: running (on a worker, or queued to run), waiting (parked in a
//   receive, a sleep or another wait), exiting (its exit has begun).
//
// Ownership: the gauges belong to the process; the list of processes is
// the process table's (a walk of the anchors, process.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

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

// proc_list as a vector: a snapshot of the live local pids (with room for
// 64 spawned between the count and the copy). Any thread.
std::vector<uint64_t> proc_live_pids();

// A snow_proc_info status as erlang:process_info(P, status) names it:
// "waiting", "exiting" or "running".
const char* proc_status_name(uint8_t status);

// Fills *out for the live local process `pid`: 0, or SNOW_ENOPROC when it
// is not one (dead, unknown, remote). Any thread.
int32_t proc_info(uint64_t pid, snow_proc_info* out);

// Relations requests. The requester pushes a RelationsRequest signal
// (signal.h) carrying a RelationsReply, the reply target, and waits on it
// with a deadline. States of a reply:
//
//   pending --the owner applies the signal (running or woken)--> answered, alive
//   pending --the owner exits first, or the pid names no live process
//             (the push refused, the anchor reused)--> answered, gone
//   pending --the deadline passes--> the requester leaves; the answer, if
//             it comes, is dropped
//
// Who answers: the owner, in apply (signals.cpp), at any point where it
// applies signals (receive, waits, yields, reduction checks that find
// signals pending); the signal is urgent, so a parked owner is woken to
// answer and parks again, with nothing added to its mailbox. Its exit
// answers "gone" for every request still queued (apply_while_exiting,
// release_abandoned), and so does the sender for a pid that is dead
// (answer_dead_target): every request is answered exactly once, and the
// requester never waits past its deadline. The reply is freed by whichever
// of its two holders (the requester, the signal) lets go last.
//
// Cost: only a process that is asked pays (one wake and a walk of its
// tables); nothing is added to parks, sends or receives.

// The pids of a process's relations, each list in no particular order.
struct ProcessRelations {
  std::vector<uint64_t> links;         // peers of its active links (local or remote)
  std::vector<uint64_t> monitors;      // targets of the process monitors it holds
  std::vector<uint64_t> monitored_by;  // a watcher per monitor held on it (local or remote)
};

// Fills *out with the relations of the local process `pid`, asked of that
// process, waiting up to timeout_ms for its answer. Returns 0;
// SNOW_ENOPROC when pid is not a live local process or exits before it
// answers; SNOW_ETIMEDOUT when it did not answer in time (it runs without
// reaching a point where it applies signals, or waits for a worker);
// SNOW_ENOMEM; SNOW_EINVAL when called from a process on a worker about
// another process (the wait would hold up the worker the target may need).
// Any thread that is not a worker's process; a process may ask about
// itself (answered at once).
int32_t proc_relations(uint64_t pid, ProcessRelations* out, int64_t timeout_ms);

}  // namespace snow::rt
