// Processes: control blocks, the process table, signals, mailboxes, links,
// monitors, exits and the name registry.
//
// Vocabulary:
// - *Process control block* (Process): everything a process owns. Only the
//   process itself (its *owner context*) reads or writes it, with three
//   exceptions: the scheduler part (Task, see sched/scheduler.h), the
//   anchor's signal queue, which any thread pushes to, and the table of
//   local watchers, which watchers edit under a striped lock (see "Local
//   monitors" in links.cpp and docs/design/processes.md).
// - *Anchor*: the process table entry for one pid slot: the current pid, the
//   signal queue and the control block pointer. Anchors are never freed
//   while the runtime exists, so any thread may look one up by pid and push
//   without a reference count; control blocks are freed at exit.
// - *Pid*: bits 63..48 node index (0 = this node), 47..24 generation,
//   23..0 index field = anchor index XOR this runtime's index mask. A
//   recycled anchor gets the next generation, so an old pid never names a
//   new process (it would take 16M reuses of one slot). The index mask and
//   every anchor's first generation are random, drawn once per OS process
//   when the runtime first starts (an *incarnation*): a raw pid value from
//   another node, or from an earlier run of the same program, names a
//   process here only if its index field lands on a live anchor (at most
//   live/2^24) and that anchor's generation matches (2^-24), so about
//   live/2^48 per foreign value (docs/design/processes.md, "Pid values").
// - *Dead target*: a signal whose target pid is not the anchor's current
//   process (it exited, or the slot was reused). Links and monitors aimed at
//   a dead target are answered with exit `noproc` / DOWN `noproc`; anything
//   else is dropped. This is decided by whoever finds out: the sender when the
//   queue is closed, the new owner when the signal landed in a reused slot.
//
// Process life cycle:
//   spawned (anchor open, task queued) -> running/sleeping (signals applied by
//   the owner at receive, reduction checks, yields and sleeps) -> exiting
//   (terminate callback, queue closed, pending link/monitor signals applied,
//   names released, links/monitors notified) -> reaped (control block freed,
//   anchor recycled with the next generation).
//
// Ordering: all signals from one sender to one receiver go through the
// receiver's single queue in send order (signal_queue.h), which is what makes
// a sender's messages arrive before its exit signal.
//
// Threads: functions taking `Process* self` run in that process's owner
// context. proc_send*, proc_exit_signal, stats and lookups: any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "abi/include/snowrt.h"
#include "runtime/proc/signal.h"

