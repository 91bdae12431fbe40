// The port mapper client, loop only: the lookup of a peer's port before an
// outgoing connection (PORT_PLEASE2_REQ on the peer's host), and this
// node's registration (ALIVE2_REQ on a connection kept open for the node's
// life, with a port mapper started if the host has none at start, and
// renewed whenever the port mapper loses it). The requests and replies are
// the pure functions of epmd.h. The port mapper listens on D.epmd_port on
// every host (ERL_EPMD_PORT, as erl reads it; default 4369).
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/dist/epmd.h"
#include "runtime/dist/handshake.h"

extern char** environ;

namespace snow::rt::dist {

namespace {

// ------------------------------------------------------------------ looking a peer up

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

}  // namespace

// Asks the port mapper on the peer's host for its port, or connects at
// once when the name carried one (name@host:port).
void lookup_and_connect(Conn* c) {
  if (c->port) {
    connect_port(c);
    return;
  }
  sockaddr_in addr = c->addr;
  addr.sin_port = htons(D.epmd_port);
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

// ------------------------------------------------------------------ registering this node
//
// States (loop only): at start, Connecting (up to kStartAttempts tries 100
// ms apart, starting `epmd -daemon` after the first failure) --ALIVE2 ok-->
// Registered; no port mapper after those tries: the node starts anyway
// (reachable by explicit port) and goes on as after a loss. Registered
// --the registration connection closes (the port mapper stopped or
// restarted)--> Retrying: a new ALIVE2_REQ after a backoff of 100 ms
// doubling to 10 s, each delay jittered by +-25 % so that the nodes of a
// host do not all hit a restarted port mapper at once, until one is
// accepted. A re-registration keeps this node's listening port and its
// creation (its pids stay valid; erl does the same); the creation the
// port mapper offers then is ignored.

namespace {

constexpr int kStartAttempts = 30;
constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 10000;

void schedule_reregistration();

void on_epmd_retry(uv_timer_t*) {
  if (!D.stopping) epmd_register();
}

void close_registration() {
  if (!D.epmd_reg_open) return;
  D.epmd_reg_open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&D.epmd_reg), nullptr);
}

// Registered: the port mapper holds our name (again).
void registered(uint32_t creation) {
  if (D.start_waiter) {
    D.creation = creation;
    finish_start(0);
  } else {
    log_at(LogLevel::Info, "snowrt: registered %s (port %d) with the port mapper again after %d attempt%s",
           D.name.c_str(), D.listen_port, D.epmd_attempts, D.epmd_attempts == 1 ? "" : "s");
  }
  D.epmd_registered = true;
  D.epmd_attempts = 0;
  D.epmd_backoff_ms = kFirstBackoffMs;
}

// A registration attempt after start failed (or a held one was lost):
// closes the connection and tries again later.
void reregistration_failed(const char* why) {
  close_registration();
  if (D.epmd_attempts == 1 || D.epmd_attempts % 10 == 0)
    log_at(LogLevel::Warning, "snowrt: cannot register %s with the port mapper (%s; attempt %d), retrying",
           D.name.c_str(), why, D.epmd_attempts);
  schedule_reregistration();
}

// A registration attempt failed: during snow_node_start the start fails
// with `start_code`; afterwards the node tries again later (`why` is logged).
void registration_attempt_failed(int64_t start_code, const char* why) {
  if (D.start_waiter) finish_start(start_code);
  else reregistration_failed(why);
}

void schedule_reregistration() {
  int base = D.epmd_backoff_ms;
  D.epmd_backoff_ms = std::min(base * 2, kMaxBackoffMs);
  int spread = base / 2;  // delay in [0.75, 1.25) x base
  int delay = base - spread / 2 + int(hs::new_challenge() % uint32_t(spread ? spread : 1));
  uv_timer_start(&D.epmd_retry, on_epmd_retry, uint64_t(delay), 0);
}

void epmd_reg_read(uv_stream_t*, ssize_t nread, const uv_buf_t* buf) {
  if (D.stopping) return;
  if (D.epmd_registered) {
    // The port mapper says nothing after its reply: anything but more
    // bytes means it closed the registration.
    if (nread >= 0) return;
    D.epmd_registered = false;
    log_at(LogLevel::Warning, "snowrt: the port mapper closed the registration of %s; registering again",
           D.name.c_str());
    close_registration();
    schedule_reregistration();
    return;
  }
  if (nread > 0 && D.epmd_buf.size() < 16)
    D.epmd_buf.insert(D.epmd_buf.end(), buf->base, buf->base + std::min<ssize_t>(nread, 16));
  uint32_t creation = 0;
  switch (epmd::parse_alive2_resp(D.epmd_buf.data(), D.epmd_buf.size(), &creation)) {
    case epmd::Reply::NeedMore:
      if (nread >= 0) return;
      registration_attempt_failed(SNOW_EEPMD, "closed before its reply");
      return;
    case epmd::Reply::Ok:
      registered(creation);
      return;
    case epmd::Reply::Refused:
      registration_attempt_failed(SNOW_EEXIST, "the name is registered by another node");
      return;
    case epmd::Reply::Malformed:
      log_at(LogLevel::Warning, "snowrt: unexpected reply from the port mapper");
      registration_attempt_failed(SNOW_EEPMD, "unexpected reply");
      return;
  }
}

// At start: no port mapper yet. Starts one (once, as erl does) and tries
// again 100 ms later, kStartAttempts times; then the node starts without
// one and keeps trying in the background.
void start_attempt_failed() {
  if (!D.epmd_spawned) {
    D.epmd_spawned = true;
    pid_t child;
    char arg0[] = "epmd", arg1[] = "-daemon";
    char* argv[] = {arg0, arg1, nullptr};
    if (posix_spawnp(&child, "epmd", nullptr, nullptr, argv, environ) == 0) {
      int st;
      waitpid(child, &st, 0);
    } else {
      log_at(LogLevel::Warning, "snowrt: no port mapper running and epmd cannot be started");
    }
  }
  if (D.epmd_attempts < kStartAttempts) {
    uv_timer_start(&D.epmd_retry, on_epmd_retry, 100, 0);
    return;
  }
  // Work without a port mapper: peers must use name@host:port until a
  // port mapper appears and the background registration succeeds.
  log_at(LogLevel::Warning, "snowrt: no port mapper: node %s reachable only as %s:%d until one starts", D.name.c_str(),
         D.name.c_str(), D.listen_port);
  D.creation = hs::new_challenge() | 1;
  finish_start(0);
  D.epmd_attempts = 0;
  schedule_reregistration();
}

void epmd_reg_connected(uv_connect_t* req, int status) {
  delete req;
  if (D.stopping) return;
  if (status != 0) {
    close_registration();
    if (D.start_waiter) start_attempt_failed();
    else reregistration_failed(uv_strerror(status));
    return;
  }
  D.epmd_buf.clear();
  auto* wr = new WriteReq();
  wr->owned = epmd::encode_alive2_req(uint16_t(D.listen_port), std::string_view(D.name).substr(0, D.name.find('@')));
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&D.epmd_reg), wr->bufs.data(), 1, on_epmd_written);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&D.epmd_reg), on_alloc, epmd_reg_read);
}

}  // namespace

void epmd_register() {
  ++D.epmd_attempts;
  uv_tcp_init(&D.loop, &D.epmd_reg);
  D.epmd_reg_open = true;
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", D.epmd_port, &addr);
  auto* req = new uv_connect_t();
  int rc = uv_tcp_connect(req, &D.epmd_reg, reinterpret_cast<const sockaddr*>(&addr), epmd_reg_connected);
  if (rc == 0) return;
  delete req;
  close_registration();
  registration_attempt_failed(SNOW_EEPMD, uv_strerror(rc));
}

}  // namespace snow::rt::dist
