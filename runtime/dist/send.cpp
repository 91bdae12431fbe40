// Signals for remote pids encoded as control messages (the send side of
// the protocol): dist_deliver, called by proc_deliver on the sending
// thread, builds the whole frame there, notes the link or monitor record
// it changes, and queues it on the target entry's outbox (outbox.cpp).
// Any thread; entry locks only.
#include <cstdio>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"
#include "runtime/proc/reason.h"

namespace snow::rt::dist {

namespace {

// Message payload: a user message is a binary of its bytes; a TERM message
// is its own term; service calls and replies are tagged tuples so a
// libsnowrt peer can rebuild them.
void write_payload(FrameWriter& w, const Signal* s) {
  w.payload();
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
    if (n && t[0] == etf::kVersion) {  // no version byte in header form
      ++t;
      --n;
    }
    w.raw(t, n);
  } else {
    w.binary(s->msg.data, size_t(s->msg.len));
  }
}

void write_target(Writer& w, const RemoteIdentity& to) { w.pid(to.node, to.id, to.serial, to.creation); }

// The target of the signal being encoded. Per thread, so that the buffer
// of its node name is reused instead of allocated for every signal; read
// only before the frame is queued (which may deliver local answers).
SNOW_TLS RemoteIdentity t_target;

void count_unreachable(Signal* s, const uint8_t* reason) {
  proc_answer_undeliverable(s->kind, s->from, s->target, s->ref, reason);
  signal_free(s);
}

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

// {2, '', To} or {22, From, To}, then the payload.
void encode_send(FrameWriter& w, const Signal* s, const RemoteIdentity& to) {
  w.tuple(3);
  if (s->from) {
    w.integer(wire::kSendSender);
    write_pid(w, s->from);
  } else {
    w.integer(wire::kSend);
    w.atom("");
  }
  write_target(w, to);
  write_payload(w, s);
}

// {1, From, To}
void encode_link(Writer& w, const Signal* s, const RemoteIdentity& to) {
  w.tuple(3);
  w.integer(wire::kLink);
  write_pid(w, s->from);
  write_target(w, to);
}

// {35 | 36, Id, From, To}
void encode_unlink(Writer& w, const Signal* s, const RemoteIdentity& to) {
  w.tuple(4);
  w.integer(s->kind == SigKind::Unlink ? wire::kUnlinkIdOp : wire::kUnlinkIdAck);
  w.unsigned_integer(s->ref);
  write_pid(w, s->from);
  write_target(w, to);
}

// {24 | 26, From, To}, then the reason.
void encode_exit(FrameWriter& w, const Signal* s, const RemoteIdentity& to) {
  w.tuple(3);
  w.integer(s->kind == SigKind::LinkExit ? wire::kPayloadExit : wire::kPayloadExit2);
  if (s->from) write_pid(w, s->from);
  else write_null_pid(w);
  write_target(w, to);
  w.payload();
  if (s->flags & kSigShutdown) {
    w.atom("shutdown");
  } else {
    std::vector<uint8_t> tmp;
    auto [r, rl] = reason_that_fits(s->msg.data + 8, s->msg.len - 8, tmp);
    wire::reason_to_term(w, r, rl, (s->flags & kSigKill) != 0);
  }
}

// {19 | 20, From, To, Ref}
void encode_monitor(Writer& w, const Signal* s, const RemoteIdentity& to) {
  w.tuple(4);
  w.integer(s->kind == SigKind::Monitor ? wire::kMonitorP : wire::kDemonitorP);
  write_pid(w, s->from);
  write_target(w, to);
  write_our_ref(w, s->ref);
}

// {28, FromProc, To, Ref}, then the reason: the DOWN for a monitor a
// peer's process holds, which ends its record. false when the entry holds
// no such monitor (demonitored, its connection lost, or the row recycled).
bool encode_down(FrameWriter& w, const Signal* s, const RemoteIdentity& to, NodeEntry* e, uint32_t generation) {
  PeerMonitor pm;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    auto it = e->generation == generation ? e->peer_monitors.find(s->ref) : e->peer_monitors.end();
    if (it == e->peer_monitors.end()) return false;
    pm = std::move(it->second);
    e->peer_monitor_by_term.erase(std::string(pm.ref_term.begin(), pm.ref_term.end()));
    e->peer_monitors.erase(it);
  }
  w.tuple(4);
  w.integer(wire::kPayloadMonitorPExit);
  if (!pm.name.empty()) w.atom(pm.name);
  else write_pid(w, s->from);
  write_target(w, to);
  w.raw(pm.ref_term.data(), pm.ref_term.size());
  w.payload();
  std::vector<uint8_t> tmp;
  auto [r, rl] = reason_that_fits(s->msg.data + 16, s->msg.len - 16, tmp);
  wire::reason_to_term(w, r, rl, false);
  return true;
}

}  // namespace

