// Distribution internals shared by the files of runtime/dist (never
// included outside it): the loop's state (Dist), connections (Conn) and the
// per-name peer rows (PeerState), commands, and the functions one file of
// the module calls in another. dist.h has the vocabulary and the threads;
// node_table.h the entries, handles, frames and write gates.
//
// Files (docs/design/distribution.md has the module map):
//   dist.cpp           the calls abi/src makes (dist.h), and the Dist state
//   names.cpp          node names; our pids and references on the wire
//   outbox.cpp         outgoing frames: queue, cork, direct write, flush
//   busy.cpp           the send-side busy limit: queued bytes, suspended senders
//   fragments.cpp      distribution headers and fragments, both directions
//   send.cpp           a signal for a remote pid encoded as a control message
//   control.cpp        incoming control messages (one frame of an up connection)
//   spawn.cpp          remote spawn, both directions, and the function registry
//   handshake_fsm.cpp  the handshake state machine (messages: handshake.h)
//   connection.cpp     connection life: resolve, connect, accept, framing,
//                      close, node up and loss, ticks, sweeps
//   epmd_client.cpp    the port mapper client (messages: epmd.h)
//   loop.cpp           the loop thread, its rounds, commands, start and stop
//   node_monitors.cpp  NODEUP/NODEDOWN watchers
//   tls.cpp            TLS distribution: contexts, each connection's session
//   tls_config.cpp     TLS settings and the ssl_dist.conf optfile reader
//
// Connection states (Conn::st; every state may go to Dead on EOF, a read or
// write error, a malformed frame, the 5 s handshake timeout, a tick
// timeout, disconnect or stop). With TLS on, the TLS handshake runs
// underneath AwaitStatus and AwaitName (tls.h): the messages below are
// sent once it is done, and its failure is one more way to Dead.
//
//   initiator: Resolving --getaddrinfo--> EpmdLookup --PORT2_RESP--> Connecting
//              (an IPv4 literal skips Resolving; name@host:port skips EpmdLookup)
//              Connecting --TCP up, send 'N'--> AwaitStatus
//              AwaitStatus --'s' ok | ok_simultaneous--> AwaitChallenge
//              AwaitStatus --'s' alive, send 's' true--> AwaitChallenge
//              AwaitStatus --'s' nok--> Dead (yielded: the peer's own attempt wins)
//              AwaitChallenge --'N', send 'r'--> AwaitAck --'a' digest ok--> Up
//   acceptor:  AwaitName --'N', send 's' ok and 'N'--> AwaitReply
//              AwaitName --'N' from a node we are connecting to, our name the
//                smaller: close our attempt, send 's' ok_simultaneous and 'N'--> AwaitReply
//              AwaitName --'N' from a node we are connecting to, our name the
//                greater: send 's' nok--> AwaitName (no peer; the peer closes)
//              AwaitName --'N' from a node that is up, send 's' alive--> AwaitAliveAnswer
//              AwaitAliveAnswer --'s' true, send 'N'--> AwaitReply (replacing)
//              AwaitReply --'r' digest ok, send 'a'--> Up
//
// Locks, outermost first. A thread holding one takes only what its last
// column allows; a leaf takes nothing. Only loop_mu is held across calls
// into proc and sched (proc_deliver, proc_reply, proc_spawn, proc_whereis:
// loop callbacks make them); every other lock is released first.
//
//   lock                  guards                                   then may take
//   Dist::loop_mu         the loop and everything "loop only"      any lock below
//   table_mu (node_table) key map and free rows                    an entry's mu
//   NodeEntry::mu         outbox, dirty, gate, records, handles,   its WriteGate::mu
//                         busy_waiters
//   WriteGate::mu         fd, open, loop_pending, partial          leaf (sendmsg under it)
//   Dist::cmd_mu          cmds, dirty, corked, cork_timer_wanted,  leaf (uv_async_send
//                         loop_ready                                 under it)
//   Dist::conn_mu         connected                                leaf
//   Dist::nm_mu           node_mons, monitor_all                   leaf
//   Dist::fn_mu           functions                                leaf
//   Dist::idle_mu         idle_waiting, idle_poke                  leaf (never with loop_mu)
//   tls_config.cpp g_mu   the TLS settings snow_node_set_tls made  leaf
//   Waiter::m             done, result, value                      leaf
//
// At most one entry's mu is held at a time. Whoever runs the loop holds
// loop_mu for a whole round, so "loop only" below means "under loop_mu".
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/dist/dist.h"
#include "runtime/dist/epmd.h"
#include "runtime/dist/fragments.h"
#include "runtime/dist/node_table.h"
#include "runtime/dist/tls.h"
#include "runtime/dist/wire.h"
#include "runtime/etf/etf.h"

