// The port mapper client, loop only: the lookup of a peer's port before an
// outgoing connection (PORT_PLEASE2_REQ on the peer's host), and this
// node's registration at start (ALIVE2_REQ on a connection kept open for
// the node's life, with a port mapper started if the host has none). The
// requests and replies are the pure functions of epmd.h.
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
  addr.sin_port = htons(epmd::port());
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

namespace {

void on_epmd_retry(uv_timer_t*) { epmd_register(); }

void epmd_reg_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  if (D.start_waiter && nread > 0 && D.epmd_buf.size() < 16)
    D.epmd_buf.insert(D.epmd_buf.end(), buf->base, buf->base + std::min<ssize_t>(nread, 16));
  if (D.start_waiter) {
    uint32_t creation = 0;
    switch (epmd::parse_alive2_resp(D.epmd_buf.data(), D.epmd_buf.size(), &creation)) {
      case epmd::Reply::NeedMore:
        if (nread >= 0) return;
        finish_start(SNOW_EEPMD);  // closed before answering
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
        finish_start(SNOW_EEPMD);
        return;
    }
  }
  if (nread < 0 && !D.stopping) log_at(LogLevel::Warning, "snowrt: the port mapper closed our registration");
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
        log_at(LogLevel::Warning, "snowrt: no port mapper running and epmd cannot be started");
      }
    }
    if (++D.epmd_attempts < 30) {
      uv_timer_start(&D.epmd_retry, on_epmd_retry, 100, 0);
      return;
    }
    // Work without a port mapper: peers must use name@host:port.
    log_at(LogLevel::Warning, "snowrt: no port mapper: node %s reachable only as %s:%d", D.name.c_str(), D.name.c_str(),
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

}  // namespace

void epmd_register() {
  uv_tcp_init(&D.loop, &D.epmd_reg);
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", epmd::port(), &addr);
  auto* req = new uv_connect_t();
  if (uv_tcp_connect(req, &D.epmd_reg, reinterpret_cast<const sockaddr*>(&addr), epmd_reg_connected) != 0) {
    delete req;
    finish_start(SNOW_EEPMD);
  }
}

}  // namespace snow::rt::dist
