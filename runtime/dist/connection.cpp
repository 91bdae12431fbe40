// Connection life, loop only: an outgoing connection from name resolution
// to the TCP connect (the port mapper lookup in between is in
// epmd_client.cpp), an incoming one from accept, the framing of what a
// peer sends (handshake messages, then frames), closing, node up and node
// loss, ticks, and the sweeps of the node table. The handshake itself is
// in handshake_fsm.cpp, the frames' contents in control.cpp.
#include <netdb.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/dist/handshake.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

namespace {

constexpr size_t kMaxHandshakeFrame = 4096;
// Incoming connections that have not proved the cookie yet, at most.
constexpr int kMaxUnauthenticated = 128;

constexpr int kRefusalLines = 10;
constexpr int64_t kRefusalWindowNs = int64_t(10) * 1000 * 1000 * 1000;

}  // namespace

// A log line about something any host that reaches our port can cause
// (handshakes that fail, refused names): at most kRefusalLines every ten
// seconds, then one line counting what was left out. Loop only.
void log_refusal(const char* fmt, ...) {
  int64_t now = now_ns();
  if (now - D.refusal_window_start >= kRefusalWindowNs) {
    if (D.refusals_unlogged > 0)
      log_at(LogLevel::Warning, "snowrt: %llu more refused or failed connection attempts were not logged",
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
  log_at(LogLevel::Warning, "%s", line);
}

// ------------------------------------------------------------------ node up and node loss

void publish_connected() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  D.connected.clear();
  for (auto& [name, ps] : D.peers)
    if (ps.up) D.connected.insert(name);
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
      e->outbox_bytes = 0;
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
      proc_answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoconnection);
      delete f;
    }
    busy_wake_if_drained(e);
    for (auto& [local, remote] : links)
      deliver_or_die(local, signal_exit_like(SigKind::LinkExit, local, remote, kNoconnection, 1));
    for (auto& [ref, lr] : monitors) deliver_or_die(lr.first, signal_down(lr.first, ref, lr.second, kNoconnection, 1));
    for (auto& [ref, pm] : peer_monitors)
      deliver_or_die(pm.target, signal_control(SigKind::Demonitor, pm.target, pm.watcher, ref));
    for (auto& [req, requester] : spawns) {
      SpawnReply r;  // failed: the connection is gone
      proc_reply(requester, req, &r, sizeof r);
    }
  }
}

namespace {

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
  if (was_up) fail_node(c->peer, &c->peer_creation);
  else fail_node(c->peer, nullptr);
  if (was_up) {
    notify_node(c->peer, false);
  } else {
    for (auto& w : ps.waiters) complete(w, c->fail_code, 0);
    ps.waiters.clear();
    notify_node(c->peer, false);
  }
}

}  // namespace

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

// ------------------------------------------------------------------ closing

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
    log_at(LogLevel::Info, "snowrt: connection to %s closed: %s", c->peer.c_str(), why);
  } else if (why && !c->yielded && !D.stopping) {
    // Failed attempts from others are rate limited: anyone who can reach
    // the port can make them.
    if (c->initiator) log_at(LogLevel::Warning, "snowrt: connection attempt to %s failed: %s", c->peer.c_str(), why);
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
  fragments_conn_closed(c);
  // A resolution still queued is dropped; one already running finishes
  // and its callback releases the connection.
  if (c->resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&c->resolve_req));
  if (c->tcp_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_handle_closed);
  if (c->epmd_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->epmd), on_handle_closed);
  if (c->timer_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_handle_closed);
  c->tcp_open = c->epmd_open = c->timer_open = false;
}

// ------------------------------------------------------------------ sweeps

namespace {

// Sweeps an entry's handles when it has grown enough since its last sweep
// (amortised O(1) per handle). Between frames only (see node_table.h).
void sweep_entry_if_due(NodeEntry* e) {
  if (!e) return;
  std::lock_guard<std::mutex> lk(e->mu);
  if (handles_sweep_due_locked(e)) handles_sweep_locked(e);
}

}  // namespace

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
    if (peer_row_empty(it->second)) it = D.peers.erase(it);
    else ++it;
  }
}

// ------------------------------------------------------------------ framing

