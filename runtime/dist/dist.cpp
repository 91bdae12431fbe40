#include "runtime/dist/dist.h"

#include <spawn.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/epmd.h"
#include "runtime/dist/handshake.h"
#include "runtime/dist/node_table.h"
#include "runtime/dist/wire.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/process.h"
#include "runtime/proc/reason.h"
#include "runtime/sched/scheduler.h"

extern char** environ;

namespace snow::rt {

namespace {

using etf::Writer;

constexpr size_t kMaxFrame = 64u << 20;          // bytes; larger frames close the connection
constexpr size_t kMaxHandshakeFrame = 4096;
constexpr int64_t kHandshakeTimeoutMs = 5000;
// How long a stopping node waits for writes to up connections to leave.
constexpr int64_t kStopDrainMs = 1000;
// Incoming connections that have not proved the cookie yet, at most.
constexpr int kMaxUnauthenticated = 128;

// ------------------------------------------------------------------ types

struct Waiter {
  uint64_t pid = 0, ref = 0;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  int64_t result = 0;
  uint64_t value = 0;
};
using WaiterPtr = std::shared_ptr<Waiter>;

struct Conn;

struct PeerState {
  Conn* conn = nullptr;  // current connection (handshaking or up)
  bool up = false;
  int explicit_port = 0;
  std::vector<WaiterPtr> waiters;
  std::vector<NodeEntry*> entries;  // every entry with this name
};

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
};

struct WriteReq {
  uv_write_t req;
  std::vector<Frame*> frames;
  std::vector<uv_buf_t> bufs;
  std::vector<uint8_t> owned;  // small handshake writes
  GatePtr gate;                // counted in gate->loop_pending when set
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
  std::string name;    // full node name, e.g. a@127.0.0.1
  std::string cookie;
  uint32_t creation = 0;
  int listen_port = 0;
  std::string listen_interface = "0.0.0.0";
  int listen_min = 0, listen_max = 0;  // 0: any port

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
  int epmd_attempts = 0;
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

  std::mutex nm_mu;
  std::unordered_map<int64_t, NodeMon> node_mons;
  std::unordered_set<uint64_t> monitor_all;

  std::mutex fn_mu;
  std::unordered_map<std::string, void (*)(const uint8_t*)> functions;
};

// Never destroyed: threads a program leaves running may still call in while
// static destructors run at exit.
Dist& D = *new Dist();
const bool g_trace = getenv("SNOW_DIST_TRACE") != nullptr;

// ------------------------------------------------------------------ logging refusals

constexpr int kRefusalLines = 10;
constexpr int64_t kRefusalWindowNs = int64_t(10) * 1000 * 1000 * 1000;

// A log line about something any host that reaches our port can cause
// (handshakes that fail, refused names): at most kRefusalLines every ten
// seconds, then one line counting what was left out. Loop only.
void log_refusal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_refusal(const char* fmt, ...) {
  int64_t now = now_ns();
  if (now - D.refusal_window_start >= kRefusalWindowNs) {
    if (D.refusals_unlogged > 0)
      log_line("snowrt: %llu more refused or failed connection attempts were not logged",
               static_cast<unsigned long long>(D.refusals_unlogged));
    D.refusal_window_start = now;
    D.refusal_lines = 0;
    D.refusals_unlogged = 0;
  }
  if (D.refusal_lines >= kRefusalLines) {
    ++D.refusals_unlogged;
    return;
  }
  ++D.refusal_lines;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log_line("%s", line);
}

// A peer-chosen name made safe to print: bytes outside printable ASCII
// become '?', and it is cut at 64 characters.
std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) out.push_back(ch >= 0x20 && ch < 0x7f ? ch : '?');
  if (s.size() > 64) out += "...";
  return out;
}

// ------------------------------------------------------------------ small helpers

void put_be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
uint32_t get_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t get_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A node name as it may appear on the wire (a pid's node, a handshake
// name): "alive@host" with the alive part and the host made of letters,
// digits, '_', '-' and (host only) '.'. Stricter than what a user may pass
// to connect (no ":port"), so nothing a peer sends can point us at a port
// or at a name that parse_node would read differently.
bool valid_wire_node(std::string_view n) {
  if (n.empty() || n.size() > 255) return false;
  size_t at = n.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= n.size()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(n[i]);
    bool ok = isalnum(c) || c == '_' || c == '-' || (i > at && c == '.');
    if (!ok && i != at) return false;
  }
  return true;
}

// Splits "name@host[:port]" (what a user may pass to connect) into the
// node name and the port (0: none). The name must be a valid wire node
// name (valid_wire_node).
bool parse_node(std::string_view full, std::string* name, std::string* host, int* port) {
  int p = 0;
  size_t at = full.find('@');
  size_t colon = full.rfind(':');
  if (at != std::string_view::npos && colon != std::string_view::npos && colon > at) {
    std::string_view ps = full.substr(colon + 1);
    if (ps.empty() || ps.size() > 5) return false;
    for (char c : ps) {
      if (c < '0' || c > '9') return false;
      p = p * 10 + (c - '0');
    }
    if (p <= 0 || p > 65535) return false;
    full = full.substr(0, colon);
  }
  if (!valid_wire_node(full)) return false;
  *name = std::string(full);
  *host = std::string(full.substr(at + 1));
  *port = p;
  return true;
}

// ------------------------------------------------------------------ pids on the wire

// A pid from a term user code decoded (snow_term_decode_pid), as a local
// pid or a remote handle, which user code now holds (node_table.h); 0 when
// the pid names no valid node or the node table is full. Our own pids of
// another creation are processes of an earlier incarnation: handles that
// behave as dead processes. (Pids in control messages are resolved against
// their connection instead: peer_pid, local_target.)
uint64_t pid_from_wire(const etf::Pid& p, PidUse use) {
  if (p.node == D.name && p.creation == D.creation) return local_pid_make(p.id, p.serial);
  if (!valid_wire_node(p.node)) return 0;
  bool ours = p.node == D.name;
  NodeEntry* e = entry_get(p.node, p.creation, false, ours);
  if (!e) return 0;
  uint64_t h = handle_get(e, p.id, p.serial, ours ? PidUse::Dead : use);
  entry_unpin(e);
  return h;
}

// The wire form of a local pid or a known handle.
bool pid_to_wire(uint64_t pid, etf::Pid* out) {
  if (!pid_is_remote(pid)) {
    *out = etf::Pid{D.name, local_pid_id(pid), local_pid_serial(pid), D.creation};
    return true;
  }
  RemoteIdentity r;
  if (!handle_read(pid, &r)) return false;
  *out = etf::Pid{std::move(r.node), r.id, r.serial, r.creation};
  return true;
}

void write_pid(Writer& w, uint64_t pid) {
  etf::Pid p;
  if (!pid_to_wire(pid, &p)) p = etf::Pid{D.name, 0, 0, D.creation};
  w.pid(p);
}

// A pid to put where Erlang needs one but the sender is not a process.
void write_null_pid(Writer& w) { w.pid(etf::Pid{D.name, 0, 0, D.creation}); }

void write_our_ref(Writer& w, uint64_t ref) {
  w.ref(etf::Ref{D.name, D.creation, {uint32_t(ref), uint32_t(ref >> 32), 0}});
}

bool our_ref_from_wire(etf::View t, uint64_t* out) {
  etf::Ref r;
  if (!etf::read_ref(t, &r) || r.node != D.name || r.ids.size() < 2) return false;
  *out = uint64_t(r.ids[0]) | uint64_t(r.ids[1]) << 32;
  return true;
}

// ------------------------------------------------------------------ local answers

const uint8_t kNoconnection[1] = {SNOW_REASON_NOCONNECTION};
const uint8_t kNoproc[1] = {SNOW_REASON_NOPROC};

void deliver_or_die(uint64_t pid, Signal* s) {
  if (!s) {
    log_line("snowrt: out of memory in distribution");
    abort();
  }
  proc_deliver(pid, s);
}

// A signal from `local` to `remote` cannot be delivered: answer it as the
// target's side would have (reason noproc or noconnection). `local` may be
// a peer's process (a LINK or MONITOR_P for a pid of this node's previous
// incarnation): the answer then goes back over the wire.
void answer_undeliverable(SigKind kind, uint64_t local, uint64_t remote, uint64_t ref, const uint8_t* reason) {
  if (!local) return;
  switch (kind) {
    case SigKind::Link:
      deliver_or_die(local, signal_exit_like(SigKind::LinkExit, local, remote, reason, 1));
      break;
    case SigKind::Monitor:
      deliver_or_die(local, signal_down(local, ref, remote, reason, 1));
      break;
    case SigKind::Unlink:
      deliver_or_die(local, signal_control(SigKind::UnlinkAck, local, remote, ref));
      break;
    default:
      break;
  }
}

// ------------------------------------------------------------------ outgoing frames

Frame* frame_begin(Writer& w) {
  w.buf.clear();
  w.buf.resize(4);
  w.u8(wire::kPassThrough);
  w.version();
  return nullptr;
}

Frame* frame_finish(Writer& w, SigKind kind, uint64_t local, uint64_t remote, uint64_t ref) {
  uint32_t n = uint32_t(w.buf.size() - 4);
  w.buf[0] = uint8_t(n >> 24);
  w.buf[1] = uint8_t(n >> 16);
  w.buf[2] = uint8_t(n >> 8);
  w.buf[3] = uint8_t(n);
  auto* f = new Frame();
  f->bytes = std::move(w.buf);
  f->kind = kind;
  f->local = local;
  f->remote = remote;
  f->ref = ref;
  return f;
}

void wake_loop() {
  std::lock_guard<std::mutex> lk(D.cmd_mu);  // the async handle lives while loop_ready
  if (D.loop_ready) uv_async_send(&D.async);
}

// Writes the entry's queued frames straight to the socket (see WriteGate),
// as many as fit. Called with e->mu held. Returns true when the outbox is
// empty afterwards.
bool try_direct_write(NodeEntry* e) {
  if (e->outbox.empty()) return true;
  if (!e->gate) return false;
  WriteGate& g = *e->gate;
  std::lock_guard<std::mutex> gl(g.mu);
  if (!g.open || g.loop_pending != 0 || g.partial) return false;
  constexpr size_t kMaxIov = 64;
  size_t done_frames = 0;
  while (done_frames < e->outbox.size()) {
    iovec iov[kMaxIov];
    size_t n = 0, total = 0;
    for (size_t i = done_frames; i < e->outbox.size() && n < kMaxIov; ++i, ++n) {
      iov[n].iov_base = e->outbox[i]->bytes.data();
      iov[n].iov_len = e->outbox[i]->bytes.size();
      total += iov[n].iov_len;
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    ssize_t w = ::sendmsg(g.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;  // would block, or an error the loop will see on read
    g.last_send.store(now_ns(), std::memory_order_relaxed);
    size_t left = size_t(w);
    while (left > 0) {
      Frame* f = e->outbox[done_frames];
      if (left >= f->bytes.size()) {
        left -= f->bytes.size();
        delete f;
        ++done_frames;
      } else {
        // The rest of this frame goes through the loop, before anything else.
        f->bytes.erase(f->bytes.begin(), f->bytes.begin() + long(left));
        g.partial = true;
        left = 0;
      }
    }
    if (g.partial || size_t(w) < total) break;
  }
  e->outbox.erase(e->outbox.begin(), e->outbox.begin() + long(done_frames));
  return e->outbox.empty();
}

// Hands whatever the entry still holds to the loop.
void hand_to_loop(NodeEntry* e) {
  bool mark;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (e->outbox.empty()) return;
    mark = !e->dirty;
    e->dirty = true;
  }
  if (mark) {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.dirty.push_back(e);
  }
  wake_loop();
}

// Makes sure the loop flushes a corked entry within about a millisecond,
// whatever the corking worker does meanwhile.
void arm_cork_backstop(NodeEntry* e) {
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (e->cork_listed) return;
    e->cork_listed = true;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.corked.push_back(e);
    wake = !D.cork_timer_wanted;
    D.cork_timer_wanted = true;
  }
  if (wake) wake_loop();
}

// Entries this worker thread's current time slice queued frames for.
constexpr int kMaxCorked = 8;
SNOW_TLS NodeEntry* t_corked[kMaxCorked];
SNOW_TLS int t_ncorked = 0;
constexpr size_t kCorkBytes = 64 * 1024;

void flush_entry_now(NodeEntry* e) {
  bool empty;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    empty = e->dirty ? false : try_direct_write(e);
  }
  if (!empty) hand_to_loop(e);
}

// A link or monitor record that changes together with a queued frame, in
// the same critical section, so the records and the wire always agree.
struct RecordChange {
  enum Op : uint8_t { None, LinkAdd, LinkErase, MonitorAdd, MonitorErase } op = None;
  uint64_t local = 0, remote = 0, ref = 0;
};