// {6, From, '', Name}, then the message as a binary (`term`: msg is a
// term, sent as it is, without its version byte if it has one).
void send_reg_send(NodeEntry* e, uint64_t from, std::string_view name, const uint8_t* msg, uint64_t size, bool term) {
  FrameWriter w;
  w.tuple(4);
  w.integer(wire::kRegSend);
  if (from) write_pid(w, from);
  else write_null_pid(w);
  w.atom("");
  w.atom(name);
  w.payload();
  if (term) {
    if (size > 0 && msg[0] == etf::kVersion) w.raw(msg + 1, size_t(size - 1));
    else w.raw(msg, size_t(size));
  } else {
    w.binary(msg, size_t(size));
  }
  enqueue_frame(e, w.finish());
}

}  // namespace snow::rt::dist

namespace snow::rt {

using namespace dist;

void dist_deliver(uint64_t pid, Signal* s) {
  if (!D.started.load(std::memory_order_acquire)) {
    count_unreachable(s, kNoconnection);
    return;
  }
  RemoteIdentity& target = t_target;
  if (!handle_read(pid, &target) || target.dead_incarnation) {
    // An unknown handle names no live process (see node_table.h).
    count_unreachable(s, kNoproc);
    return;
  }
  NodeEntry* e = target.entry;
  const RemoteIdentity& to = target;
  FrameWriter w;
  RecordChange rc;
  bool send = true;
  switch (s->kind) {
    case SigKind::Message:
    case SigKind::ServiceReply:
      encode_send(w, s, to);
      break;
    case SigKind::Link:
      encode_link(w, s, to);
      rc = {RecordChange::LinkAdd, s->from, pid, 0};
      break;
    case SigKind::Unlink:
    case SigKind::UnlinkAck:
      send = s->ref != 0;  // an old-protocol unlink from the peer: nothing to acknowledge
      if (send) encode_unlink(w, s, to);
      if (s->kind == SigKind::UnlinkAck) rc = {RecordChange::LinkErase, s->from, pid, 0};
      break;
    case SigKind::LinkExit:
    case SigKind::Exit:
      encode_exit(w, s, to);
      if (s->kind == SigKind::LinkExit) rc = {RecordChange::LinkErase, s->from, pid, 0};
      break;
    case SigKind::Monitor:
    case SigKind::Demonitor:
      encode_monitor(w, s, to);
      rc = {s->kind == SigKind::Monitor ? RecordChange::MonitorAdd : RecordChange::MonitorErase, s->from, pid, s->ref};
      break;
    case SigKind::Down:
      send = encode_down(w, s, to, e, target.generation);
      break;
    case SigKind::Timeout:
    case SigKind::JobResult:         // jobs are local: never addressed to a remote pid
    case SigKind::RelationsRequest:  // asked only of local processes (proc_relations)
      send = false;
      break;
  }
  if (!send) {
    signal_free(s);
    return;
  }
  Frame* f = w.finish(s->kind, s->from, pid, s->ref);
  if (g_trace)
    log_at(LogLevel::Debug, "snowrt dist: -> %s signal kind %d (%zu bytes)", to.node.c_str(), int(s->kind),
           f->bytes.size());
  signal_free(s);
  uint32_t generation = target.generation;
  enqueue_frame(e, f, generation, rc);
}

}  // namespace snow::rt