namespace {

// Reads land in one buffer owned by whoever runs the loop (under loop_mu),
// then are appended to the connection's buffer.
char g_read_chunk[64 * 1024];

}  // namespace

void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  *buf = uv_buf_init(g_read_chunk, sizeof g_read_chunk);
}

// Processes what a connection's peer sent: handshake messages ([u16
// length][body]; [u32 length] inside TLS, as inet_tls_dist frames them)
// until the connection is up, then frames ([u32 length][body], 0 = tick).
// The input stays bounded: a handshake message may not exceed
// kMaxHandshakeFrame; a frame over the per-message limit (D.max_message) is
// refused alone and its bytes are skipped as they arrive; other bytes are
// kept only until their frame is complete.
void conn_feed(Conn* c, const uint8_t* bytes, size_t n) {
  if (c->st == St::Dead) return;
  c->last_recv = now_ns();
  D.last_traffic_ns.store(c->last_recv, std::memory_order_relaxed);
  size_t skip = size_t(std::min<uint64_t>(c->skip_bytes, n));
  c->skip_bytes -= skip;
  c->rbuf.insert(c->rbuf.end(), bytes + skip, bytes + n);
  for (;;) {
    if (c->st == St::Dead) return;
    size_t avail = c->rbuf.size() - c->rstart;
    uint8_t* p = c->rbuf.data() + c->rstart;
    bool up = c->st == St::Up;
    size_t hdr = up || c->tls ? 4 : 2;
    if (avail < hdr) break;
    size_t len = hdr == 4 ? get_be32(p) : get_be16(p);
    if (!up && len > kMaxHandshakeFrame) {
      // A TLS record (0x16 0x03: a handshake) where a plain handshake
      // message was due: the peer runs TLS distribution and we do not.
      bool tls_peer = !c->tls && p[0] == 0x16 && p[1] == 0x03;
      close_conn(c, tls_peer ? "the peer speaks TLS (this node runs plain TCP distribution)" : "frame too large");
      return;
    }
    if (up && len > D.max_message) {
      refuse_whole_frame(c, len);
      size_t have = std::min(avail, hdr + len);
      c->rstart += have;
      c->skip_bytes = hdr + len - have;
      continue;
    }
    if (avail < hdr + len) break;
    c->rstart += hdr + len;
    const char* why = nullptr;
    if (up) why = receive_frame(c, p + hdr, len);
    else if (!handle_handshake(c, p + hdr, len)) why = "handshake failed";
    if (why) {
      close_conn(c, why);
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

namespace {

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = static_cast<Conn*>(s->data);
  if (nread < 0) {
    close_conn(c, nread == UV_EOF ? "closed by peer" : uv_strerror(int(nread)));
    return;
  }
  if (nread <= 0) return;
  auto* bytes = reinterpret_cast<const uint8_t*>(buf->base);
  if (c->tls) tls_on_read(c, bytes, size_t(nread));
  else conn_feed(c, bytes, size_t(nread));
}
}  // namespace

// ------------------------------------------------------------------ connecting and accepting

namespace {

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
  if (tls_on() && !tls_begin(c)) {
    close_conn(c, "TLS session failed");
    return;
  }
  if (c->st == St::Dead) return;
  send_handshake(c, hs::encode_name(our_flags(), D.creation, D.name));
}

}  // namespace

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

namespace {

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

}  // namespace

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
  if (tls_on() && !tls_begin(c)) {
    close_conn(c, "TLS session failed");
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
}

// ------------------------------------------------------------------ ticks

namespace {

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

}  // namespace

void arm_ticks() {
  uint64_t interval = D.ticktime_ms.load() / 4;
  if (interval == 0) interval = 1;
  uv_timer_start(&D.tick_timer, on_tick, interval, interval);
}

// ------------------------------------------------------------------ test seam

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
    // Sized first: GCC 12 at -O3 reports a false -Warray-bounds for
    // push_back followed by insert.
    std::vector<uint8_t> b(2 + body.size());
    b[0] = uint8_t(body.size() >> 8);
    b[1] = uint8_t(body.size());
    if (!body.empty()) std::memcpy(b.data() + 2, body.data(), body.size());
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

}  // namespace snow::rt::dist