void apply_record_locked(NodeEntry* e, const RecordChange& rc) {
  switch (rc.op) {
    case RecordChange::None:
      break;
    case RecordChange::LinkAdd:
      e->links.insert({rc.local, rc.remote});
      break;
    case RecordChange::LinkErase:
      e->links.erase({rc.local, rc.remote});
      break;
    case RecordChange::MonitorAdd:
      e->monitors[rc.ref] = {rc.local, rc.remote};
      break;
    case RecordChange::MonitorErase:
      e->monitors.erase(rc.ref);
      break;
  }
}

// Any generation: the caller keeps the entry in use (its connection, or a
// pin), so it cannot have been recycled.
constexpr uint32_t kAnyGeneration = 0;

// Queues a frame on the entry's outbox. `generation` is the entry's as the
// caller read it with the target handle: if the row was recycled since,
// the target is gone and the frame is answered locally as undeliverable.
void enqueue_frame(NodeEntry* e, Frame* f, uint32_t generation = kAnyGeneration, RecordChange rc = {}) {
  bool cork = sched_on_worker();
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (generation != kAnyGeneration && (e->generation != generation || !e->in_use)) {
      cork = false;
      bytes = SIZE_MAX;
    } else {
      apply_record_locked(e, rc);
      e->outbox.push_back(f);
      if (e->dirty) {
        cork = false;  // the loop owns this outbox now; it will write the frame
      } else if (cork) {
        for (Frame* x : e->outbox) bytes += x->bytes.size();
      }
    }
  }
  if (bytes == SIZE_MAX) {
    answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoproc);
    delete f;
    return;
  }
  if (cork && bytes < kCorkBytes) {
    bool listed = false;
    for (int i = 0; i < t_ncorked; ++i)
      if (t_corked[i] == e) listed = true;
    if (!listed && t_ncorked < kMaxCorked) {
      t_corked[t_ncorked++] = e;
      listed = true;
    }
    if (listed) {
      arm_cork_backstop(e);
      return;
    }
  }
  flush_entry_now(e);
}

// Message payload: a user message is a binary of its bytes; a TERM message
// is its own term; service calls and replies are tagged tuples so a
// libsnowrt peer can rebuild them.
void write_payload(Writer& w, const Signal* s) {
  w.version();
  if (s->kind == SigKind::ServiceReply) {
    w.tuple(3);
    w.atom("$snow_reply");
    w.unsigned_integer(s->ref);
    w.binary(s->msg.data, size_t(s->msg.len));
  } else if (s->flags & kSigServiceCall) {
    w.tuple(3);
    w.atom("$snow_call");
    w.unsigned_integer(s->ref);
    w.binary(s->msg.data, size_t(s->msg.len));
  } else if (s->msg_kind == SNOW_MSG_TERM) {
    const uint8_t* t = s->msg.data;
    size_t n = size_t(s->msg.len);
    if (n && t[0] == etf::kVersion) {
      ++t;
      --n;
    }
    w.raw(t, n);
  } else {
    w.binary(s->msg.data, size_t(s->msg.len));
  }
}

void count_unreachable(Signal* s, const uint8_t* reason) {
  answer_undeliverable(s->kind, s->from, s->target, s->ref, reason);
  signal_free(s);
}

}  // namespace

// ------------------------------------------------------------------ API: outgoing signals

namespace {

// An exit reason that would make its frame larger than a peer accepts
// (a process may exit with a reason of any size up to SNOW_MAX_MSG_SIZE):
// error and custom text is cut at a character boundary so the frame fits,
// a term too large becomes error "exit reason too large to send (N
// bytes)". Sending it whole would make the peer close the connection and
// fire noconnection for every link and monitor across it. Returns the
// reason to send (`r` itself when it fits).
std::pair<const uint8_t*, uint64_t> reason_that_fits(const uint8_t* r, uint64_t len, std::vector<uint8_t>& tmp) {
  if (len <= kDistMaxMessage) return {r, len};
  if (r[0] == SNOW_REASON_ERROR || r[0] == SNOW_REASON_CUSTOM) {
    uint64_t keep = kDistMaxMessage - 9;
    while (keep > 0 && (r[9 + keep] & 0xC0) == 0x80) --keep;  // not inside a UTF-8 sequence
    tmp.resize(reason_size(r[0], keep));
    reason_write(tmp.data(), r[0], std::string_view(reinterpret_cast<const char*>(r + 9), size_t(keep)));
  } else {
    char text[96];
    int n = snprintf(text, sizeof text, "exit reason too large to send (%llu bytes)", (unsigned long long)len);
    tmp.resize(reason_size(SNOW_REASON_ERROR, uint64_t(n)));
    reason_write(tmp.data(), SNOW_REASON_ERROR, std::string_view(text, size_t(n)));
  }
  return {tmp.data(), tmp.size()};
}

}  // namespace

void dist_deliver(uint64_t pid, Signal* s) {
  if (!D.started.load(std::memory_order_acquire)) {
    count_unreachable(s, kNoconnection);
    return;
  }
  RemoteIdentity target;
  if (!handle_read(pid, &target) || target.dead_incarnation) {
    // An unknown handle names no live process (see node_table.h).
    count_unreachable(s, kNoproc);
    return;
  }
  NodeEntry* e = target.entry;
  etf::Pid to{std::move(target.node), target.id, target.serial, target.creation};
  Writer w;
  frame_begin(w);
  uint64_t from = s->from;
  SigKind kind = s->kind;
  uint64_t ref = s->ref;
  RecordChange rc;
  switch (kind) {
    case SigKind::Message:
    case SigKind::ServiceReply:
      if (from) {
        w.tuple(3);
        w.integer(wire::kSendSender);
        write_pid(w, from);
      } else {
        w.tuple(3);
        w.integer(wire::kSend);
        w.atom("");
      }
      w.pid(to);
      write_payload(w, s);
      break;
    case SigKind::Link:
      w.tuple(3);
      w.integer(wire::kLink);
      write_pid(w, from);
      w.pid(to);
      rc = {RecordChange::LinkAdd, from, pid, 0};
      break;
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
      if (ref == 0) {  // old-protocol unlink from the peer: nothing to acknowledge
        signal_free(s);
        return;
      }
      w.tuple(4);
      w.integer(kind == SigKind::Unlink ? wire::kUnlinkIdOp : wire::kUnlinkIdAck);
      w.unsigned_integer(ref);
      write_pid(w, from);
      w.pid(to);
      if (kind == SigKind::UnlinkAck) rc = {RecordChange::LinkErase, from, pid, 0};
      break;
    case SigKind::LinkExit:
    case SigKind::Exit: {
      bool link = kind == SigKind::LinkExit;
      w.tuple(3);
      w.integer(link ? wire::kPayloadExit : wire::kPayloadExit2);
      if (from) write_pid(w, from); else write_null_pid(w);
      w.pid(to);
      w.version();
      if (s->flags & kSigShutdown) {
        w.atom("shutdown");
      } else {
        std::vector<uint8_t> tmp;
        auto [r, rl] = reason_that_fits(s->msg.data + 8, s->msg.len - 8, tmp);
        wire::reason_to_term(w, r, rl, (s->flags & kSigKill) != 0);
      }
      if (link) rc = {RecordChange::LinkErase, from, pid, 0};
      break;
    }
    case SigKind::Monitor:
    case SigKind::Demonitor: {
      bool on = kind == SigKind::Monitor;
      w.tuple(4);
      w.integer(on ? wire::kMonitorP : wire::kDemonitorP);
      write_pid(w, from);
      w.pid(to);
      write_our_ref(w, ref);
      rc = {on ? RecordChange::MonitorAdd : RecordChange::MonitorErase, from, pid, ref};
      break;
    }
    case SigKind::Down: {
      PeerMonitor pm;
      {
        std::lock_guard<std::mutex> lk(e->mu);
        auto it = e->generation == target.generation ? e->peer_monitors.find(ref) : e->peer_monitors.end();
        if (it == e->peer_monitors.end()) {
          signal_free(s);
          return;
        }
        pm = std::move(it->second);
        e->peer_monitor_by_term.erase(std::string(pm.ref_term.begin(), pm.ref_term.end()));
        e->peer_monitors.erase(it);
      }
      w.tuple(4);
      w.integer(wire::kPayloadMonitorPExit);
      if (!pm.name.empty()) w.atom(pm.name); else write_pid(w, from);
      w.pid(to);
      w.raw(pm.ref_term.data(), pm.ref_term.size());
      w.version();
      {
        std::vector<uint8_t> tmp;
        auto [r, rl] = reason_that_fits(s->msg.data + 16, s->msg.len - 16, tmp);
        wire::reason_to_term(w, r, rl, false);
      }
      break;
    }
    case SigKind::Timeout:
    case SigKind::JobResult:  // jobs are local: never addressed to a remote pid
      signal_free(s);
      return;
  }
  Frame* f = frame_finish(w, kind, from, pid, ref);
  if (g_trace) log_line("snowrt dist: -> %s signal kind %d (%zu bytes)", to.node.c_str(), int(kind), f->bytes.size());
  signal_free(s);
  enqueue_frame(e, f, target.generation, rc);
}

namespace {

// ------------------------------------------------------------------ loop: writing

void on_written(uv_write_t* req, int status) {
  auto* wr = reinterpret_cast<WriteReq*>(req);
  (void)status;
  if (wr->gate) {
    std::lock_guard<std::mutex> gl(wr->gate->mu);
    --wr->gate->loop_pending;
  }
  for (Frame* f : wr->frames) delete f;
  delete wr;
}

void close_conn(Conn* c, const char* why);

// Frames already counted in c->gate->loop_pending by the caller.
void write_frames(Conn* c, std::vector<Frame*>& frames) {
  if (frames.empty()) return;
  auto* wr = new WriteReq();
  wr->gate = c->gate;
  wr->frames = std::move(frames);
  wr->bufs.reserve(wr->frames.size());
  for (Frame* f : wr->frames)
    wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(f->bytes.data()), unsigned(f->bytes.size())));
  c->last_send = now_ns();
  if (c->test_transport) {
    on_written(&wr->req, 0);
    return;
  }
  int rc = uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->tcp), wr->bufs.data(), unsigned(wr->bufs.size()),
                    on_written);
  if (rc != 0) {
    on_written(&wr->req, rc);
    close_conn(c, "write failed");
  }
}

// Handshake messages and ticks. On an up connection the caller has counted
// it in loop_pending (see on_tick).
void write_raw(Conn* c, std::vector<uint8_t> bytes, bool counted = false) {
  auto* wr = new WriteReq();
  if (counted) wr->gate = c->gate;
  wr->owned = std::move(bytes);
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  c->last_send = now_ns();
  if (c->test_transport) {
    on_written(&wr->req, 0);
    return;
  }
  if (uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->tcp), wr->bufs.data(), 1, on_written) != 0) {
    on_written(&wr->req, -1);
    close_conn(c, "write failed");
  }
}

void start_outgoing(const std::string& name);

// Entries are created by any thread; the loop learns of them here, so node
// up/down handling reaches every entry of a name.
void adopt_entry(NodeEntry* e) {
  PeerState& ps = D.peers[e->name];
  for (NodeEntry* x : ps.entries)
    if (x == e) return;
  ps.entries.push_back(e);
}

// Whether an up connection serves the entry: any incarnation for the
// by-name entry, its own incarnation otherwise.
bool serves(const Conn* c, const NodeEntry* e) {
  return c && c->st == St::Up && (e->by_name || e->creation == c->peer_creation);
}

// Sends what the entry has queued, or holds it until a connection is up.
void flush_entry(NodeEntry* e) {
  adopt_entry(e);
  PeerState& ps = D.peers[e->name];
  Conn* c = ps.conn;
  Conn* up = serves(c, e) ? c : nullptr;
  std::vector<Frame*> frames;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    frames.swap(e->outbox);
    e->dirty = false;
    if (up) {
      e->gate = up->gate;
      if (!frames.empty()) {
        // Counted before the entry lock is released: a sender that comes
        // next sees the loop busy and queues behind these frames.
        std::lock_guard<std::mutex> gl(up->gate->mu);
        ++up->gate->loop_pending;
        up->gate->partial = false;
      }
    }
  }
  if (frames.empty()) return;
  if (D.stopping) {
    for (Frame* f : frames) {
      answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoconnection);
      delete f;
    }
    return;
  }
  if (up) {
    write_frames(up, frames);
    return;
  }
  if (c && c->st == St::Up) {
    // A pid of an incarnation that is gone: those processes do not exist.
    for (Frame* f : frames) {
      answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoproc);
      delete f;
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lk(e->mu);
    frames.insert(frames.end(), e->outbox.begin(), e->outbox.end());
    e->outbox.swap(frames);
  }
  if (!c) start_outgoing(e->name);
}

// ------------------------------------------------------------------ loop: node events

void publish_connected() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  D.connected.clear();
  for (auto& [name, ps] : D.peers)
    if (ps.up) D.connected.insert(name);
}

