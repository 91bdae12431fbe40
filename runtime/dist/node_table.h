// The node table: which other nodes this node refers to, and the handles
// that stand for their processes.
//
// Vocabulary:
// - *Entry* (NodeEntry): one row per node incarnation this node refers to,
//   keyed by (name, creation), plus one *by-name* entry per name for
//   traffic addressed to a node by name (registered sends, remote spawns)
//   before we know which incarnation answers. An entry holds what crosses
//   the wire for that incarnation: the outbox of encoded frames, the link
//   and monitor records that fire `noconnection` when the connection is
//   lost, and the remote pid handles.
// - *Index*: an entry's row number, 1..65535; bits 63..48 of a remote pid
//   handle (ABI.md section 5). Entry objects are never freed: a row whose
//   entry nothing refers to any more is *recycled* for another node, and
//   its `generation` changes, so a thread that looked an entry up by index
//   re-checks the generation under the entry's lock before it acts.
// - *Handle*: a remote pid as the ABI shows it, [index:16][number:48].
//   Numbers come from one process-wide counter and are never reused, so a
//   handle that was reclaimed (or whose row was recycled) is simply not
//   found any more: it behaves as an unknown pid (sends are dropped, links
//   and monitors get noproc) and never names another process.
//
// Who may reclaim what (docs/design/distribution.md, "Node table"):
// - A handle is kept while a link or monitor record of its entry names it,
//   or while user code may hold it for a process that may be alive
//   (`exposed` and not `dead`: it appeared in an EXIT from exit/2, a
//   service call's caller, a spawn reply, snow_term_decode_pid, or a
//   noconnection notice). A handle is `dead` once its process is known to
//   have exited (its link exit or monitor DOWN arrived, or a newer
//   incarnation of its node connected). A dead handle is still kept for
//   kDeadHandleGraceNs: the EXIT or DOWN that announced the death names it
//   and may wait in a mailbox, and its receiver expects to print or encode
//   the pid it names. User code that holds a dead handle longer meets an
//   unknown pid, which is what a dead process is; memory stays bounded by
//   the rate of deaths times the grace.
// - Handles are created `young` and survive the first sweep that sees
//   them, so a handle the loop just decoded reaches its record or its
//   target before it can be reclaimed.
// - An entry is recycled when nothing refers to it: no handle, record,
//   queued frame, connection or pin.
//
// Threads and locks: `table_mu` (inside node_table.cpp) guards the key map
// and the free rows; each entry's `mu` guards its mutable fields. Lock
// order: table_mu, then an entry's `mu` (entry_get and
// entry_recycle_if_idle hold both), then its write gate's `mu`; nothing
// takes table_mu while it holds an entry's `mu`. Sweeps and recycling run
// on the loop (under loop_mu). dist_internal.h has the module's lock table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/proc/signal.h"

namespace snow::rt {

struct NodeEntry;

// One encoded frame waiting in an outbox (4-byte length prefix included),
// with what to answer locally if its target turns out to be unreachable.
// A frame counted in an entry's queued bytes (busy.cpp) takes itself out
// of the count when it is deleted, whichever path deletes it.
struct Frame {
  std::vector<uint8_t> bytes;
  SigKind kind = SigKind::Message;
  uint64_t local = 0;
  uint64_t remote = 0;
  uint64_t ref = 0;
  // The body's form (runtime/dist/fragments.h): header form, the control
  // term at [7, control_end) and the payload after it; or pass-through.
  bool header_form = false;
  uint32_t control_end = 0;
  NodeEntry* counted_in = nullptr;  // the entry whose queued_bytes include this frame
  uint64_t counted = 0;             // how many bytes it added there
  Frame() = default;
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  ~Frame();
};

// Who may write to an up connection's socket. The loop writes through
// libuv; a sending thread may write a frame straight to the socket (saving
// the hand-off to the loop) only while libuv holds nothing for it:
// loop_pending counts writes handed to libuv and not completed, partial
// says a direct write left a remainder that the loop must write first. Both
// are read and changed under `mu`, and the loop bumps loop_pending under the
// same entry mutex that guards the outbox it drains, so frames keep their
// order whichever thread writes them.
struct WriteGate {
  std::mutex mu;
  int fd = -1;
  bool open = false;
  int loop_pending = 0;
  bool partial = false;
  bool header_form = false;  // the peer negotiated fragments: frames go in header form (fragments.h)
  std::atomic<int64_t> last_send{0};
};
using GatePtr = std::shared_ptr<WriteGate>;

// A monitor a peer's process holds on one of ours.
struct PeerMonitor {
  std::vector<uint8_t> ref_term;  // the peer's reference, verbatim (no version byte)
  uint64_t watcher = 0;           // remote pid handle
  uint64_t target = 0;            // local pid
  std::string name;               // monitored by registered name
};

struct RemotePid {
  uint32_t id = 0;
  uint32_t serial = 0;
  bool young = true;          // created since the last sweep of its entry
  bool exposed = false;       // user code may hold it
  bool dead = false;          // its process is known to have exited
  int64_t dead_since_ns = 0;  // when it was marked dead (now_ns)
};

// How long a dead handle stays encodable (see the reclaim rules above).
constexpr int64_t kDeadHandleGraceNs = int64_t(10) * 1000 * 1000 * 1000;
// Sets that time (unit tests shorten it; any thread).
void handles_set_dead_grace(int64_t ns);

struct NodeEntry {
  uint16_t index = 0;

