// Distribution: this node talking to other nodes (libsnowrt or Erlang/OTP)
// over the Erlang distribution protocol.
//
// Vocabulary:
// - *Node name*: "name@host"; a connect target may add ":port" to skip the
//   port mapper. *Creation*: a node incarnation's 32-bit id (from EPMD).
// - *Node entry*: one row of the node table per (name, creation) ever seen,
//   never freed, so its 16-bit index is stable: a remote pid handle is
//   [entry index:16][per-entry id:48]. Creation 0 is the "whatever
//   incarnation is connected" entry used to address a node by name.
// - *Connection*: one TCP connection to a node, owned by the loop:
//   resolving the host -> port mapper lookup -> connecting -> handshake ->
//   up -> closed.
// - *Records*: per entry, the links and monitors that cross the wire. When
//   a connection is lost they produce, once, the `noconnection` exit signals
//   and DOWNs; processes ignore duplicates by their own link/monitor state.
//
// Threads: one libuv loop owns every socket, timer and connection and never
// runs process code. It runs in rounds under a mutex, on its own thread or
// on an idle worker that is spinning anyway (dist_poll_io), so a frame read
// by a worker runs its target there without a thread switch (see
// docs/design/distribution.md, "Who runs the loop"). Outgoing signals are encoded by the sending
// thread and queued on the target entry's outbox; the sender then writes
// them straight to an up connection's socket when the loop holds nothing
// for it (corked until the end of the time slice on worker threads), or
// hands them to the loop. Commands (connect, disconnect, stop) go through a
// mutex-protected queue; both paths wake the loop with uv_async_send. Incoming frames become local
// signals delivered with proc_deliver: the network is just another producer
// and consumer of signals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/proc/process.h"
#include "runtime/proc/signal.h"

namespace snow::rt {

struct Process;

// The largest message a remote send accepts: SNOW_MAX_MSG_SIZE less room
// for the control message (frames carry a 32-bit length; large ones
// travel in fragments to peers that take them, runtime/dist/fragments.h).
constexpr uint64_t kDistMaxMessage = SNOW_MAX_MSG_SIZE - 64 * 1024;
// The default per-message limit on what peers send (SNOW_DIST_MAX_MESSAGE).
constexpr uint64_t kDefaultMaxMessage = SNOW_MAX_MSG_SIZE;

bool dist_started();
// The distribution entry points proc calls (DistHooks in process.h), for
// the ABI layer to pass to proc_runtime_start.
const DistHooks& dist_proc_hooks();
// Starts the listener and registers with the port mapper; an empty cookie
// means $HOME/.erlang.cookie's. Returns snow_node_start's codes. Blocks the
// calling thread (or parks the calling process) until done.
int64_t dist_start(std::string_view name, std::string_view cookie);
// Disconnects every node (noconnection signals fire) and unregisters.
int64_t dist_stop();
int64_t dist_connect(std::string_view node);
int64_t dist_disconnect(std::string_view node);
void dist_set_ticktime(uint32_t ms);
// One TLS distribution setting for the next start (snow_node_set_tls; the
// keys are tls.h's tls_set_option's). 0 or SNOW_EINVAL. Any thread.
int64_t dist_set_tls(std::string_view key, std::string_view value);

// A signal addressed to a remote pid (pid >> 48 != 0). Consumes it.
// On a worker thread the frame is held ("corked") until the end of the
// current time slice, so a burst of sends leaves in one write; elsewhere
// it is written at once.
void dist_deliver(uint64_t pid, Signal* s);
// Writes what this worker's time slice queued (scheduler hook).
void dist_flush_slice();
// Runs one non-blocking round of the distribution loop on the calling worker
// if no other thread is running it (scheduler hook for spinning workers).
// Worker threads, outside any process.
void dist_poll_io();
// The last spinning worker is about to park: the loop thread takes the
// rounds back at once (scheduler hook). Worker threads.
void dist_poll_io_done();
// A registered send to a remote node. `term`: msg is a term (external
// format, with or without its version byte), sent as itself; otherwise
// bytes, sent as a binary. Like a send to a remote pid it waits for the
// busy limit (proc_await_send_room): SNOW_EBUSY outside a process.
int dist_send_named(uint64_t from, std::string_view name, std::string_view node, const uint8_t* msg, uint64_t size,
                    bool term = false);

// The busy limit (busy.cpp; docs/distribution.md, "Limits"): the bytes
// queued toward a node at which a process sending it a message is
// suspended (SNOW_DIST_BUF_BUSY_LIMIT, default 1 MiB). The DistHooks
// entries send_busy and busy_enlist. Any thread.
uint64_t dist_busy_limit();
bool dist_send_busy(uint64_t to);
bool dist_busy_enlist(uint64_t to, uint64_t waiter);
bool dist_is_self(std::string_view node);

std::string dist_node_name();
std::vector<std::string> dist_connected_nodes();
uint64_t dist_nodes_connected();
// Node table rows in use and remote pid handles held (snow_rt_stats). Any
// thread.
uint64_t dist_node_entries();
uint64_t dist_remote_pids();
// Sends from peers to process aliases, dropped since the library was
// loaded (snow_rt_stats; control.cpp on_alias_send). Any thread.
uint64_t dist_alias_sends_dropped();
// Messages from peers refused for the per-message limit since the library
// was loaded (snow_rt_stats; runtime/dist/fragments.h). Any thread.
uint64_t dist_messages_refused();

// Node monitors: NODEDOWN/NODEUP delivered to `watcher`. The watcher's own
// bookkeeping (ids) lives in its process; these calls keep the registry.
void dist_node_monitor(uint64_t watcher, int64_t id, std::string_view node);
void dist_node_demonitor(int64_t id);
void dist_monitor_all(uint64_t watcher, bool on);

void dist_register_function(std::string_view name, void (*fn)(const uint8_t*));
// `monitor`: the caller monitors the child from the moment it exists (one
// SPAWN_REQUEST with the monitor option; the request's ref is the
// monitor's, written to *monitor_ref).
uint64_t dist_spawn(std::string_view node, std::string_view fname, const uint8_t* args, uint64_t size, bool link,
                    bool monitor = false, uint64_t* monitor_ref = nullptr);

// Test seam for the connection reader (tests/fuzz, tests/unit): a
// connection without a socket, started as an incoming connection awaiting
// the peer's name, as our outgoing connection to `peer` awaiting its
// status, or already up (the seam plays the handshake of a peer that knows
// the cookie); then `bytes` are read as the peer's, `chunk` bytes at a time
// (0: all at once); then the connection is closed as if the peer left.
// What we write to it is dropped. `sweep` runs the node table sweep of a
// tick afterwards. Runs on the loop; the caller (not a process, not the
// loop) blocks until it is done. SNOW_ENOTSTARTED without a node.
enum class TestConnStart : uint8_t { Incoming, Outgoing, Up };
struct TestFeed {
  TestConnStart start = TestConnStart::Incoming;
  const uint8_t* bytes = nullptr;
  size_t n = 0;
  size_t chunk = 0;
  std::string peer = "peer@127.0.0.1";
  uint32_t peer_creation = 1;
  bool sweep = false;
};
int64_t dist_test_feed(const TestFeed& f);

int64_t dist_encode_pid(uint64_t pid, uint8_t* buf, uint64_t cap);
uint64_t dist_decode_pid(const uint8_t* etf, uint64_t len);

}  // namespace snow::rt