void notify_node(const std::string& node, bool up) {
  std::vector<std::pair<uint64_t, uint32_t>> sends;
  {
    std::lock_guard<std::mutex> lk(D.nm_mu);
    for (auto& [id, nm] : D.node_mons) {
      if (nm.node != node) continue;
      int want = up ? 1 : 2;
      if (nm.state == want) continue;
      nm.state = want;
      sends.push_back({nm.watcher, up ? SNOW_MSG_NODEUP : SNOW_MSG_NODEDOWN});
    }
    for (uint64_t w : D.monitor_all) sends.push_back({w, up ? SNOW_MSG_NODEUP : SNOW_MSG_NODEDOWN});
  }
  for (auto& [watcher, kind] : sends)
    deliver_or_die(watcher, signal_message(watcher, 0, kind, kind == SNOW_MSG_NODEUP ? SNOW_TAG_NODEUP : SNOW_TAG_NODEDOWN,
                                           node.data(), node.size()));
}

void complete(const WaiterPtr& w, int64_t result, uint64_t value) {
  if (w->pid) {
    uint8_t b[16];
    put_u64(b, uint64_t(result));
    put_u64(b + 8, value);
    proc_reply(w->pid, w->ref, b, 16);
    return;
  }
  std::lock_guard<std::mutex> lk(w->m);
  w->done = true;
  w->result = result;
  w->value = value;
  w->cv.notify_all();
}

// The node is unreachable or its connection is gone: every link and monitor
// across it fires with noconnection, once; pending spawns fail; queued
// frames are dropped. `creation` limits it to that incarnation and the
// by-name entry (nullptr: every entry of the name). The remote processes
// named in the notices may well be alive (a partition): their handles are
// exposed, so they stay valid if the same incarnation reconnects.
void fail_node(const std::string& name, const uint32_t* creation) {
  auto pit = D.peers.find(name);
  if (pit == D.peers.end()) return;
  for (NodeEntry* e : pit->second.entries) {
    std::vector<Frame*> frames;
    std::set<std::pair<uint64_t, uint64_t>> links;
    std::unordered_map<uint64_t, std::pair<uint64_t, uint64_t>> monitors;
    std::unordered_map<uint64_t, PeerMonitor> peer_monitors;
    std::unordered_map<uint64_t, uint64_t> spawns;
    {
      std::lock_guard<std::mutex> lk(e->mu);
      if (creation && !e->by_name && e->creation != *creation) continue;
      frames.swap(e->outbox);
      e->dirty = false;
      links.swap(e->links);
      monitors.swap(e->monitors);
      peer_monitors.swap(e->peer_monitors);
      e->peer_monitor_by_term.clear();
      spawns.swap(e->spawns);
      auto expose = [e](uint64_t remote) {
        auto it = e->pids.find(remote & kHandleNumberMask);
        if ((remote >> 48) == e->index && it != e->pids.end()) it->second.exposed = true;
      };
      for (auto& [local, remote] : links) expose(remote);
      for (auto& [ref, lr] : monitors) expose(lr.second);
    }
    for (Frame* f : frames) {
      // Links and monitors among these are in the records too; the
      // process side ignores the duplicate.
      answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoconnection);
      delete f;
    }
    for (auto& [local, remote] : links)
      deliver_or_die(local, signal_exit_like(SigKind::LinkExit, local, remote, kNoconnection, 1));
    for (auto& [ref, lr] : monitors)
      deliver_or_die(lr.first, signal_down(lr.first, ref, lr.second, kNoconnection, 1));
    for (auto& [ref, pm] : peer_monitors) deliver_or_die(pm.target, signal_control(SigKind::Demonitor, pm.target, pm.watcher, ref));
    for (auto& [req, requester] : spawns) {
      uint8_t b[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
      proc_reply(requester, req, b, 9);
    }
  }
}

// A peer row with nothing in it: no connection, waiter or entry.
bool peer_row_empty(const PeerState& ps) { return !ps.conn && !ps.up && ps.waiters.empty() && ps.entries.empty(); }

bool has_queued_frames(const PeerState& ps) {
  for (NodeEntry* e : ps.entries) {
    std::lock_guard<std::mutex> lk(e->mu);
    if (!e->outbox.empty()) return true;
  }
  return false;
}

void node_lost(Conn* c) {
  PeerState& ps = D.peers[c->peer];
  bool was_up = ps.up;
  if (!was_up && c->yielded) return;  // lost a simultaneous connect: the other one carries on
  if (!was_up && !c->initiator) {
    // An incoming connection that never authenticated (maybe not the node
    // it claimed to be) fails nothing of ours: traffic waiting for that
    // node gets an attempt of our own instead.
    if (!ps.waiters.empty() || has_queued_frames(ps)) start_outgoing(c->peer);
    return;
  }
  ps.up = false;
  if (was_up) publish_connected();
  if (was_up) fail_node(c->peer, &c->peer_creation); else fail_node(c->peer, nullptr);
  if (was_up) {
    notify_node(c->peer, false);
  } else {
    for (auto& w : ps.waiters) complete(w, c->fail_code, 0);
    ps.waiters.clear();
    notify_node(c->peer, false);
  }
}

// The peer passed the handshake. false when it cannot be served (the node
// table is full): the caller closes the connection.
bool node_up(Conn* c) {
  NodeEntry* e = entry_get(c->peer, c->peer_creation, false, false);
  if (!e) {
    log_line("snowrt: node table full (65,535 node incarnations referenced): refusing %s", c->peer.c_str());
    return false;
  }
  {
    std::lock_guard<std::mutex> lk(e->mu);
    ++e->conns;
    --e->pins;
  }
  c->entry = e;
  PeerState& ps = D.peers[c->peer];
  ps.up = true;
  adopt_entry(e);
  // Every process of an earlier incarnation of this node is gone.
  for (NodeEntry* old : ps.entries) {
    if (old == e) continue;
    std::lock_guard<std::mutex> lk(old->mu);
    if (!old->by_name && old->creation != c->peer_creation) handles_all_dead_locked(old);
  }
  publish_connected();
  // NODEUP goes out before any frame from the node is read.
  notify_node(c->peer, true);
  for (auto& w : ps.waiters) complete(w, 0, 0);
  ps.waiters.clear();
  for (NodeEntry* x : ps.entries) flush_entry(x);
  return true;
}

// ------------------------------------------------------------------ loop: closing

void on_handle_closed(uv_handle_t* h) {
  Conn* c = static_cast<Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

void close_conn(Conn* c, const char* why) {
  if (c->st == St::Dead) return;
  St was = c->st;
  c->st = St::Dead;
  if (c->counted_unauthenticated) {
    --D.unauthenticated;
    c->counted_unauthenticated = false;
  }
  {
    // No direct write may touch the descriptor from here: it is about to be
    // closed and its number reused.
    std::lock_guard<std::mutex> gl(c->gate->mu);
    c->gate->open = false;
  }
  if (why && was == St::Up) {
    log_line("snowrt: connection to %s closed: %s", c->peer.c_str(), why);
  } else if (why && !c->yielded && !D.stopping) {
    // Failed attempts from others are rate limited: anyone who can reach
    // the port can make them.
    if (c->initiator)
      log_line("snowrt: connection attempt to %s failed: %s", c->peer.c_str(), why);
    else
      log_refusal("snowrt: connection attempt from %s failed: %s",
                  c->peer.empty() ? "unknown node" : printable(c->peer).c_str(), why);
  }
  auto it = D.peers.find(c->peer);
  if (it != D.peers.end() && it->second.conn == c) {
    it->second.conn = nullptr;
    node_lost(c);
    // A peer row that only this connection kept (a handshake that never
    // authenticated, for a node we know nothing else of) goes with it.
    it = D.peers.find(c->peer);
    if (it != D.peers.end() && peer_row_empty(it->second)) D.peers.erase(it);
  }
  if (NodeEntry* e = c->entry) {
    std::lock_guard<std::mutex> lk(e->mu);
    --e->conns;
    c->entry = nullptr;
  }
  // A resolution still queued is dropped; one already running finishes
  // and its callback releases the connection.
  if (c->resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&c->resolve_req));
  if (c->tcp_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_handle_closed);
  if (c->epmd_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->epmd), on_handle_closed);
  if (c->timer_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_handle_closed);
  c->tcp_open = c->epmd_open = c->timer_open = false;
}

// ------------------------------------------------------------------ loop: reclaiming

// Sweeps an entry's handles when it has grown enough since its last sweep
// (amortised O(1) per handle). Between frames only (see node_table.h).
void sweep_entry_if_due(NodeEntry* e) {
  if (!e) return;
  std::lock_guard<std::mutex> lk(e->mu);
  if (handles_sweep_due_locked(e)) handles_sweep_locked(e);
}

// Every entry's handles are swept, entries nothing refers to give their
// rows back, and peer rows with nothing left are dropped. On each tick.
void sweep_node_table() {
  for (NodeEntry* e : entries_in_use()) {
    std::string name;
    {
      std::lock_guard<std::mutex> lk(e->mu);
      if (!e->in_use) continue;
      handles_sweep_locked(e);
      name = e->name;
    }
    if (!entry_recycle_if_idle(e)) continue;
    auto it = D.peers.find(name);
    if (it == D.peers.end()) continue;
    auto& list = it->second.entries;
    list.erase(std::remove(list.begin(), list.end(), e), list.end());
  }
  for (auto it = D.peers.begin(); it != D.peers.end();) {
    if (peer_row_empty(it->second)) it = D.peers.erase(it); else ++it;
  }
}

// ------------------------------------------------------------------ loop: reading

// Reads land in one buffer owned by whoever runs the loop (under loop_mu),
// then are appended to the connection's buffer.
char g_read_chunk[64 * 1024];

void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  *buf = uv_buf_init(g_read_chunk, sizeof g_read_chunk);
}

bool handle_handshake(Conn* c, const uint8_t* m, size_t n);
bool handle_frame(Conn* c, const uint8_t* m, size_t n);

// Processes what a connection's peer sent: handshake messages ([u16
// length][body]) until the connection is up, then frames ([u32
// length][body], 0 = tick). The input stays bounded: a frame may not
// exceed kMaxFrame (kMaxHandshakeFrame before authentication) and its
// bytes are kept only until it is complete.
void conn_feed(Conn* c, const uint8_t* bytes, size_t n) {
  if (c->st == St::Dead) return;
  c->last_recv = now_ns();
  D.last_traffic_ns.store(c->last_recv, std::memory_order_relaxed);
  c->rbuf.insert(c->rbuf.end(), bytes, bytes + n);
  for (;;) {
    if (c->st == St::Dead) return;
    size_t avail = c->rbuf.size() - c->rstart;
    const uint8_t* p = c->rbuf.data() + c->rstart;
    bool up = c->st == St::Up;
    size_t hdr = up ? 4 : 2;
    if (avail < hdr) break;
    size_t len = up ? get_be32(p) : get_be16(p);
    if (len > (up ? kMaxFrame : kMaxHandshakeFrame)) {
      close_conn(c, "frame too large");
      return;
    }
    if (avail < hdr + len) break;
    c->rstart += hdr + len;
    bool ok = up ? handle_frame(c, p + hdr, len) : handle_handshake(c, p + hdr, len);
    if (!ok) {
      close_conn(c, up ? "malformed frame" : "handshake failed");
      return;
    }
  }
  if (c->rstart == c->rbuf.size()) {
    c->rbuf.clear();
    c->rstart = 0;
  } else if (c->rstart > 64 * 1024 && c->rstart > c->rbuf.size() / 2) {
    c->rbuf.erase(c->rbuf.begin(), c->rbuf.begin() + long(c->rstart));
    c->rstart = 0;
  }
  if (c->st == St::Up) sweep_entry_if_due(c->entry);
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = static_cast<Conn*>(s->data);
  if (nread < 0) {
    close_conn(c, nread == UV_EOF ? "closed by peer" : uv_strerror(int(nread)));
    return;
  }
  if (nread > 0) conn_feed(c, reinterpret_cast<const uint8_t*>(buf->base), size_t(nread));
}

// ------------------------------------------------------------------ handshake

void send_handshake(Conn* c, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> b;
  put_be16(b, uint16_t(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  write_raw(c, std::move(b));
}

void send_status(Conn* c, const char* status) { send_handshake(c, hs::encode_status(status)); }

void send_challenge(Conn* c) {
  c->my_challenge = hs::new_challenge();
  send_handshake(c, hs::encode_challenge(wire::kOurFlags, c->my_challenge, D.creation, D.name));
  c->st = St::AwaitReply;
}

bool flags_ok(Conn* c) {
  if ((c->peer_flags & wire::kRequiredFlags) != wire::kRequiredFlags) {
    log_refusal("snowrt: node %s lacks mandatory distribution flags", c->peer.c_str());
    return false;
  }
  return true;
}

// The peer proved the cookie. false when the node cannot take it (the
// caller closes the connection).
bool go_up(Conn* c) {
  if (c->replacing) {
    // An incoming connection from a node we are connected to: the node
    // restarted (or lost the old connection) and proved the cookie, so the
    // old connection is the stale one.
    if (Conn* old = D.peers[c->peer].conn) close_conn(old, "replaced by a new connection from the same node");
    D.peers[c->peer].conn = c;
    c->replacing = false;
  }
  if (c->counted_unauthenticated) {
    --D.unauthenticated;
    c->counted_unauthenticated = false;
  }
  c->st = St::Up;
  if (c->timer_open) uv_timer_stop(&c->timer);
  if (c->tcp_open) {
    std::lock_guard<std::mutex> gl(c->gate->mu);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd) == 0) {
      c->gate->fd = fd;
      c->gate->open = true;
    }
  }
  return node_up(c);
}