  std::mutex mu;            // guards everything below
  uint32_t generation = 0;  // changes when the row is recycled
  bool in_use = false;      // keyed in the table (not on the free list)
  std::string name;
  uint32_t creation = 0;
  bool by_name = false;           // the "whichever incarnation answers" entry of `name`
  bool dead_incarnation = false;  // our own name with another creation
  int pins = 0;                   // callers between entry_get and entry_unpin
  int conns = 0;                  // connections whose entry this is

  std::vector<Frame*> outbox;
  size_t outbox_bytes = 0;  // the bytes of the outbox's frames (decides when a cork is full)
  bool dirty = false;
  GatePtr gate;              // the up connection's write gate, when it serves this entry
  bool cork_listed = false;  // on the loop's corked list: it flushes it if no worker does

  // The busy limit (busy.cpp): bytes of this entry's frames queued and not
  // yet on the socket (outbox and libuv's queue), and the processes
  // suspended until that falls below the limit. The counters are atomic
  // (read without `mu` on the send fast path); busy_waiters is under `mu`.
  std::atomic<uint64_t> queued_bytes{0};
  std::atomic<uint32_t> busy_waiter_count{0};
  std::vector<uint64_t> busy_waiters;

  // Remote pid handles: number (low 48 bits of the handle) -> pid, and the
  // wire identity (id << 32 | serial) -> number.
  std::unordered_map<uint64_t, RemotePid> pids;
  std::unordered_map<uint64_t, uint64_t> pid_numbers;
  size_t pids_after_sweep = 0;  // live handles the last sweep kept

  std::set<std::pair<uint64_t, uint64_t>> links;                         // (local pid, remote pid)
  std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> monitors;  // ref -> (local watcher, remote)
  std::unordered_map<uint64_t, PeerMonitor> peer_monitors;               // our ref -> peer's monitor
  std::unordered_map<std::string, uint64_t> peer_monitor_by_term;        // the peer's ref term -> our ref
  std::unordered_map<uint64_t, uint64_t> spawns;                         // request ref -> requesting local pid
};

constexpr uint64_t kHandleNumberMask = (uint64_t(1) << 48) - 1;

// How a handle is being handed out (see the reclaim rules above).
enum class PidUse : uint8_t {
  Internal,  // stays inside the runtime (records, signal senders)
  Exposed,   // user code may see it
  Dead,      // it names a process known to have exited
};

// The entry at row `index` (1..65535), or nullptr. Any thread, lock-free.
NodeEntry* entry_at(uint64_t index);

// Finds or makes the entry for (name, creation), or the by-name entry of
// `name`, and pins it: it cannot be recycled until entry_unpin. nullptr
// when all 65,535 rows are in use. Any thread.
NodeEntry* entry_get(std::string_view name, uint32_t creation, bool by_name, bool dead_incarnation);
void entry_unpin(NodeEntry* e);

// The handle for process (id, serial) of the entry, made if needed, marked
// for `use`. Any thread. 0 when the entry was recycled meanwhile (e must be
// pinned or otherwise kept in use by the caller to avoid that).
uint64_t handle_get(NodeEntry* e, uint32_t id, uint32_t serial, PidUse use);

// What a handle stands for, read under its entry's lock.
struct RemoteIdentity {
  NodeEntry* entry = nullptr;
  uint32_t generation = 0;  // the entry's, to re-check before acting on it
  std::string node;
  uint32_t creation = 0;
  uint32_t id = 0;
  uint32_t serial = 0;
  bool dead_incarnation = false;
};
// Reads a handle. false when it is not (or no longer) known. Any thread.
bool handle_read(uint64_t handle, RemoteIdentity* out);

// Marks what is known of a handle's process (no-op for unknown handles).
void handle_mark(uint64_t handle, PidUse use);
// Marks every handle of the entry dead (a newer incarnation connected).
// Called with e->mu held.
void handles_all_dead_locked(NodeEntry* e);

// Reclaims the entry's handles that nothing keeps (see the rules above).
// Called with e->mu held, on the loop between frames. Returns how many
// went.
size_t handles_sweep_locked(NodeEntry* e);
// Whether the entry has grown enough since its last sweep that sweeping
// it now is worth it (amortised O(1) per handle). e->mu held.
bool handles_sweep_due_locked(const NodeEntry* e);

// Gives the row back when nothing refers to the entry (no handle, record,
// frame, connection or pin); returns whether it did. The caller (the
// loop) must drop its own pointers to the entry when it returns true.
bool entry_recycle_if_idle(NodeEntry* e);

// Every entry in use, for sweeps (a snapshot; entries may be recycled
// right after). Loop only.
std::vector<NodeEntry*> entries_in_use();

struct NodeTableCounts {
  uint64_t entries = 0;  // rows in use
  uint64_t pids = 0;     // remote pid handles held
};
NodeTableCounts node_table_counts();

}  // namespace snow::rt