namespace snow::rt {

struct Process;
struct JobTable;

// Distribution as proc sees it. proc sits below runtime/dist and never
// includes its headers: dist fills this table (dist_proc_hooks in dist.h)
// and the ABI layer hands it to proc_runtime_start. Every entry is set.
struct DistHooks {
  bool (*started)();  // a node is running
  int64_t (*stop)();  // disconnect every node, unregister
  // A signal addressed to a remote pid (consumes it). Any thread.
  void (*deliver)(uint64_t pid, Signal* s);
  // Scheduler hooks of the same names (SchedHooks in sched/scheduler.h).
  void (*after_slice)();
  void (*poll_io)();
  void (*poll_io_done)();
  // Node monitors: the registry of watchers that dist keeps.
  void (*node_monitor)(uint64_t watcher, int64_t id, std::string_view node);
  void (*node_demonitor)(int64_t id);
  void (*monitor_all)(uint64_t watcher, bool on);
  // Figures for proc_stats.
  uint64_t (*nodes_connected)();
  uint64_t (*node_entries)();
  uint64_t (*remote_pids)();
  uint64_t (*alias_sends_dropped)();
  uint64_t (*messages_refused)();
  // The send-side busy limit (docs/distribution.md, "Limits"). `to` is a
  // remote pid, or any handle of the same node entry. send_busy: the queue
  // toward it holds the limit or more (lock-free: every remote send asks).
  // busy_enlist: wake `waiter` (proc_wake) once that queue is below the
  // limit; false, enlisting nothing, when it already is. Any thread.
  bool (*send_busy)(uint64_t to);
  bool (*busy_enlist)(uint64_t to, uint64_t waiter);
};

// Runtime start/stop (called by the ABI lifecycle functions).
// stop_on_signals: install SIGINT/SIGTERM handlers that halt the runtime
// (status 130 / 143) until it stops; false leaves the program's own.
// `dist` is kept for the runtime's lifetime (and across restarts).
int proc_runtime_start(unsigned workers, bool stop_on_signals, const DistHooks& dist);
// The main thread's process exits normally, then waits for every process
// (or a halt, or quiescence), stops everything. Returns the exit status.
int proc_runtime_run();
// Wakes the main thread waiting in proc_runtime_run to re-check whether the
// runtime should end (distribution stopped). Any thread.
void proc_runtime_poke();
void proc_runtime_halt(int status);
bool proc_runtime_started();

// The calling process: the task on this worker, or this thread's process.
Process* proc_current();
uint64_t proc_pid(const Process* p);

// A terminate callback: (state, encoded reason); state is always NULL.
using TerminateFn = void (*)(const uint8_t*, const uint8_t*);

// Spawning. Any thread (link/monitor need `parent`). 0 on failure.
struct SpawnRequest {
  void (*fn)(const uint8_t*) = nullptr;
  const uint8_t* args = nullptr;
  uint64_t size = 0;
  uint8_t priority = SNOW_PRIO_NORMAL;
  uint64_t stack_size = 0;
  Process* parent = nullptr;
  bool link = false;
  bool monitor = false;
  uint64_t* monitor_ref_out = nullptr;
  // Set before the child can run, so it covers even an instant exit.
  TerminateFn terminate = nullptr;
  // Non-zero: `parent` watches the child as a job under this ref; its DOWN
  // goes to the parent's job table (jobs.h), never to its mailbox.
  uint64_t job_ref = 0;
  // Remote parent (distribution spawn requests): link to / monitored by a
  // remote pid, set up before the child runs.
  uint64_t remote_link = 0;
  uint64_t remote_watcher = 0;
  uint64_t remote_monitor_ref = 0;
  // Called with the new pid before the child can run (to queue a reply
  // that must precede anything the child sends).
  void (*before_start)(uint64_t pid, void* ctx) = nullptr;
  void* before_start_ctx = nullptr;
};
uint64_t proc_spawn(const SpawnRequest& r);

// Thrown on an attached foreign thread (not the main thread) whose process
// was ended by a signal (a kill, a crashing link, a halt) inside a runtime
// call, after the exit has run and the thread is no longer attached. The
// ABI layer catches it at the entry point, which then returns its "no
// process" result (NULL, 0 or SNOW_ENOTPROC): the foreign thread goes on,
// unattached, instead of being ended under its language runtime's feet.
// snow_actor_exit_self and snow_panic, which cannot return, end the thread
// with pthread_exit instead.
struct ThreadProcessEnded {};

// Replies to internal requests (distribution connects, remote spawns):
// the caller announces the ref it expects, issues the request, then parks
// until proc_reply() delivers a payload for that ref (other replies are
// dropped). false on timeout (timeout_ms < 0: none).
void proc_expect_reply(Process* self, uint64_t ref);
bool proc_wait_reply(Process* self, uint64_t ref, int64_t timeout_ms, void* out, size_t len);
void proc_reply(uint64_t pid, uint64_t ref, const void* data, size_t len);

// Pid layout helpers for the wire (id and serial of a local pid): the id
// is the index field, the serial the generation, 24 bits each, so a local
// pid round-trips through an Erlang pid exactly.
inline uint32_t local_pid_id(uint64_t pid) { return uint32_t(pid & 0xFFFFFF); }
inline uint32_t local_pid_serial(uint64_t pid) { return uint32_t((pid >> 24) & 0xFFFFFF); }
inline uint64_t local_pid_make(uint32_t id, uint32_t serial) {
  if (id > 0xFFFFFF || serial > 0xFFFFFF || serial == 0) return 0;
  return uint64_t(serial) << 24 | id;
}
inline bool pid_is_remote(uint64_t pid) { return (pid >> 48) != 0; }

// Foreign threads.
uint64_t proc_thread_attach();
int proc_thread_detach();

// Delivery of a prepared signal to a local or remote pid (consumes it).
void proc_deliver(uint64_t pid, Signal* s);
// A signal of `kind` from `from` to `target` (with `ref`) cannot reach a
// live target: answers it as the target's side would have, with the
// one-byte `reason` (noproc, noconnection): a Link gets a LinkExit, a
// Monitor a DOWN, an Unlink its UnlinkAck; the rest needs no answer, nor
// does a signal from no process (from 0). `from` may be remote (the answer
// then goes back over the wire). Any thread.
void proc_answer_undeliverable(SigKind kind, uint64_t from, uint64_t target, uint64_t ref, const uint8_t* reason);
// Before a message to the remote pid `to` is queued (proc_send, and
// runtime/dist for a remote named send, with a handle of the node's
// entry): while the queue toward that node is busy, a process is
// suspended (parked, applying its signals, so it can be killed) until it
// is not, and 0 is returned; an exiting process passes at once (0); a
// thread outside a process gets SNOW_EBUSY and nothing is sent.
int proc_await_send_room(uint64_t to);
// Pushes a signal that only wakes pid's process, so that a
// proc_wait_until re-checks its condition (it is dropped when applied).
// Any thread.
void proc_wake(uint64_t pid);
// User message (tag from the first bytes). Returns 0 or SNOW_E*
// (SNOW_EBUSY: see proc_await_send_room).
int proc_send(uint64_t from, uint64_t to, const uint8_t* msg, uint64_t size, uint32_t msg_kind, uint64_t tag);

// Receiving (owner context).
const snow_msg* proc_receive(Process* self, int64_t timeout_ms, int (*match)(const snow_msg*, void*), void* ctx);
uint32_t proc_msg_kind(Process* self, const snow_msg* m);
// The caller of a service call made on this node, when `m` is the message
// this process's last receive returned and it is such a call; 0 for
// anything else (a plain message shaped like a call, a call from another
// node). Lets runtime servers (supervisors) refuse requests nobody local
// made through the API. Owner only.
uint64_t proc_local_call_sender(Process* self, const snow_msg* m);
void proc_sleep(Process* self, int64_t ms);
// Parks the calling process, applying its signals as they arrive, until
// ready(ctx) holds or timeout_ms passes (< 0: no limit, 0: one check).
// Returns ready's last answer. Owner context.
bool proc_wait_until(Process* self, int64_t timeout_ms, bool (*ready)(void*), void* ctx);
// The jobs this process started (jobs.h): null until its first job. Owner
// context only.
JobTable*& proc_jobs(Process* self);
// A reduction check whose budget ran out (sched_reductions_left() said
// no): a process on a worker yields (applying its signals when it resumes),
// a thread process applies its signals.
void proc_reduction_check_slow(Process* self);
void proc_yield(Process* self);

// Links, monitors, exits.
int proc_link(Process* self, uint64_t pid);
int proc_unlink(Process* self, uint64_t pid);
bool proc_set_trap_exit(Process* self, bool on);
// Exit signal from `from` (0: not a process) with an encoded, valid reason.
int proc_exit_signal(uint64_t from, uint64_t to, const uint8_t* reason, uint64_t len);
[[noreturn]] void proc_exit_self(Process* self, const uint8_t* reason, uint64_t len);
// Sets the terminate callback of the local process `pid` (0: `self`, the
// calling process, which may be null) if it has not yet taken its callback
// on the way out; no effect on a dead, unknown or remote pid. cb NULL
// clears it. Any thread (see "Terminate callbacks" in exits.cpp).
void proc_set_terminate(Process* self, uint64_t pid, TerminateFn cb);
uint64_t proc_monitor(Process* self, uint64_t pid);
// The record of a monitor set up by a remote spawn request (whose ref is
// the monitor's, as with Erlang's spawn_request): target 0 records it
// before the request is sent, so that a DOWN arriving right after the
// reply is taken; a later call names the child, if the monitor is still
// recorded (its DOWN may have come first). proc_demonitor(p, ref, false)
// removes it when the spawn failed. The process itself only.
void proc_monitor_remote_spawn(Process* self, uint64_t ref, uint64_t target);
int64_t proc_demonitor(Process* self, uint64_t ref, bool flush);

// Node monitors (with no node started every node is unreachable; otherwise
// runtime/dist keeps the registry).
int64_t proc_node_monitor(Process* self, std::string_view node);
int64_t proc_node_demonitor(Process* self, int64_t id);
int64_t proc_node_monitor_all(Process* self, bool on);

// Registry.
int proc_register(Process* self, std::string_view name);
int proc_unregister(Process* self, std::string_view name);
uint64_t proc_whereis(std::string_view name);

// Per-process collected heap (runtime/proc/gc.h). proc_gc_alloc: `self`
// null means the process-wide heap; an allocation safepoint otherwise.
void* proc_gc_alloc(Process* self, uint64_t size, uint64_t align);
// snow_gc_collect: collects self's heap now (owner context, a safepoint).
void proc_gc_collect(Process* self);
// Send side: attaches to `s` the ticket of the heap values its payload
// carries (self may be null: a thread outside processes). Receive side:
// hands a signal's ticket to self's heap. Owner context.
void proc_gc_export(Process* self, Signal* s);
void proc_gc_import(Process* self, Signal* s);
// The same for values kept outside a signal (a job's result).
ExportTicket* proc_gc_export_value(Process* self, const void* payload, uint64_t len);
void proc_gc_import_ticket(Process* self, ExportTicket* t);
// Figures of self's heap (all zero before its first allocation): for the
// bench and tests. Owner context.
HeapStats proc_gc_stats(Process* self);

// Service calls (ABI section 7). A failed call either returns NULL with
// the error recorded for proc_service_last_error (snow_service_try_call),
// or exits the caller with the failure's reason, as gen_server:call does
// (snow_service_call): noproc, noconnection, the server's exit reason,
// custom "timeout", or error "service call: <what>" for a refused call.
// The exit does not return (an attached thread's process ends with
// ThreadProcessEnded).
enum class CallFailure : uint8_t { ReturnNull, ExitCaller };
const snow_msg* proc_service_call(Process* self, uint64_t server, uint64_t tag, const uint8_t* payload, uint64_t size,
                                  int64_t timeout_ms, CallFailure how);
// A call refused before anything was sent (code SNOW_EINVAL, SNOW_EMSGSIZE,
// or SNOW_ENOPROC for server 0): fails it the same way.
const snow_msg* proc_service_call_refused(Process* self, uint64_t server, int64_t code, CallFailure how);
int proc_service_reply(Process* self, uint64_t caller, const uint8_t* reply, uint64_t size);
int64_t proc_service_last_error(Process* self);

void proc_stats(snow_stats* out);

}  // namespace snow::rt