// Connecting side: we sent our name; the peer answers with a status, then
// its challenge, then (after our reply) its ack.
bool handshake_as_initiator(Conn* c, const uint8_t* m, size_t n) {
  switch (c->st) {
    case St::AwaitStatus: {
      std::string status;
      if (!hs::parse_status(m, n, &status)) return false;
      if (status == "ok" || status == "ok_simultaneous") {
        c->st = St::AwaitChallenge;
        return true;
      }
      if (status == "alive") {
        // The peer still has a connection from our earlier incarnation
        // (or from us: it is gone on our side): replace it.
        send_status(c, "true");
        c->st = St::AwaitChallenge;
        return true;
      }
      if (status == "nok") {
        // The peer's own connection to us wins the race; it completes our
        // waiters when it comes up.
        c->yielded = true;
        close_conn(c, nullptr);
        return true;
      }
      c->fail_code = SNOW_ECONNREFUSED;
      return false;
    }
    case St::AwaitChallenge: {
      hs::Challenge ch;
      if (!hs::parse_challenge(m, n, &ch)) return false;
      if (ch.node != c->peer) {
        log_refusal("snowrt: connected to %s but it says it is %s", c->peer.c_str(), ch.node.c_str());
        return false;
      }
      c->peer_flags = ch.flags;
      c->peer_creation = ch.creation;
      if (!flags_ok(c)) return false;
      c->my_challenge = hs::new_challenge();
      uint8_t d[16];
      hs::digest(D.cookie, ch.challenge, d);
      send_handshake(c, hs::encode_reply(c->my_challenge, d));
      c->st = St::AwaitAck;
      c->fail_code = SNOW_EAUTH;  // a close from here on means the cookie was refused
      return true;
    }
    case St::AwaitAck: {
      uint8_t d[16];
      if (!hs::parse_ack(m, n, d)) return false;
      if (!hs::digest_matches(D.cookie, c->my_challenge, d)) {
        log_refusal("snowrt: node %s answered with the wrong cookie", c->peer.c_str());
        c->fail_code = SNOW_EAUTH;
        return false;
      }
      return go_up(c);
    }
    default:
      return false;
  }
}

// Accepting side: the peer sends its name; we answer with a status and our
// challenge, check its reply and send our ack. Nothing here keeps state
// beyond this connection until the peer has proved the cookie (the peer
// table row for its name, made for the simultaneous-connect rule, goes
// when the connection does).
bool handshake_as_acceptor(Conn* c, const uint8_t* m, size_t n) {
  switch (c->st) {
    case St::AwaitName: {
      hs::Name nm;
      if (!hs::parse_name(m, n, &nm)) {
        if (n > 0 && m[0] == 'n') log_refusal("snowrt: refusing a version 5 handshake (OTP 23+ needed)");
        return false;
      }
      if (!valid_wire_node(nm.node) || nm.node == D.name) {
        log_refusal("snowrt: refusing a connection from a node named '%s'", printable(nm.node).c_str());
        return false;
      }
      c->peer_flags = nm.flags;
      c->peer_creation = nm.creation;
      if ((nm.flags & wire::kRequiredFlags) != wire::kRequiredFlags) {
        log_refusal("snowrt: node %s lacks mandatory distribution flags", nm.node.c_str());
        send_status(c, "not_allowed");
        return false;
      }
      auto it = D.peers.find(nm.node);
      Conn* other = it == D.peers.end() ? nullptr : it->second.conn;
      c->peer = nm.node;
      if (other && other->st == St::Up) {
        // We are connected to that node. Either it restarted and the old
        // connection is dead without our knowing, or this is someone else
        // using its name: the established connection stays until this one
        // proves the cookie (go_up).
        send_status(c, "alive");
        c->st = St::AwaitAliveAnswer;
        return true;
      }
      if (other) {
        // Simultaneous connect: the greater name keeps its own attempt.
        if (D.name > c->peer) {
          c->peer.clear();  // not the current connection for that node
          send_status(c, "nok");
          return true;
        }
        other->yielded = true;
        it->second.conn = nullptr;
        close_conn(other, nullptr);
        send_status(c, "ok_simultaneous");
      } else {
        send_status(c, "ok");
      }
      D.peers[c->peer].conn = c;
      send_challenge(c);
      return true;
    }
    case St::AwaitAliveAnswer: {
      std::string answer;
      if (!hs::parse_status(m, n, &answer) || answer != "true") return false;
      c->replacing = true;
      send_challenge(c);
      return true;
    }
    case St::AwaitReply: {
      hs::Reply r;
      if (!hs::parse_reply(m, n, &r)) return false;
      if (!hs::digest_matches(D.cookie, c->my_challenge, r.digest)) {
        log_refusal("snowrt: node %s presented the wrong cookie", c->peer.c_str());
        return false;
      }
      uint8_t d[16];
      hs::digest(D.cookie, r.challenge, d);
      send_handshake(c, hs::encode_ack(d));
      return go_up(c);
    }
    default:
      return false;
  }
}

bool handle_handshake(Conn* c, const uint8_t* m, size_t n) {
  if (n == 0) return false;
  return c->initiator ? handshake_as_initiator(c, m, n) : handshake_as_acceptor(c, m, n);
}

void on_timeout(uv_timer_t* t) {
  Conn* c = static_cast<Conn*>(t->data);
  if (c->st != St::Up) {
    c->fail_code = SNOW_ETIMEDOUT;
    close_conn(c, "handshake timed out");
  }
}

void conn_init(Conn* c) {
  uv_tcp_init(&D.loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = true;
  uv_timer_init(&D.loop, &c->timer);
  c->timer.data = c;
  c->timer_open = true;
  c->open_handles = 2;
  uv_timer_start(&c->timer, on_timeout, kHandshakeTimeoutMs, 0);
  c->last_recv = c->last_send = now_ns();
}

void on_connected(uv_connect_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  if (c->st == St::Dead) return;
  if (status != 0) {
    c->fail_code = SNOW_ECONNREFUSED;
    close_conn(c, uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->st = St::AwaitStatus;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  send_handshake(c, hs::encode_name(wire::kOurFlags, D.creation, D.name));
}

void connect_port(Conn* c) {
  sockaddr_in addr = c->addr;
  addr.sin_port = htons(uint16_t(c->port));
  c->st = St::Connecting;
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, reinterpret_cast<const sockaddr*>(&addr), on_connected);
  if (rc != 0) {
    c->fail_code = SNOW_ECONNREFUSED;
    close_conn(c, uv_strerror(rc));
  }
}

// EPMD PORT_PLEASE2 lookup on the peer's host. The reply buffer is bounded:
// everything the lookup needs is in its first bytes.
void on_epmd_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = static_cast<Conn*>(s->data);
  if (c->st != St::EpmdLookup) return;
  if (nread > 0) c->ebuf.insert(c->ebuf.end(), buf->base, buf->base + std::min<ssize_t>(nread, 64));
  uint16_t port = 0;
  epmd::Reply r = epmd::parse_port2_resp(c->ebuf.data(), c->ebuf.size(), &port);
  if (r == epmd::Reply::NeedMore && nread >= 0) return;
  uv_read_stop(s);
  if (r == epmd::Reply::Ok) {
    c->port = port;
    c->epmd_open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->epmd), on_handle_closed);
    connect_port(c);
    return;
  }
  c->fail_code = SNOW_ENONODE;
  close_conn(c, r == epmd::Reply::Refused ? "node not registered with the port mapper"
                                          : "unexpected reply from the port mapper");
}

void on_epmd_written(uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); }

void on_epmd_connected(uv_connect_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  if (c->st != St::EpmdLookup) return;
  if (status != 0) {
    c->fail_code = SNOW_ENONODE;
    close_conn(c, "no port mapper on the node's host");
    return;
  }
  auto* wr = new WriteReq();
  wr->owned = epmd::encode_port_please2_req(std::string_view(c->peer).substr(0, c->peer.find('@')));
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->epmd), wr->bufs.data(), 1, on_epmd_written);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->epmd), on_alloc, on_epmd_read);
}

// Asks the port mapper on the peer's host for its port, or connects at
// once when the name carried one (name@host:port).
void lookup_and_connect(Conn* c) {
  if (c->port) {
    connect_port(c);
    return;
  }
  sockaddr_in addr = c->addr;
  addr.sin_port = htons(epmd::kPort);
  c->st = St::EpmdLookup;
  uv_tcp_init(&D.loop, &c->epmd);
  c->epmd.data = c;
  c->epmd_open = true;
  ++c->open_handles;
  c->ereq.data = c;
  if (uv_tcp_connect(&c->ereq, &c->epmd, reinterpret_cast<const sockaddr*>(&addr), on_epmd_connected) != 0) {
    c->fail_code = SNOW_ENONODE;
    close_conn(c, "cannot reach the port mapper");
  }
}

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  Conn* c = static_cast<Conn*>(req->data);
  c->resolving = false;
  const addrinfo* found = nullptr;
  for (const addrinfo* ai = status == 0 ? res : nullptr; ai; ai = ai->ai_next)
    if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(sockaddr_in)) {
      found = ai;
      break;
    }
  if (found) std::memcpy(&c->addr, found->ai_addr, sizeof(sockaddr_in));
  if (res) uv_freeaddrinfo(res);
  if (c->st == St::Resolving) {
    if (found) {
      lookup_and_connect(c);
    } else {
      c->fail_code = SNOW_ENONODE;
      close_conn(c, status == 0 ? "host has no IPv4 address" : uv_strerror(status));
    }
  }
  if (--c->open_handles == 0) delete c;
}

void start_outgoing(const std::string& name) {
  if (D.stopping) return;
  PeerState& ps = D.peers[name];
  if (ps.conn) return;
  auto* c = new Conn();
  c->initiator = true;
  c->peer = name;
  c->host = name.substr(name.find('@') + 1);
  conn_init(c);
  ps.conn = c;
  c->port = ps.explicit_port;
  // IPv4 literals (and localhost) need no resolver; other names go through
  // getaddrinfo on libuv's thread pool, bounded by the handshake timeout.
  const char* literal = c->host == "localhost" ? "127.0.0.1" : c->host.c_str();
  if (uv_ip4_addr(literal, 0, &c->addr) == 0) {
    lookup_and_connect(c);
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  c->st = St::Resolving;
  c->resolve_req.data = c;
  if (uv_getaddrinfo(&D.loop, &c->resolve_req, on_resolved, c->host.c_str(), nullptr, &hints) != 0) {
    c->fail_code = SNOW_ENONODE;
    close_conn(c, "cannot resolve the host name");
    return;
  }
  c->resolving = true;
  ++c->open_handles;
}

void on_incoming(uv_stream_t* server, int status) {
  if (status != 0) return;
  auto* c = new Conn();
  conn_init(c);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    close_conn(c, nullptr);
    return;
  }
  if (D.unauthenticated >= kMaxUnauthenticated) {
    // Each connection that has not proved the cookie holds a socket and up
    // to a handshake message of buffer until it times out: their number is
    // bounded so that no peer without the cookie can hold more.
    log_refusal("snowrt: %d connections are still in their handshake: refusing another", kMaxUnauthenticated);
    close_conn(c, nullptr);
    return;
  }
  ++D.unauthenticated;
  c->counted_unauthenticated = true;
  uv_tcp_nodelay(&c->tcp, 1);
  c->st = St::AwaitName;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
}

// ------------------------------------------------------------------ incoming control messages
//
// Frames are read in place (wire::read_control, etf views): no tree of the
// term is built, so a frame costs time linear in its bytes and memory for
// what it delivers, whatever it nests or claims. Terms a peer gets back
// (its monitor references, spawn request ids, the {Pid, Tag} of a call) are
// echoed verbatim.

// Where a pid in a control message points: a live local pid, a pid of an
// earlier incarnation of this node (its processes are all dead), or
// neither (another node: a peer may only address this node's processes).
enum class Target { Local, DeadLocal, Invalid };

Target local_target(etf::View t, uint64_t* pid) {
  etf::Pid p;
  if (!etf::read_pid(t, &p) || p.node != D.name) return Target::Invalid;
  if (p.creation != D.creation) return Target::DeadLocal;
  *pid = local_pid_make(p.id, p.serial);
  return *pid ? Target::Local : Target::DeadLocal;
}

