// The handshake state machine (the Conn states from AwaitStatus and
// AwaitName to Up; dist_internal.h draws it): which message each state
// accepts, what it answers, and the step to Up once the peer has proved
// the cookie. The messages themselves are encoded and parsed by the pure
// functions of handshake.h. Loop only.
//
// Nothing here keeps state beyond the connection until the peer has proved
// the cookie: the peer table row of its name, made for the
// simultaneous-connect rule, goes when the connection does.
#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/dist/handshake.h"

namespace snow::rt::dist {

// Inside TLS every handshake message has a 4-byte length, as
// inet_tls_dist frames them.
void send_handshake(Conn* c, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> b;
  if (c->tls) put_be16(b, 0);
  put_be16(b, uint16_t(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  write_raw(c, std::move(b));
}

namespace {

void send_status(Conn* c, const char* status) { send_handshake(c, hs::encode_status(status)); }

void send_challenge(Conn* c) {
  c->my_challenge = hs::new_challenge();
  send_handshake(c, hs::encode_challenge(our_flags(), c->my_challenge, D.creation, D.name));
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
  {
    std::lock_guard<std::mutex> gl(c->gate->mu);
    c->gate->header_form = (c->peer_flags & wire::kFlagFragments) != 0;
  }
  if (c->tcp_open && !c->tls) {
    // A TLS connection's gate stays closed: only the loop can seal frames.
    std::lock_guard<std::mutex> gl(c->gate->mu);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd) == 0) {
      c->gate->fd = fd;
      c->gate->open = true;
    }
  }
  return node_up(c);
}

// ------------------------------------------------------------------ connecting side
//
// We sent our name; the peer answers with a status, then its challenge,
// then (after our reply) its ack.

bool on_status(Conn* c, const uint8_t* m, size_t n) {
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

bool on_challenge(Conn* c, const uint8_t* m, size_t n) {
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

bool on_ack(Conn* c, const uint8_t* m, size_t n) {
  uint8_t d[16];
  if (!hs::parse_ack(m, n, d)) return false;
  if (!hs::digest_matches(D.cookie, c->my_challenge, d)) {
    log_refusal("snowrt: node %s answered with the wrong cookie", c->peer.c_str());
    c->fail_code = SNOW_EAUTH;
    return false;
  }
  return go_up(c);
}

// ------------------------------------------------------------------ accepting side
//
// The peer sends its name; we answer with a status and our challenge,
// check its reply and send our ack.

// The peer named itself `c->peer` and may go on: answers it according to
// the connection we already have for that name, if any.
void answer_name(Conn* c) {
  auto it = D.peers.find(c->peer);
  Conn* other = it == D.peers.end() ? nullptr : it->second.conn;
  if (other && other->st == St::Up) {
    // We are connected to that node. Either it restarted and the old
    // connection is dead without our knowing, or this is someone else
    // using its name: the established connection stays until this one
    // proves the cookie (go_up).
    send_status(c, "alive");
    c->st = St::AwaitAliveAnswer;
    return;
  }
  if (other) {
    // Simultaneous connect: the greater name keeps its own attempt.
    if (D.name > c->peer) {
      c->peer.clear();  // not the current connection for that node
      send_status(c, "nok");
      return;
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
}

bool on_name(Conn* c, const uint8_t* m, size_t n) {
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
  c->peer = nm.node;
  answer_name(c);
  return true;
}

bool on_alive_answer(Conn* c, const uint8_t* m, size_t n) {
  std::string answer;
  if (!hs::parse_status(m, n, &answer) || answer != "true") return false;
  c->replacing = true;
  send_challenge(c);
  return true;
}

bool on_reply(Conn* c, const uint8_t* m, size_t n) {
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

}  // namespace

// One handshake message ([u16 length] removed). False when it is malformed
// or refused (the caller closes the connection).
bool handle_handshake(Conn* c, const uint8_t* m, size_t n) {
  if (n == 0) return false;
  switch (c->st) {
    case St::AwaitStatus:
      return c->initiator && on_status(c, m, n);
    case St::AwaitChallenge:
      return c->initiator && on_challenge(c, m, n);
    case St::AwaitAck:
      return c->initiator && on_ack(c, m, n);
    case St::AwaitName:
      return !c->initiator && on_name(c, m, n);
    case St::AwaitAliveAnswer:
      return !c->initiator && on_alive_answer(c, m, n);
    case St::AwaitReply:
      return !c->initiator && on_reply(c, m, n);
    default:
      return false;
  }
}

}  // namespace snow::rt::dist