namespace snow::rt::dist {

using etf::Writer;

constexpr int64_t kHandshakeTimeoutMs = 5000;

// ------------------------------------------------------------------ types

// A caller waiting for a command: a process (pid and ref: completed with a
// reply signal) or a plain thread (the condition variable).
struct Waiter {
  uint64_t pid = 0, ref = 0;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  int64_t result = 0;
  uint64_t value = 0;
};
using WaiterPtr = std::shared_ptr<Waiter>;

// The replies a waiting process gets through proc_reply / proc_wait_reply
// (runtime/proc/process.h), which carry them as bytes.
// A command's outcome (complete() for a Waiter with a pid).
struct CommandReply {
  int64_t result = 0;
  uint64_t value = 0;
};
// A remote spawn's outcome (SPAWN_REPLY, or the connection's loss).
struct SpawnReply {
  bool ok = false;
  uint64_t child = 0;  // the child's pid handle when ok
};
static_assert(std::is_trivially_copyable_v<CommandReply> && std::is_trivially_copyable_v<SpawnReply>,
              "replies travel as bytes");

struct Conn;

// One row per node name the loop knows of. Loop only.
struct PeerState {
  Conn* conn = nullptr;  // current connection (handshaking or up)
  bool up = false;
  int explicit_port = 0;
  std::vector<WaiterPtr> waiters;
  std::vector<NodeEntry*> entries;  // every entry with this name
};

// Connection states; see the diagram at the top.
enum class St : uint8_t {
  Resolving,  // the peer's host name is being resolved (libuv thread pool)
  EpmdLookup,
  Connecting,
  AwaitStatus,
  AwaitChallenge,
  AwaitAck,
  AwaitName,
  AwaitAliveAnswer,
  AwaitReply,
  Up,
  Dead
};

// One TCP connection to a node. Loop only, except `gate` (shared with the
// entries it serves). Freed when its last libuv handle (or resolution) is
// released.
struct Conn {
  uv_tcp_t tcp;
  uv_tcp_t epmd;
  uv_timer_t timer;
  uv_connect_t creq;
  uv_connect_t ereq;
  uv_getaddrinfo_t resolve_req;
  bool resolving = false;  // resolve_req in flight (counted in open_handles)
  sockaddr_in addr{};      // the peer's IPv4 address (port set per use)
  int open_handles = 0;
  bool initiator = false;
  bool tcp_open = false, epmd_open = false, timer_open = false;
  St st = St::Connecting;
  std::string peer;  // node name without port
  std::string host;
  int port = 0;
  uint32_t my_challenge = 0;
  uint64_t peer_flags = 0;
  uint32_t peer_creation = 0;
  std::vector<uint8_t> rbuf;
  size_t rstart = 0;
  std::vector<uint8_t> ebuf;  // EPMD reply
  int64_t last_recv = 0, last_send = 0;
  NodeEntry* entry = nullptr;
  int64_t fail_code = SNOW_ECONNREFUSED;
  bool yielded = false;  // lost a simultaneous connect: no failure reported
  // Incoming only: answered "alive" for a node we are connected to; the
  // established connection is replaced once this one proves the cookie.
  bool replacing = false;
  bool counted_unauthenticated = false;  // counted in D.unauthenticated
  // No socket: what we write is dropped (dist_test_feed drives it).
  bool test_transport = false;
  GatePtr gate = std::make_shared<WriteGate>();
  // Fragmented messages (fragments.h), once up: incoming sequences
  // (made at the first fragment), outgoing streams, and the bytes left of
  // an unfragmented frame refused for its size.
  std::unique_ptr<Reassembler> reassembler;
  Fragmenter fragmenter;
  uint64_t skip_bytes = 0;
  // TLS distribution: the session every byte goes through (tls.h); null
  // on a plain TCP connection.
  TlsSessionPtr tls;
};

// A write handed to libuv: frames (freed when written) or owned bytes.
struct WriteReq {
  uv_write_t req;
  std::vector<Frame*> frames;
  std::vector<uv_buf_t> bufs;
  std::vector<uint8_t> owned;   // small handshake writes
  GatePtr gate;                 // counted in gate->loop_pending when set
  Conn* fragment_of = nullptr;  // a fragment of this connection's stream (fragments.cpp)
  std::shared_ptr<Frame> keep;  // the stream's frame, which the buffers point into
};

enum class CmdType { Start, Stop, Connect, Disconnect, NodeMonitor, Ticktime, TestFeed };
struct Command {
  CmdType type;
  std::string node;
  WaiterPtr waiter;
  int64_t id = 0;
  const TestFeed* feed = nullptr;
};

struct NodeMon {
  uint64_t watcher = 0;
  std::string node;
  int state = 0;  // 0 pending first report, 1 up reported, 2 down reported
};

struct Dist {
  std::atomic<bool> started{false};
  std::string name;  // full node name, e.g. a@127.0.0.1
  std::string cookie;
  uint32_t creation = 0;
  int listen_port = 0;
  std::string listen_interface = "0.0.0.0";
  int listen_min = 0, listen_max = 0;  // 0: any port
  // Whether peers see this node as visible (it offers kFlagPublished):
  // SNOW_DIST_VISIBLE, read at start. Hidden by default, as a C node: a
  // visible node would have to take part in `global`'s connect protocol,
  // which it does not (docs/distribution.md "Visibility").
  bool visible = false;