// A pid the peer sends as its own (a sender, watcher, parent, or a process
// that died there) must be one of that peer incarnation's processes: a
// peer speaks for itself, and nothing it sends may make this node refer to,
// or contact, a third node. The handle is made (or found) in the
// connection's entry and marked for `use` (node_table.h).
bool peer_pid(Conn* c, etf::View t, PidUse use, uint64_t* out) {
  etf::Pid p;
  if (!etf::read_pid(t, &p) || p.node != c->peer || p.creation != c->peer_creation) return false;
  *out = handle_get(c->entry, p.id, p.serial, use);
  return *out != 0;
}

// Whether `t` is a pid of the peer, without making a handle for it.
bool is_peer_pid(Conn* c, etf::View t) {
  etf::Pid p;
  return etf::read_pid(t, &p) && p.node == c->peer && p.creation == c->peer_creation;
}

// A link or monitor request for a process of an earlier incarnation of this
// node: answered at once as Erlang does (exit noproc, DOWN noproc), from
// the dead pid as the peer named it. Nothing is kept.
void answer_dead_local(NodeEntry* e, int64_t op, etf::View from, etf::View dead, etf::View ref) {
  Writer w;
  frame_begin(w);
  if (op == wire::kLink) {
    w.tuple(3);
    w.integer(wire::kPayloadExit);
    w.verbatim(dead);
    w.verbatim(from);
    w.version();
    w.atom("noproc");
  } else {
    w.tuple(4);
    w.integer(wire::kPayloadMonitorPExit);
    w.verbatim(dead);
    w.verbatim(from);
    w.verbatim(ref);
    w.version();
    w.atom("noproc");
  }
  enqueue_frame(e, frame_finish(w, SigKind::Message, 0, 0, 0));
}

// A service call or reply from a libsnowrt peer: {'$snow_call' |
// '$snow_reply', Ref, Bin}. False for any other term. The sender becomes a
// handle only here (a caller is shown to the server, which replies to it).
bool deliver_service(Conn* c, uint64_t to, etf::View sender, etf::View term) {
  etf::Elements items(term);
  etf::View kind, ref_term, body;
  if (!items.ok() || items.is_list() || items.count() != 3 || !items.next(&kind) || !items.next(&ref_term) ||
      !items.next(&body))
    return false;
  bool reply = etf::atom_is(kind, "$snow_reply");
  if (!reply && !etf::atom_is(kind, "$snow_call")) return false;
  uint64_t ref;
  std::string_view b;
  if (!etf::read_u64(ref_term, &ref) || !etf::read_binary(body, &b)) return false;
  uint64_t tag = 0;
  std::memcpy(&tag, b.data(), b.size() < 8 ? b.size() : 8);
  uint64_t from = 0;
  if (sender.size && !peer_pid(c, sender, reply ? PidUse::Internal : PidUse::Exposed, &from)) from = 0;
  if (reply) {
    Signal* s = signal_alloc(SigKind::ServiceReply, to, from, b.size());
    if (!s) return true;
    if (!b.empty()) std::memcpy(s->msg.data, b.data(), b.size());
    s->msg.tag = tag;
    s->ref = ref;
    deliver_or_die(to, s);
    return true;
  }
  Signal* s = signal_message(to, from, SNOW_MSG_USER, tag, b.data(), b.size());
  if (!s) return true;
  // The caller's pid in the request ([tag][caller][payload]) was its pid on
  // its own node: the server must see the handle for it here.
  if (b.size() >= 16 && from) put_u64(s->msg.data + 8, from);
  s->ref = ref;
  s->flags = kSigServiceCall;
  deliver_or_die(to, s);
  return true;
}

// A message payload (`payload`: version byte and term, `term` its view): a
// binary is a user message of its bytes, a libsnowrt service call or reply
// is rebuilt, anything else is handed over as a TERM untouched. The ABI
// never shows a message's sender, so plain messages carry none (no handle
// is made for every process that sends us something).
void deliver_message(Conn* c, uint64_t to, etf::View sender, const uint8_t* payload, size_t len, etf::View term) {
  std::string_view bin;
  if (etf::read_binary(term, &bin)) {
    uint64_t tag = 0;
    std::memcpy(&tag, bin.data(), bin.size() < 8 ? bin.size() : 8);
    deliver_or_die(to, signal_message(to, 0, SNOW_MSG_USER, tag, bin.data(), bin.size()));
    return;
  }
  if (deliver_service(c, to, sender, term)) return;
  deliver_or_die(to, signal_message(to, 0, SNOW_MSG_TERM, SNOW_TAG_TERM, payload, len));
}

// net_kernel's is_auth call (what net_adm:ping sends), {'$gen_call', {Pid,
// Tag}, Request}: answer {Tag, yes} to Pid, both echoed verbatim (Tag is a
// reference or [alias | Ref]).
void answer_net_kernel(NodeEntry* e, etf::View term) {
  etf::Elements call(term);
  etf::View kind, from;
  if (!call.ok() || call.is_list() || call.count() != 3 || !call.next(&kind) || !call.next(&from) ||
      !etf::atom_is(kind, "$gen_call"))
    return;
  etf::Elements from_items(from);
  etf::View pid, tag;
  if (!from_items.ok() || from_items.is_list() || from_items.count() != 2 || !from_items.next(&pid) ||
      !from_items.next(&tag) || !pid.is_pid())
    return;
  Writer w;
  frame_begin(w);
  w.tuple(3);
  w.integer(wire::kSend);
  w.atom("");
  w.verbatim(pid);
  w.version();
  w.tuple(2);
  w.verbatim(tag);
  w.atom("yes");
  enqueue_frame(e, frame_finish(w, SigKind::Message, 0, 0, 0));
}

// A spawn request being answered; req and parent are the peer's own bytes.
struct SpawnCtx {
  NodeEntry* e;
  etf::View req;
  etf::View parent;
  uint64_t flags;
};

void spawn_reply_frame(uint64_t pid, void* ctx) {
  auto* sc = static_cast<SpawnCtx*>(ctx);
  Writer w;
  frame_begin(w);
  w.tuple(5);
  w.integer(wire::kSpawnReply);
  w.verbatim(sc->req);
  w.verbatim(sc->parent);
  w.integer(int64_t(sc->flags));
  write_pid(w, pid);
  enqueue_frame(sc->e, frame_finish(w, SigKind::Message, 0, 0, 0));
}

void spawn_error_reply(NodeEntry* e, etf::View req, etf::View parent, const char* why) {
  Writer w;
  frame_begin(w);
  w.tuple(5);
  w.integer(wire::kSpawnReply);
  w.verbatim(req);
  w.verbatim(parent);
  w.integer(0);
  w.atom(why);
  enqueue_frame(e, frame_finish(w, SigKind::Message, 0, 0, 0));
}

// The argument bytes of a spawn request: [] or [Bin] (what snow_node_spawn
// and erl's spawn_request to a libsnowrt function send).
bool spawn_args(etf::View args, std::string_view* bytes) {
  etf::Elements items(args);
  if (!items.ok() || !items.is_list() || items.count() > 1) return false;
  etf::View bin;
  *bytes = {};
  if (items.count() == 1 && (!items.next(&bin) || !etf::read_binary(bin, bytes))) return false;
  etf::View end;
  return !items.next(&end) && items.tail().tag() == etf::kNil;
}

// False when the request is malformed (the connection is closed).
bool handle_spawn_request(Conn* c, const wire::Control& ctl) {
  // {29, ReqId, From, GroupLeader, {Module, Function, Arity}, OptList} + ArgList
  NodeEntry* e = c->entry;
  if (ctl.arity < 6) return true;
  if (!is_peer_pid(c, ctl.item[2])) return false;
  etf::View req = ctl.item[1];
  etf::View parent_term = ctl.item[2];
  etf::View args;
  std::string_view arg_bytes;
  if (!wire::read_payload(ctl, &args) || !spawn_args(args, &arg_bytes)) {
    spawn_error_reply(e, req, parent_term, "badarg");
    return true;
  }
  etf::Elements mfa(ctl.item[4]);
  etf::View module, function;
  std::string fname;
  if (!mfa.ok() || mfa.is_list() || mfa.count() != 3 || !mfa.next(&module) || !mfa.next(&function) ||
      !etf::read_atom(function, &fname)) {
    spawn_error_reply(e, req, parent_term, "badarg");
    return true;
  }
  void (*fn)(const uint8_t*) = nullptr;
  {
    std::lock_guard<std::mutex> lk(D.fn_mu);
    auto it = D.functions.find(fname);
    if (it != D.functions.end()) fn = it->second;
  }
  if (!fn) {
    spawn_error_reply(e, req, parent_term, "notsup");
    return true;
  }
  bool link = false, monitor = false;
  etf::Elements opts(ctl.item[5]);
  etf::View o;
  while (opts.is_list() && opts.next(&o)) {
    if (etf::atom_is(o, "link")) link = true;
    if (etf::atom_is(o, "monitor")) monitor = true;
  }
  // The parent becomes a handle only when a link or monitor keeps it.
  uint64_t parent_pid = 0;
  if ((link || monitor) && !peer_pid(c, parent_term, PidUse::Internal, &parent_pid)) return true;
  SpawnCtx sc{e, req, parent_term, (link ? 1u : 0u) | (monitor ? 2u : 0u)};
  SpawnRequest r;
  r.fn = fn;
  r.args = reinterpret_cast<const uint8_t*>(arg_bytes.data());
  r.size = arg_bytes.size();
  r.before_start = spawn_reply_frame;
  r.before_start_ctx = &sc;
  if (link) r.remote_link = parent_pid;
  uint64_t mref = 0;
  if (monitor) {
    mref = new_ref();
    r.remote_watcher = parent_pid;
    r.remote_monitor_ref = mref;
    std::lock_guard<std::mutex> lk(e->mu);
    e->peer_monitors[mref] = PeerMonitor{std::vector<uint8_t>(req.data, req.data + req.size), parent_pid, 0, {}};
    e->peer_monitor_by_term[std::string(req.bytes())] = mref;
  }
  uint64_t child = proc_spawn(r);
  if (!child) {
    spawn_error_reply(e, req, parent_term, "system_limit");
    return true;
  }
  std::lock_guard<std::mutex> lk(e->mu);
  if (link) e->links.insert({child, parent_pid});
  if (monitor) e->peer_monitors[mref].target = child;
  return true;
}

void handle_spawn_reply(Conn* c, const wire::Control& ctl) {
  // {31, ReqId, To, Flags, Result}
  if (ctl.arity < 5) return;
  uint64_t req;
  if (!our_ref_from_wire(ctl.item[1], &req)) return;
  uint64_t requester = 0;
  for (NodeEntry* e : D.peers[c->peer].entries) {
    std::lock_guard<std::mutex> lk(e->mu);
    auto it = e->spawns.find(req);
    if (it != e->spawns.end()) {
      requester = it->second;
      e->spawns.erase(it);
      break;
    }
  }
  if (!requester) return;
  uint8_t b[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
  uint64_t flags = 0;
  etf::read_u64(ctl.item[3], &flags);
  uint64_t child = 0;
  if (peer_pid(c, ctl.item[4], PidUse::Exposed, &child)) {
    if (flags & 1) {
      // The link exists on the child's side already: make it exist here
      // before anything from the child can arrive.
      deliver_or_die(requester, signal_control(SigKind::Link, requester, child, 0));
      NodeEntry* ce = entry_at(child >> 48);
      if (ce) {
        std::lock_guard<std::mutex> lk(ce->mu);
        ce->links.insert({requester, child});
      }
    }
    b[0] = 0;
    put_u64(b + 1, child);
  }
  proc_reply(requester, req, b, 9);
}

// The atom `kill` is the untrappable kill only as an exit/2 reason. A
// process that exits with reason kill gives its links a plain, trappable
// exit signal `kill` and its monitors DOWN `kill`: custom "kill" here.
std::vector<uint8_t> exited_with_kill() {
  std::vector<uint8_t> r(reason_size(SNOW_REASON_CUSTOM, 4));
  reason_write(r.data(), SNOW_REASON_CUSTOM, "kill");
  return r;
}

// The exit reason of an EXIT/EXIT2/MONITOR_P_EXIT: the payload term after
// the control tuple (PAYLOAD_ variants) or the tuple's element `index`.
bool read_reason(bool payload, const wire::Control& ctl, size_t index, std::vector<uint8_t>* out, bool* kill) {
  etf::View reason = ctl.item[index];
  if (payload && !wire::read_payload(ctl, &reason)) return false;
  *out = wire::term_to_reason(reason, kill);
  return true;
}

// One frame from an up connection. False when it is malformed (the
// connection is closed): not a control message, or a pid the peer sends as
// its own that is not one of its processes (as OTP, which drops a
// connection over an invalid distribution message).
bool handle_frame(Conn* c, const uint8_t* m, size_t n) {
  if (n == 0) return true;  // tick
  wire::Control ctl;
  if (!wire::read_control(m, n, &ctl)) return false;
  const etf::View* it = ctl.item;
  NodeEntry* e = c->entry;
  int64_t op = ctl.op;
  uint64_t to = 0;
  if (g_trace) log_line("snowrt dist: <- %s op %lld (%zu bytes)", c->peer.c_str(), static_cast<long long>(op), n);
  switch (op) {
    case wire::kLink: {
      // {1, FromPid, ToPid}
      if (ctl.arity < 3) return true;
      uint64_t from;
      if (!peer_pid(c, it[1], PidUse::Internal, &from)) return false;
      Target t = local_target(it[2], &to);
      if (t == Target::DeadLocal) answer_dead_local(e, op, it[1], it[2], {});
      if (t != Target::Local) return t != Target::Invalid;
      {
        std::lock_guard<std::mutex> lk(e->mu);
        e->links.insert({to, from});
      }
      deliver_or_die(to, signal_control(SigKind::Link, to, from, 0));
      return true;
    }
    case wire::kSend:
    case wire::kSendSender: {
      // {2, Unused, ToPid} / {22, FromPid, ToPid}, then the message
      if (ctl.arity < 3) return true;
      etf::View sender = op == wire::kSendSender ? it[1] : etf::View{};
      if (sender.size && !is_peer_pid(c, sender)) return false;
      Target t = local_target(it[2], &to);
      if (t != Target::Local) return t != Target::Invalid;
      etf::View msg;
      if (!wire::read_payload(ctl, &msg)) return false;
      deliver_message(c, to, sender, ctl.rest, ctl.rest_size, msg);
      return true;
    }
    case wire::kRegSend: {
      // {6, FromPid, Unused, ToName}, then the message
      std::string name;
      if (ctl.arity < 4 || !etf::read_atom(it[3], &name)) return true;
      if (!is_peer_pid(c, it[1])) return false;
      etf::View msg;
      if (!wire::read_payload(ctl, &msg)) return false;
      if (name == "net_kernel") {
        answer_net_kernel(e, msg);
        return true;
      }
      uint64_t target = proc_whereis(name);
      if (target) deliver_message(c, target, it[1], ctl.rest, ctl.rest_size, msg);
      return true;
    }
    case wire::kExit:
    case wire::kExit2:
    case wire::kPayloadExit:
    case wire::kPayloadExit2: {
      // {3|8, FromPid, ToPid, Reason} / {24|26, FromPid, ToPid}, then the reason
      bool payload = op == wire::kPayloadExit || op == wire::kPayloadExit2;
      bool link = op == wire::kExit || op == wire::kPayloadExit;
      if (ctl.arity < (payload ? 3u : 4u)) return true;
      if (!is_peer_pid(c, it[1])) return false;
      if (local_target(it[2], &to) != Target::Local) return true;
      std::vector<uint8_t> reason_bytes;
      bool kill = false;
      if (!read_reason(payload, ctl, 3, &reason_bytes, &kill)) return false;
      // A link's exit signal comes from a process that has died; exit/2
      // comes from one that lives on and may be shown to a trapping target.
      uint64_t from;
      if (!peer_pid(c, it[1], link ? PidUse::Dead : PidUse::Exposed, &from)) return true;
      if (link && kill) reason_bytes = exited_with_kill();
      if (link) {
        std::lock_guard<std::mutex> lk(e->mu);
        e->links.erase({to, from});
      }
      Signal* s = signal_exit_like(link ? SigKind::LinkExit : SigKind::Exit, to, from, reason_bytes.data(),
                                   reason_bytes.size());
      if (s && !link && kill) s->flags = kSigKill;
      deliver_or_die(to, s);
      return true;
    }
    case wire::kUnlink: {
      // {4, FromPid, ToPid} (old protocol)
      if (ctl.arity < 3) return true;
      uint64_t from;
      if (!peer_pid(c, it[1], PidUse::Internal, &from)) return false;
      if (local_target(it[2], &to) == Target::Local)
        deliver_or_die(to, signal_control(SigKind::Unlink, to, from, 0));
      return true;
    }
    case wire::kUnlinkIdOp:
    case wire::kUnlinkIdAck: {
      // {35|36, Id, FromPid, ToPid}
      uint64_t id;
      if (ctl.arity < 4 || !etf::read_u64(it[1], &id)) return true;
      uint64_t from;
      if (!peer_pid(c, it[2], PidUse::Internal, &from)) return false;
      if (local_target(it[3], &to) != Target::Local) return true;
      if (op == wire::kUnlinkIdAck) {
        std::lock_guard<std::mutex> lk(e->mu);
        e->links.erase({to, from});
      }
      deliver_or_die(to, signal_control(op == wire::kUnlinkIdOp ? SigKind::Unlink : SigKind::UnlinkAck, to, from, id));
      return true;
    }
    case wire::kMonitorP: {
      // {19, FromPid, ToProc, Ref}: the reference is kept (and echoed in
      // DOWN) as the peer's bytes; anything but a reference is ignored.
      if (ctl.arity < 4 || !it[3].is_ref()) return true;
      uint64_t watcher;
      if (!peer_pid(c, it[1], PidUse::Internal, &watcher)) return false;
      std::string name;
      if (etf::read_atom(it[2], &name)) {
        to = proc_whereis(name);
      } else {
        Target t = local_target(it[2], &to);
        if (t == Target::DeadLocal) answer_dead_local(e, op, it[1], it[2], it[3]);
        if (t != Target::Local) return t != Target::Invalid;
      }
      uint64_t ref = new_ref();
      {
        std::lock_guard<std::mutex> lk(e->mu);
        e->peer_monitors[ref] = PeerMonitor{std::vector<uint8_t>(it[3].data, it[3].data + it[3].size), watcher, to, name};
        e->peer_monitor_by_term[std::string(it[3].bytes())] = ref;
      }
      if (!to && name == "net_kernel") {
        // Our built-in net_kernel (it answers is_auth, see REG_SEND) never
        // exits while the connection lives: the monitor stays silent.
        return true;
      }
      if (!to) {
        // Unknown name: DOWN noproc straight back.
        deliver_or_die(watcher, signal_down(watcher, ref, 0, kNoproc, 1));
        return true;
      }
      deliver_or_die(to, signal_control(SigKind::Monitor, to, watcher, ref));
      return true;
    }
    case wire::kDemonitorP: {
      // {20, FromPid, ToProc, Ref}
      if (ctl.arity < 4) return true;
      uint64_t ref = 0, target = 0, watcher = 0;
      {
        std::lock_guard<std::mutex> lk(e->mu);
        auto f = e->peer_monitor_by_term.find(std::string(it[3].bytes()));
        if (f == e->peer_monitor_by_term.end()) return true;
        ref = f->second;
        e->peer_monitor_by_term.erase(f);
        auto pm = e->peer_monitors.find(ref);
        if (pm != e->peer_monitors.end()) {
          target = pm->second.target;
          watcher = pm->second.watcher;
          e->peer_monitors.erase(pm);
        }
      }
      if (target) deliver_or_die(target, signal_control(SigKind::Demonitor, target, watcher, ref));
      return true;
    }
    case wire::kMonitorPExit:
    case wire::kPayloadMonitorPExit: {
      // {21, FromProc, ToPid, Ref, Reason} / {28, FromProc, ToPid, Ref}, then
      // the reason. FromProc is the dead process (or the name it was
      // monitored by).
      bool payload = op == wire::kPayloadMonitorPExit;
      if (ctl.arity < (payload ? 4u : 5u)) return true;
      if (it[1].is_pid() && !is_peer_pid(c, it[1])) return false;
      if (local_target(it[2], &to) != Target::Local) return true;
      uint64_t ref;
      if (!our_ref_from_wire(it[3], &ref)) return true;
      std::vector<uint8_t> reason_bytes;
      bool kill;
      if (!read_reason(payload, ctl, 4, &reason_bytes, &kill)) return false;
      if (kill) reason_bytes = exited_with_kill();
      uint64_t dead = 0;
      {
        std::lock_guard<std::mutex> lk(e->mu);
        auto m2 = e->monitors.find(ref);
        if (m2 != e->monitors.end()) {
          dead = m2->second.second;
          e->monitors.erase(m2);
        }
      }
      if (it[1].is_pid()) peer_pid(c, it[1], PidUse::Dead, &dead);
      else if (dead) handle_mark(dead, PidUse::Dead);
      deliver_or_die(to, signal_down(to, ref, dead, reason_bytes.data(), reason_bytes.size()));
      return true;
    }
    case wire::kSpawnRequest:
      return handle_spawn_request(c, ctl);
    case wire::kSpawnReply:
      handle_spawn_reply(c, ctl);
      return true;
    default:
      return true;  // a control message we do not implement: ignored
  }
}

// ------------------------------------------------------------------ ticks

void on_tick(uv_timer_t*) {
  int64_t now = now_ns();
  int64_t tick = int64_t(D.ticktime_ms.load()) * 1000000;
  int64_t interval = tick / 4;
  std::vector<Conn*> dead;
  for (auto& [name, ps] : D.peers) {
    Conn* c = ps.conn;
    if (!c || c->st != St::Up) continue;
    if (now - c->last_recv > tick) {
      dead.push_back(c);
      continue;
    }
    int64_t last = std::max(c->last_send, c->gate->last_send.load(std::memory_order_relaxed));
    if (now - last < interval - interval / 8) continue;
    {
      // A tick must not land inside a frame a sender is writing directly.
      std::lock_guard<std::mutex> gl(c->gate->mu);
      if (c->gate->loop_pending != 0 || c->gate->partial) continue;
      ++c->gate->loop_pending;
    }
    write_raw(c, std::vector<uint8_t>(4, 0), true);
  }
  for (Conn* c : dead) close_conn(c, "no tick from the node (silent or partitioned)");
  sweep_node_table();
}

void arm_ticks() {
  uint64_t interval = D.ticktime_ms.load() / 4;
  if (interval == 0) interval = 1;
  uv_timer_start(&D.tick_timer, on_tick, interval, interval);
}

// ------------------------------------------------------------------ EPMD registration

void finish_start(int64_t result) {
  if (D.start_waiter) {
    complete(D.start_waiter, result, 0);
    D.start_waiter.reset();
  }
}

void epmd_register();

void on_epmd_retry(uv_timer_t*) { epmd_register(); }

void epmd_reg_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  if (D.start_waiter && nread > 0 && D.epmd_buf.size() < 16)
    D.epmd_buf.insert(D.epmd_buf.end(), buf->base, buf->base + std::min<ssize_t>(nread, 16));
  if (D.start_waiter) {
    uint32_t creation = 0;
    switch (epmd::parse_alive2_resp(D.epmd_buf.data(), D.epmd_buf.size(), &creation)) {
      case epmd::Reply::NeedMore:
        if (nread >= 0) return;
        finish_start(SNOW_ECONNREFUSED);
        return;
      case epmd::Reply::Ok:
        D.creation = creation;
        finish_start(0);
        return;
      case epmd::Reply::Refused:
        finish_start(SNOW_EEXIST);  // the name is taken on this host
        return;
      case epmd::Reply::Malformed:
        log_line("snowrt: unexpected reply from the port mapper");
        finish_start(SNOW_ECONNREFUSED);
        return;
    }
  }
  if (nread < 0 && !D.stopping) log_line("snowrt: the port mapper closed our registration");
  (void)s;
}

void epmd_reg_connected(uv_connect_t* req, int status) {
  delete req;
  if (status != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&D.epmd_reg), nullptr);
    if (!D.epmd_spawned) {
      // No port mapper on this host: start one, as erl does.
      D.epmd_spawned = true;
      pid_t child;
      char arg0[] = "epmd", arg1[] = "-daemon";
      char* argv[] = {arg0, arg1, nullptr};
      if (posix_spawnp(&child, "epmd", nullptr, nullptr, argv, environ) == 0) {
        int st;
        waitpid(child, &st, 0);
      } else {
        log_line("snowrt: no port mapper running and epmd cannot be started");
      }
    }
    if (++D.epmd_attempts < 30) {
      uv_timer_start(&D.epmd_retry, on_epmd_retry, 100, 0);
      return;
    }
    // Work without a port mapper: peers must use name@host:port.
    log_line("snowrt: no port mapper: node %s reachable only as %s:%d", D.name.c_str(), D.name.c_str(),
             D.listen_port);
    D.creation = hs::new_challenge() | 1;
    finish_start(0);
    return;
  }
  auto* wr = new WriteReq();
  wr->owned = epmd::encode_alive2_req(uint16_t(D.listen_port), std::string_view(D.name).substr(0, D.name.find('@')));
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&D.epmd_reg), wr->bufs.data(), 1, on_epmd_written);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&D.epmd_reg), on_alloc, epmd_reg_read);
}