  uv_loop_t loop;
  // Whoever runs the loop holds loop_mu: its own thread, or a spinning
  // worker (dist_poll_io). Everything "loop thread only" below means "under
  // loop_mu". loop_open: the loop may be run (set once it is initialised,
  // cleared under loop_mu when it has ended).
  std::mutex loop_mu;
  std::atomic<bool> loop_open{false};
  // The loop thread waits here while spinning workers take the rounds;
  // dist_poll_io_done (or a 1 ms timeout, for workers busy running
  // processes) sends it back to work.
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  bool idle_waiting = false;  // under idle_mu
  bool idle_poke = false;     // under idle_mu
  uv_async_t async;
  uv_tcp_t listener;
  uv_tcp_t epmd_reg;
  uv_timer_t tick_timer;
  uv_timer_t epmd_retry;
  std::thread thread;
  bool loop_ready = false;

  std::mutex cmd_mu;
  std::vector<Command> cmds;
  std::vector<NodeEntry*> dirty;
  // Corked entries the loop flushes 1 ms later in case the worker's time
  // slice does not end (code that runs long without a runtime call).
  std::vector<NodeEntry*> corked;
  bool cork_timer_wanted = false;  // under cmd_mu
  uv_timer_t cork_timer;

  std::atomic<uint32_t> ticktime_ms{60000};
  std::mutex conn_mu;
  std::set<std::string> connected;  // readable from any thread

  std::unordered_map<std::string, PeerState> peers;  // loop thread only
  WaiterPtr start_waiter;
  // The port mapper registration (epmd_client.cpp has its states). Loop
  // only, except epmd_port (set at start).
  uint16_t epmd_port = epmd::kPort;  // ERL_EPMD_PORT
  bool epmd_reg_open = false;        // epmd_reg is initialised and not closing
  bool epmd_registered = false;      // the port mapper holds our name
  int epmd_attempts = 0;             // of the current (re-)registration
  int epmd_backoff_ms = 100;         // the next re-registration delay
  bool epmd_spawned = false;
  std::vector<uint8_t> epmd_buf;
  bool stopping = false;
  // A stop waits (at most kStopDrainMs) for the writes already handed to
  // up connections, so messages sent just before the node stops leave it.
  WaiterPtr stop_waiter;  // loop only
  int64_t stop_deadline_ns = 0;
  uv_timer_t stop_timer;
  int unauthenticated = 0;  // incoming connections in their handshake (loop only)
  // Rate limit of the log lines about refused or failed connections from
  // others (loop only): at most kRefusalLines per kRefusalWindowNs.
  int64_t refusal_window_start = 0;
  int refusal_lines = 0;
  uint64_t refusals_unlogged = 0;
  std::atomic<int64_t> last_traffic_ns{0};  // last bytes read or command run (written under loop_mu)
  int64_t last_full_poll_ns = 0;            // a spinner's last whole libuv round (loop_mu)