void epmd_register() {
  uv_tcp_init(&D.loop, &D.epmd_reg);
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", epmd::kPort, &addr);
  auto* req = new uv_connect_t();
  if (uv_tcp_connect(req, &D.epmd_reg, reinterpret_cast<const sockaddr*>(&addr), epmd_reg_connected) != 0) {
    delete req;
    finish_start(SNOW_ECONNREFUSED);
  }
}

// A listening socket on `ip`, on the first port of [lo, hi] that is free
// (lo == hi == 0: any port). Returns the descriptor or -errno.
int open_listen_socket(in_addr ip, int lo, int hi, int* port_out) {
  int last_error = EADDRINUSE;
  for (int port = lo; port <= hi; ++port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr = ip;
    addr.sin_port = htons(uint16_t(port));
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 128) == 0) {
      socklen_t len = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      *port_out = ntohs(addr.sin_port);
      return fd;
    }
    last_error = errno;
    ::close(fd);
  }
  return -last_error;
}

void do_start(const WaiterPtr& w) {
  D.start_waiter = w;
  in_addr ip{};
  inet_pton(AF_INET, D.listen_interface.c_str(), &ip);  // checked in dist_start
  int lo = D.listen_min, hi = D.listen_max;
  if (D.listen_port) lo = hi = D.listen_port;  // name@host:port
  int port = 0;
  int fd = open_listen_socket(ip, lo, hi, &port);
  int rc = fd < 0 ? fd : 0;
  if (rc == 0) {
    uv_tcp_init(&D.loop, &D.listener);
    rc = uv_tcp_open(&D.listener, fd);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&D.listener), 128, on_incoming);
    if (rc != 0) uv_close(reinterpret_cast<uv_handle_t*>(&D.listener), nullptr);
  }
  if (rc != 0) {
    log_line("snowrt: cannot listen on %s port %d%s%d: %s", D.listen_interface.c_str(), lo, lo == hi ? "" : "-",
             hi, strerror(-rc));
    finish_start(SNOW_EINVAL);
    return;
  }
  D.listen_port = port;
  uv_timer_init(&D.loop, &D.tick_timer);
  uv_timer_init(&D.loop, &D.epmd_retry);
  arm_ticks();
  epmd_register();
}

// ------------------------------------------------------------------ commands

void close_everything() {
  D.stopping = true;
  std::vector<Conn*> conns;
  for (auto& [name, ps] : D.peers)
    if (ps.conn) conns.push_back(ps.conn);
  for (Conn* c : conns) close_conn(c, "node stopped");
  // Entries that never got a connection still hold queued frames.
  for (auto& [name, ps] : D.peers) {
    fail_node(name, 0);
    for (auto& w : ps.waiters) complete(w, SNOW_ENOTSTARTED, 0);
    ps.waiters.clear();
  }
  publish_connected();
}

// The connection reader on bytes as if a peer had sent them (see
// dist_test_feed in dist.h).
void run_test_feed(const TestFeed& f) {
  auto* c = new Conn();
  c->test_transport = true;
  c->last_recv = c->last_send = now_ns();
  auto feed = [&](const uint8_t* p, size_t n) {
    size_t step = f.chunk ? f.chunk : n;
    for (size_t at = 0; at < n && c->st != St::Dead; at += step) conn_feed(c, p + at, std::min(step, n - at));
  };
  auto framed = [](const std::vector<uint8_t>& body) {
    std::vector<uint8_t> b;
    put_be16(b, uint16_t(body.size()));
    b.insert(b.end(), body.begin(), body.end());
    return b;
  };
  if (f.start == TestConnStart::Outgoing) {
    c->initiator = true;
    c->peer = f.peer;
    PeerState& ps = D.peers[f.peer];
    if (ps.conn) close_conn(ps.conn, nullptr);
    ps.conn = c;
    c->st = St::AwaitStatus;
  } else {
    ++D.unauthenticated;
    c->counted_unauthenticated = true;
    c->st = St::AwaitName;
  }
  if (f.start == TestConnStart::Up) {
    // The handshake of a peer that knows the cookie.
    auto name = framed(hs::encode_name(wire::kOurFlags, f.peer_creation, f.peer));
    conn_feed(c, name.data(), name.size());
    if (c->st == St::AwaitReply) {
      uint8_t d[16];
      hs::digest(D.cookie, c->my_challenge, d);
      auto reply = framed(hs::encode_reply(1, d));
      conn_feed(c, reply.data(), reply.size());
    }
  }
  feed(f.bytes, f.n);
  close_conn(c, nullptr);
  delete c;
  if (f.sweep) sweep_node_table();
}

void walk_close(uv_handle_t* h, void*) {
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

// Whether an up connection still has writes handed to libuv (or a direct
// write's remainder) that have not reached the socket.
bool writes_pending() {
  for (auto& [name, ps] : D.peers) {
    Conn* c = ps.conn;
    if (!c || c->st != St::Up) continue;
    std::lock_guard<std::mutex> gl(c->gate->mu);
    if (c->gate->loop_pending != 0 || c->gate->partial) return true;
  }
  return false;
}

void finish_stop() {
  WaiterPtr w = std::move(D.stop_waiter);
  D.stop_waiter = nullptr;
  close_everything();
  uv_walk(&D.loop, walk_close, nullptr);
  complete(w, 0, 0);
}

void on_stop_timer(uv_timer_t*) {
  if (writes_pending() && now_ns() < D.stop_deadline_ns) return;
  uv_timer_stop(&D.stop_timer);
  finish_stop();
}

// Stops the node once the frames already written towards up connections
// have left (a frozen peer holds the stop for at most kStopDrainMs).
void begin_stop(const WaiterPtr& w) {
  if (D.stop_waiter) {  // a second stop joins the first
    complete(w, 0, 0);
    return;
  }
  D.stop_waiter = w;
  std::vector<NodeEntry*> corked;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    corked.swap(D.corked);
    D.cork_timer_wanted = false;
  }
  for (NodeEntry* e : corked) {
    {
      std::lock_guard<std::mutex> lk(e->mu);
      e->cork_listed = false;
    }
    flush_entry(e);
  }
  if (!writes_pending()) {
    finish_stop();
    return;
  }
  D.stop_deadline_ns = now_ns() + int64_t(kStopDrainMs) * 1000 * 1000;
  uv_timer_start(&D.stop_timer, on_stop_timer, 1, 1);
}

void run_commands() {
  std::vector<Command> cmds;
  std::vector<NodeEntry*> dirty;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    cmds.swap(D.cmds);
    dirty.swap(D.dirty);
  }
  for (Command& c : cmds) {
    switch (c.type) {
      case CmdType::Start:
        do_start(c.waiter);
        break;
      case CmdType::Connect: {
        std::string name, host;
        int port;
        parse_node(c.node, &name, &host, &port);
        PeerState& ps = D.peers[name];
        if (port) ps.explicit_port = port;
        if (ps.up) {
          complete(c.waiter, 0, 0);
          break;
        }
        ps.waiters.push_back(c.waiter);
        start_outgoing(name);
        break;
      }
      case CmdType::Disconnect: {
        auto it = D.peers.find(c.node);
        if (it == D.peers.end() || !it->second.conn) {
          complete(c.waiter, SNOW_ENONODE, 0);
          break;
        }
        close_conn(it->second.conn, "disconnected by this node");
        complete(c.waiter, 0, 0);
        break;
      }
      case CmdType::NodeMonitor: {
        auto it = D.peers.find(c.node);
        bool up = it != D.peers.end() && it->second.up;
        bool report_down = false;
        {
          std::lock_guard<std::mutex> lk(D.nm_mu);
          auto nm = D.node_mons.find(c.id);
          if (nm != D.node_mons.end() && nm->second.state == 0 && up) nm->second.state = 1;
          report_down = nm != D.node_mons.end() && nm->second.state == 0;
        }
        if (report_down) start_outgoing(c.node);  // its failure reports NODEDOWN, its success NODEUP
        break;
      }
      case CmdType::Ticktime:
        arm_ticks();
        break;
      case CmdType::TestFeed:
        run_test_feed(*c.feed);
        complete(c.waiter, 0, 0);
        break;
      case CmdType::Stop:
        // Frames queued before the stop was asked for go out first.
        for (NodeEntry* e : dirty) flush_entry(e);
        dirty.clear();
        begin_stop(c.waiter);
        break;
    }
  }
  for (NodeEntry* e : dirty) flush_entry(e);
}

void flush_entry(NodeEntry* e);

void on_cork_timer(uv_timer_t*) {
  std::vector<NodeEntry*> corked;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    corked.swap(D.corked);
    D.cork_timer_wanted = false;
  }
  for (NodeEntry* e : corked) {
    {
      std::lock_guard<std::mutex> lk(e->mu);
      e->cork_listed = false;
    }
    flush_entry(e);
  }
}

void on_async(uv_async_t*) {
  D.last_traffic_ns.store(now_ns(), std::memory_order_relaxed);
  bool arm;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    arm = D.cork_timer_wanted;
  }
  if (arm && !uv_is_active(reinterpret_cast<uv_handle_t*>(&D.cork_timer)))
    uv_timer_start(&D.cork_timer, on_cork_timer, 1, 0);
  run_commands();
}

// The loop is run in rounds under loop_mu, by its own thread or by an idle
// worker that is spinning anyway (dist_poll_io): a frame a worker reads
// makes its target runnable on that worker, which then runs it without a
// thread switch. Like an idle worker, after traffic the loop thread watches
// for a short while before it blocks again, yielding the CPU each round so
// the next frame of a conversation is read without a wake-up, which costs
// tens of microseconds when it crosses CPUs. While it watches and a worker
// spins, it leaves the rounds to the worker (reading here would add a
// thread switch) and waits until the last spinner parks, or 1 ms when the
// workers are busy running processes. Once the node is quiet it blocks inside uv_run, holding
// loop_mu (spinning workers then skip their rounds), and uses no CPU.
void loop_main() {
  const int64_t watch_ns = sched_spin_ns();
  auto recent_traffic = [&] {
    return now_ns() - D.last_traffic_ns.load(std::memory_order_relaxed) < watch_ns;
  };
  bool watching = false;
  for (;;) {
    if (watching && sched_spinning_workers() > 0) {
      // Waiting rather than yielding: on a shared CPU a yielding loop
      // thread would take turns with the worker that does the reading.
      std::unique_lock<std::mutex> lk(D.idle_mu);
      D.idle_waiting = true;
      D.idle_cv.wait_for(lk, std::chrono::milliseconds(1),
                         [] { return D.idle_poke || sched_spinning_workers() == 0; });
      D.idle_waiting = false;
      D.idle_poke = false;
      lk.unlock();
      watching = recent_traffic();
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(D.loop_mu);
      if (!uv_run(&D.loop, watching ? UV_RUN_NOWAIT : UV_RUN_ONCE)) {
        D.loop_open.store(false, std::memory_order_release);
        return;
      }
      watching = recent_traffic();
    }
    if (watching) std::this_thread::yield();
  }
}

}  // namespace

void dist_poll_io_done() {
  if (!D.loop_open.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lk(D.idle_mu);
  if (!D.idle_waiting) return;
  D.idle_poke = true;
  D.idle_cv.notify_one();
}

void dist_poll_io() {
  if (!D.loop_open.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lk(D.loop_mu, std::try_to_lock);
  if (!lk.owns_lock() || !D.loop_open.load(std::memory_order_relaxed)) return;
  uv_run(&D.loop, UV_RUN_NOWAIT);
  lk.unlock();
  // Frames the round queued (answers to the peer) leave now, not at the
  // end of some later time slice.
  dist_flush_slice();
}

namespace {

void post(Command c) {
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.cmds.push_back(std::move(c));
  }
  wake_loop();
}

// Waiting for the loop thread. A process must not hold anything that owns
// heap memory on its stack while it waits: an exit discards the stack
// without running destructors. So a process caller posts through
// post_for_process(), whose locals are gone when it returns, and then waits
// for its reply by ref with only plain values on its stack.
uint64_t post_for_process(CmdType type, std::string_view node, int64_t id) {
  Process* p = proc_current();
  auto w = std::make_shared<Waiter>();
  w->pid = proc_pid(p);
  w->ref = new_ref();
  proc_expect_reply(p, w->ref);
  post(Command{type, std::string(node), w, id});
  return w->ref;
}

int64_t wait_process(uint64_t ref, int64_t timeout_ms) {
  uint8_t b[16];
  if (!proc_wait_reply(proc_current(), ref, timeout_ms, b, 16)) return SNOW_ETIMEDOUT;
  return int64_t(get_u64(b));
}

// A thread that is not a process blocks on the waiter's condition variable.
int64_t post_and_block(CmdType type, std::string_view node, int64_t id, int64_t timeout_ms) {
  auto w = std::make_shared<Waiter>();
  post(Command{type, std::string(node), w, id});
  std::unique_lock<std::mutex> lk(w->m);
  if (timeout_ms < 0) {
    w->cv.wait(lk, [&] { return w->done; });
  } else if (!w->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return w->done; })) {
    return SNOW_ETIMEDOUT;
  }
  return w->result;
}

int64_t command_and_wait(CmdType type, std::string_view node, int64_t timeout_ms) {
  if (proc_current()) {
    uint64_t ref = post_for_process(type, node, 0);
    return wait_process(ref, timeout_ms);
  }
  return post_and_block(type, node, 0, timeout_ms);
}

// Parses a node argument; *self tells whether it names this node. The
// strings it makes are gone when it returns (see above).
bool node_arg(std::string_view node, bool* self) {
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return false;
  *self = name == D.name;
  return true;
}

}  // namespace

// ------------------------------------------------------------------ API

bool dist_started() { return D.started.load(std::memory_order_acquire); }

int64_t dist_test_feed(const TestFeed& f) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  auto w = std::make_shared<Waiter>();
  Command c{CmdType::TestFeed, {}, w, 0, &f};
  post(std::move(c));
  std::unique_lock<std::mutex> lk(w->m);
  w->cv.wait(lk, [&] { return w->done; });
  return w->result;
}

void dist_flush_slice() {
  int n = t_ncorked;
  if (n == 0) return;
  t_ncorked = 0;
  for (int i = 0; i < n; ++i) flush_entry_now(t_corked[i]);
}

namespace {

// Where the listener goes, like Erlang's kernel parameters
// inet_dist_use_interface and inet_dist_listen_min/max:
// SNOW_DIST_USE_INTERFACE (an IPv4 address; default 0.0.0.0, every
// interface, as erl) and SNOW_DIST_LISTEN_MIN/MAX (a port range; default:
// any port). false (and a log line) when a setting is malformed.
bool read_listen_settings() {
  D.listen_interface = "0.0.0.0";
  D.listen_min = D.listen_max = 0;
  if (const char* a = getenv("SNOW_DIST_USE_INTERFACE"); a && *a) {
    in_addr ip;
    if (inet_pton(AF_INET, a, &ip) != 1) {
      log_line("snowrt: SNOW_DIST_USE_INTERFACE=%s is not an IPv4 address", a);
      return false;
    }
    D.listen_interface = a;
  }
  auto port_of = [](const char* var, int* out) {
    const char* v = getenv(var);
    if (!v || !*v) return true;
    char* end;
    long p = strtol(v, &end, 10);
    if (*end != 0 || p < 1 || p > 65535) {
      log_line("snowrt: %s=%s is not a port number", var, v);
      return false;
    }
    *out = int(p);
    return true;
  };
  int lo = 0, hi = 0;
  if (!port_of("SNOW_DIST_LISTEN_MIN", &lo) || !port_of("SNOW_DIST_LISTEN_MAX", &hi)) return false;
  if (lo && !hi) hi = lo;
  if (hi && !lo) lo = hi;
  if (lo > hi) {
    log_line("snowrt: SNOW_DIST_LISTEN_MIN (%d) is above SNOW_DIST_LISTEN_MAX (%d)", lo, hi);
    return false;
  }
  D.listen_min = lo;
  D.listen_max = hi;
  return true;
}

}  // namespace

int64_t dist_start(std::string_view full, std::string_view cookie) {
  {
    // A peer that closes while we write must not kill this OS process
    // (libuv writes without MSG_NOSIGNAL). Only the default is replaced.
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
      signal(SIGPIPE, SIG_IGN);
  }
  std::string name, host;
  int port;
  if (!parse_node(full, &name, &host, &port)) return SNOW_EBADNAME;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (D.started.exchange(true)) return SNOW_EALREADY;
  if (!read_listen_settings()) {
    D.started.store(false);
    return SNOW_EINVAL;
  }
  D.name = name;
  D.cookie = std::string(cookie);
  D.listen_port = port;
  D.creation = 0;
  D.epmd_attempts = 0;
  D.epmd_spawned = false;
  D.epmd_buf.clear();
  D.stopping = false;
  uv_loop_init(&D.loop);
  uv_async_init(&D.loop, &D.async, on_async);
  uv_timer_init(&D.loop, &D.cork_timer);
  uv_timer_init(&D.loop, &D.stop_timer);
  D.stop_waiter = nullptr;
  D.corked.clear();
  D.cork_timer_wanted = false;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.loop_ready = true;
  }
  D.loop_open.store(true, std::memory_order_release);
  D.thread = std::thread(loop_main);
  int64_t rc = command_and_wait(CmdType::Start, {}, -1);
  if (rc != 0) {
    dist_stop();
    D.started.store(false);
  }
  return rc;
}

int64_t dist_stop() {
  if (!D.loop_ready) return SNOW_ENOTSTARTED;
  post_and_block(CmdType::Stop, {}, 0, -1);  // a thread wait: the loop is going away
  {
    // Under the command lock: no sender is inside uv_async_send on the
    // handle the loop just closed.
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.loop_ready = false;
  }
  if (D.thread.joinable()) D.thread.join();
  uv_loop_close(&D.loop);
  D.peers.clear();
  // Node monitors stay registered: they were reported down by the stop and
  // report NODEUP again when a restarted node reconnects, until cancelled.
  D.started.store(false, std::memory_order_release);
  proc_runtime_poke();
  return 0;
}

int64_t dist_connect(std::string_view node) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  bool self;
  if (!node_arg(node, &self)) return SNOW_EBADNAME;
  if (self) return 0;
  return command_and_wait(CmdType::Connect, node, 3 * kHandshakeTimeoutMs);
}

int64_t dist_disconnect(std::string_view node) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  bool self;
  if (!node_arg(node, &self)) return SNOW_EBADNAME;
  // The loop looks the node up without a port.
  size_t at = node.find('@');
  size_t colon = node.rfind(':');
  if (colon != std::string_view::npos && colon > at) node = node.substr(0, colon);
  return command_and_wait(CmdType::Disconnect, node, -1);
}

void dist_set_ticktime(uint32_t ms) {
  D.ticktime_ms.store(ms);
  if (dist_started()) post(Command{CmdType::Ticktime, {}, nullptr, 0});
}

bool dist_is_self(std::string_view node) {
  if (!dist_started()) return false;
  std::string name, host;
  int port;
  return parse_node(node, &name, &host, &port) && name == D.name;
}

int dist_send_named(uint64_t from, std::string_view rname, std::string_view node, const uint8_t* msg,
                    uint64_t size) {
  if (!dist_started()) return SNOW_ENONODE;
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return SNOW_EBADNAME;
  NodeEntry* e = entry_get(name, 0, true, false);
  if (!e) return SNOW_ENOMEM;
  if (port) post(Command{CmdType::Connect, std::string(node), std::make_shared<Waiter>(), 0});
  Writer w;
  frame_begin(w);
  w.tuple(4);
  w.integer(wire::kRegSend);
  if (from) write_pid(w, from); else write_null_pid(w);
  w.atom("");
  w.atom(rname);
  w.version();
  w.binary(msg, size_t(size));
  enqueue_frame(e, frame_finish(w, SigKind::Message, 0, 0, 0));
  entry_unpin(e);
  return 0;
}

std::string dist_node_name() { return dist_started() ? D.name : std::string(); }

std::vector<std::string> dist_connected_nodes() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  return std::vector<std::string>(D.connected.begin(), D.connected.end());
}

uint64_t dist_node_entries() { return node_table_counts().entries; }

uint64_t dist_remote_pids() { return node_table_counts().pids; }

uint64_t dist_nodes_connected() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  return D.connected.size();
}

void dist_node_monitor(uint64_t watcher, int64_t id, std::string_view node) {
  std::string name, host;
  int port;
  if (parse_node(node, &name, &host, &port) && !dist_started()) {
    // Not started: the node is down for now (reported at once); a later
    // start that connects to it reports NODEUP.
    {
      std::lock_guard<std::mutex> lk(D.nm_mu);
      D.node_mons[id] = NodeMon{watcher, name, 2};
    }
    deliver_or_die(watcher, signal_message(watcher, 0, SNOW_MSG_NODEDOWN, SNOW_TAG_NODEDOWN, name.data(), name.size()));
    return;
  }
  if (!parse_node(node, &name, &host, &port) || name == D.name) {
    // A node that cannot exist (or ourselves) is never connected.
    std::string n(node);
    if (name == D.name && !n.empty()) {
      std::lock_guard<std::mutex> lk(D.nm_mu);
      D.node_mons[id] = NodeMon{watcher, name, 1};
      return;
    }
    deliver_or_die(watcher, signal_message(watcher, 0, SNOW_MSG_NODEDOWN, SNOW_TAG_NODEDOWN, n.data(), n.size()));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(D.nm_mu);
    D.node_mons[id] = NodeMon{watcher, name, 0};
  }
  post(Command{CmdType::NodeMonitor, name, nullptr, id});
}

void dist_node_demonitor(int64_t id) {
  std::lock_guard<std::mutex> lk(D.nm_mu);
  D.node_mons.erase(id);
}

void dist_monitor_all(uint64_t watcher, bool on) {
  std::lock_guard<std::mutex> lk(D.nm_mu);
  if (on) D.monitor_all.insert(watcher); else D.monitor_all.erase(watcher);
}

void dist_register_function(std::string_view name, void (*fn)(const uint8_t*)) {
  std::lock_guard<std::mutex> lk(D.fn_mu);
  D.functions[std::string(name)] = fn;
}

namespace {

// Queues a SPAWN_REQUEST for the calling process and returns its ref (0 on
// failure). Everything that owns memory lives here, not in the waiting frame.
uint64_t send_spawn_request(Process* self, std::string_view node, std::string_view fname, const uint8_t* args,
                            uint64_t size, bool link) {
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return 0;
  NodeEntry* e = entry_get(name, 0, true, false);
  if (!e) return 0;
  if (port) post(Command{CmdType::Connect, std::string(node), std::make_shared<Waiter>(), 0});
  uint64_t req = new_ref();
  uint64_t me = proc_pid(self);
  proc_expect_reply(self, req);
  Writer w;
  frame_begin(w);
  w.tuple(6);
  w.integer(wire::kSpawnRequest);
  write_our_ref(w, req);
  write_pid(w, me);
  write_pid(w, me);
  w.tuple(3);
  w.atom("snow");
  w.atom(fname);
  w.integer(1);
  if (link) {
    w.list(1);
    w.atom("link");
  }
  w.nil();
  w.version();
  w.list(1);
  w.binary(args, size_t(size));
  w.nil();
  {
    std::lock_guard<std::mutex> lk(e->mu);
    e->spawns[req] = me;
  }
  enqueue_frame(e, frame_finish(w, SigKind::Message, 0, 0, 0));
  entry_unpin(e);
  return req;
}

uint64_t spawn_here(Process* self, std::string_view fname, const uint8_t* args, uint64_t size, bool link) {
  void (*fn)(const uint8_t*) = nullptr;
  {
    std::lock_guard<std::mutex> lk(D.fn_mu);
    auto it = D.functions.find(std::string(fname));
    if (it != D.functions.end()) fn = it->second;
  }
  if (!fn) return 0;
  SpawnRequest r;
  r.fn = fn;
  r.args = args;
  r.size = size;
  r.parent = self;
  r.link = link;
  return proc_spawn(r);
}

}  // namespace

uint64_t dist_spawn(std::string_view node, std::string_view fname, const uint8_t* args, uint64_t size, bool link) {
  Process* self = proc_current();
  if (!self || !dist_started()) return 0;
  bool here;
  if (!node_arg(node, &here)) return 0;
  if (here) return spawn_here(self, fname, args, size, link);
  uint64_t req = send_spawn_request(self, node, fname, args, size, link);
  if (!req) return 0;
  uint8_t b[9];
  if (!proc_wait_reply(self, req, -1, b, 9) || b[0] != 0) return 0;
  return get_u64(b + 1);
}

int64_t dist_encode_pid(uint64_t pid, uint8_t* buf, uint64_t cap) {
  etf::Pid p;
  if (!pid_is_remote(pid)) {
    std::string node = dist_started() ? D.name : std::string("nonode@nohost");
    p = etf::Pid{node, local_pid_id(pid), local_pid_serial(pid), dist_started() ? D.creation : 0};
  } else if (!pid_to_wire(pid, &p)) {
    return SNOW_EINVAL;
  }
  Writer w;
  w.version();
  w.pid(p);
  if (w.buf.size() > cap) return SNOW_EMSGSIZE;
  std::memcpy(buf, w.buf.data(), w.buf.size());
  return int64_t(w.buf.size());
}

uint64_t dist_decode_pid(const uint8_t* etf_bytes, uint64_t len) {
  etf::Pid p;
  if (!etf::read_leading_pid(etf_bytes, size_t(len), &p)) return 0;
  if (!dist_started()) {
    if (p.node != "nonode@nohost") return 0;
    return local_pid_make(p.id, p.serial);
  }
  return pid_from_wire(p, PidUse::Exposed);
}

}  // namespace snow::rt