  // ALIAS_SEND and ALIAS_SEND_TT messages dropped (no process has an
  // alias). Any thread.
  std::atomic<uint64_t> alias_sends_dropped{0};
  // The per-message limit of what peers send (SNOW_DIST_MAX_MESSAGE, read
  // at start; fragments.h has the bounds it sets), and the messages
  // refused for it. Any thread.
  uint64_t max_message = kDefaultMaxMessage;
  std::atomic<uint64_t> messages_refused{0};

  std::mutex nm_mu;
  std::unordered_map<int64_t, NodeMon> node_mons;
  std::unordered_set<uint64_t> monitor_all;

  std::mutex fn_mu;
  std::unordered_map<std::string, void (*)(const uint8_t*)> functions;
};

// The one Dist (dist.cpp).
extern Dist& D;
// SNOW_DIST_TRACE was set when the library was loaded.
extern const bool g_trace;

inline void put_be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline uint32_t get_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint16_t get_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// The flags this node offers in its handshake (set at start).
inline uint64_t our_flags() { return D.visible ? wire::kOurFlags : wire::kOurFlags & ~wire::kFlagPublished; }

// Exit reasons of the answers given locally.
inline constexpr uint8_t kNoconnection[1] = {SNOW_REASON_NOCONNECTION};
inline constexpr uint8_t kNoproc[1] = {SNOW_REASON_NOPROC};

// ------------------------------------------------------------------ names.cpp

bool valid_wire_node(std::string_view n);
bool parse_node(std::string_view full, std::string* name, std::string* host, int* port);
std::string printable(std::string_view s);
uint64_t pid_from_wire(const etf::Pid& p, PidUse use);
bool pid_to_wire(uint64_t pid, etf::Pid* out);
void write_pid(Writer& w, uint64_t pid);
void write_null_pid(Writer& w);
void write_our_ref(Writer& w, uint64_t ref);
bool our_ref_from_wire(etf::View t, uint64_t* out);

// ------------------------------------------------------------------ outbox.cpp

// A link or monitor record that changes together with a queued frame, in
// the same critical section, so the records and the wire always agree.
struct RecordChange {
  enum Op : uint8_t { None, LinkAdd, LinkErase, MonitorAdd, MonitorErase } op = None;
  uint64_t local = 0, remote = 0, ref = 0;
};

// Any generation: the caller keeps the entry in use (its connection, or a
// pin), so it cannot have been recycled.
constexpr uint32_t kAnyGeneration = 0;

void deliver_or_die(uint64_t pid, Signal* s);
// A frame in pass-through form: frame_begin, the control term, then a
// version byte and the payload term; converted to header form on its way
// to a peer with fragments (fragments.h).
void frame_begin(Writer& w);
Frame* frame_finish(Writer& w, SigKind kind, uint64_t local, uint64_t remote, uint64_t ref);
// A frame with nothing to answer locally if it cannot be sent.
inline Frame* frame_finish(Writer& w) { return frame_finish(w, SigKind::Message, 0, 0, 0); }
void wake_loop();
void enqueue_frame(NodeEntry* e, Frame* f, uint32_t generation = kAnyGeneration, RecordChange rc = {});
void write_frames(Conn* c, std::vector<Frame*>& frames);
// Hands a prepared write to libuv (completes it at once without a socket);
// a failure closes the connection.
void submit_write(Conn* c, WriteReq* wr);
void write_raw(Conn* c, std::vector<uint8_t> bytes, bool counted = false);
void on_written(uv_write_t* req, int status);
void adopt_entry(NodeEntry* e);
void flush_entry(NodeEntry* e);
void flush_corked_entries();
void on_cork_timer(uv_timer_t*);

// ------------------------------------------------------------------ busy.cpp

// Counts a frame being queued on the entry in its queued bytes (e->mu
// held); the frame's destructor uncounts it.
void busy_count_locked(NodeEntry* e, Frame* f);
// Wakes the processes suspended on the entry's busy limit once its queued
// bytes are below it. Called after frames of the entry were deleted,
// holding no lock of this module but loop_mu. Any thread.
void busy_wake_if_drained(NodeEntry* e);

// ------------------------------------------------------------------ send.cpp

void send_reg_send(NodeEntry* e, uint64_t from, std::string_view name, const uint8_t* msg, uint64_t size,
                   bool term = false);

// ------------------------------------------------------------------ control.cpp

bool handle_frame(Conn* c, const uint8_t* m, size_t n);
// The same once the frame is read (`n`: its size, for the trace).
bool handle_control(Conn* c, const wire::Control& ctl, size_t n);
bool peer_pid(Conn* c, etf::View t, PidUse use, uint64_t* out);
bool is_peer_pid(Conn* c, etf::View t);

// ------------------------------------------------------------------ fragments.cpp

// One frame of an up connection in any form (pass-through, header,
// fragment): read, or gathered until its message is whole. nullptr, or why
// the connection must be closed.
const char* receive_frame(Conn* c, uint8_t* body, size_t n);
// Counts and logs the refusal of an unfragmented frame over the limit.
void refuse_whole_frame(Conn* c, uint64_t bytes);
// Before a direct write to a connection (under the entry's and the gate's
// locks): converts the frames for a peer with fragments. false when one
// must be fragmented (only the loop does that).
bool frames_ready_for_direct_write(std::vector<Frame*>& frames, const WriteGate& g);
// The loop is about to write `frames` to c (a peer with fragments): frames
// that go now stay in `frames` (converted), large ones become streams and
// frames of senders with a stream in progress wait behind it.
void route_frames(Conn* c, std::vector<Frame*>& frames);
// Writes more fragments if the window has room (after write_frames).
void streams_continue(Conn* c);
// A fragment write completed (on_written).
void fragment_written(Conn* c);
// The connection closed: its streams are answered as undeliverable.
void fragments_conn_closed(Conn* c);

// ------------------------------------------------------------------ spawn.cpp

using SpawnFn = void (*)(const uint8_t*);
void register_function(std::string_view name, SpawnFn fn);
SpawnFn registered_function(std::string_view name);  // nullptr when none
bool handle_spawn_request(Conn* c, const wire::Control& ctl);
void handle_spawn_reply(Conn* c, const wire::Control& ctl);
uint64_t send_spawn_request(Process* self, std::string_view node, std::string_view fname, const uint8_t* args,
                            uint64_t size, bool link, bool monitor);
uint64_t spawn_here(Process* self, std::string_view fname, const uint8_t* args, uint64_t size, bool link, bool monitor,
                    uint64_t* monitor_ref);

// ------------------------------------------------------------------ handshake_fsm.cpp

bool handle_handshake(Conn* c, const uint8_t* m, size_t n);
void send_handshake(Conn* c, const std::vector<uint8_t>& body);

// ------------------------------------------------------------------ connection.cpp

void log_refusal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void start_outgoing(const std::string& name);
void connect_port(Conn* c);
void close_conn(Conn* c, const char* why);
void on_handle_closed(uv_handle_t* h);
void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf);
void conn_feed(Conn* c, const uint8_t* bytes, size_t n);
void on_incoming(uv_stream_t* server, int status);
bool node_up(Conn* c);
void fail_node(const std::string& name, const uint32_t* creation);
void publish_connected();
void arm_ticks();
void sweep_node_table();
void run_test_feed(const TestFeed& f);

// ------------------------------------------------------------------ cookie.cpp

// The first line of $HOME/.erlang.cookie into *out: 0, or SNOW_ENOCOOKIE
// (logged) when it is missing, empty, too long or readable by others.
int64_t read_default_cookie(std::string* out);

// ------------------------------------------------------------------ epmd_client.cpp

void lookup_and_connect(Conn* c);
void epmd_register();

// ------------------------------------------------------------------ loop.cpp

void complete(const WaiterPtr& w, int64_t result, uint64_t value);
void finish_start(int64_t result);
void post(Command c);
int64_t post_and_block(CmdType type, std::string_view node, int64_t id, int64_t timeout_ms);
int64_t command_and_wait(CmdType type, std::string_view node, int64_t timeout_ms);
// Initialises the loop and starts its thread (dist_start), then, once the
// loop has run the stop command, joins the thread and closes the loop
// (dist_stop). The thread that starts and stops the node.
void start_loop_thread();
void end_loop_thread();

// ------------------------------------------------------------------ node_monitors.cpp

void notify_node(const std::string& node, bool up);
// Registers monitor `id` in `state` (NodeMon::state). Any thread.
void node_monitor_add(uint64_t watcher, int64_t id, const std::string& node, int state);
void node_monitor_remove(int64_t id);
void monitor_all_set(uint64_t watcher, bool on);
void node_monitor_first_report(int64_t id, const std::string& node);
// NODEDOWN for `node` to `watcher` at once. Any thread.
void report_nodedown(uint64_t watcher, std::string_view node);

}  // namespace snow::rt::dist
