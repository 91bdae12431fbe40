// Incoming control messages: one frame of an up connection becomes local
// signals (proc_deliver), record changes in the connection's entry, and
// answers queued back to the peer. Runs on the loop (whoever holds
// loop_mu), between the reads of conn_feed.
//
// Frames are read in place (wire::read_control, etf views): no tree of the
// term is built, so a frame costs time linear in its bytes and memory for
// what it delivers, whatever it nests or claims. Terms a peer gets back
// (its monitor references, spawn request ids, the {Pid, Tag} of a call) are
// echoed verbatim.
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/dist/remsh.h"
#include "runtime/dist/rex.h"
#include "runtime/proc/process.h"
#include "runtime/proc/reason.h"

namespace snow::rt::dist {

namespace {

// Where a pid in a control message points: a live local pid, a pid of an
// earlier incarnation of this node (its processes are all dead), or
// neither (another node: a peer may only address this node's processes).
enum class Target { Local, DeadLocal, Invalid };

Target local_target(etf::View t, uint64_t* pid) {
  etf::Pid p;
  if (!etf::read_pid_of(t, D.name, &p)) return Target::Invalid;
  if (p.creation != D.creation) return Target::DeadLocal;
  *pid = local_pid_make(p.id, p.serial);
  return *pid ? Target::Local : Target::DeadLocal;
}

}  // namespace

// A pid the peer sends as its own (a sender, watcher, parent, or a process
// that died there) must be one of that peer incarnation's processes: a
// peer speaks for itself, and nothing it sends may make this node refer to,
// or contact, a third node. The handle is made (or found) in the
// connection's entry and marked for `use` (node_table.h).
bool peer_pid(Conn* c, etf::View t, PidUse use, uint64_t* out) {
  etf::Pid p;
  if (!etf::read_pid_of(t, c->peer, &p) || p.creation != c->peer_creation) return false;
  *out = handle_get(c->entry, p.id, p.serial, use);
  return *out != 0;
}

// Whether `t` is a pid of the peer, without making a handle for it.
bool is_peer_pid(Conn* c, etf::View t) {
  etf::Pid p;
  return etf::read_pid_of(t, c->peer, &p) && p.creation == c->peer_creation;
}

namespace {

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
  enqueue_frame(e, frame_finish(w));
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
  uint64_t tag = user_message_tag(reinterpret_cast<const uint8_t*>(b.data()), b.size());
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
// is rebuilt, an io request is answered with an error (rex.h), anything
// else is handed over as a TERM untouched. The ABI
// never shows a message's sender, so plain messages carry none (no handle
// is made for every process that sends us something).
void deliver_message(Conn* c, uint64_t to, etf::View sender, const uint8_t* payload, size_t len, etf::View term) {
  std::string_view bin;
  if (etf::read_binary(term, &bin)) {
    uint64_t tag = user_message_tag(reinterpret_cast<const uint8_t*>(bin.data()), bin.size());
    deliver_or_die(to, signal_message(to, 0, SNOW_MSG_USER, tag, bin.data(), bin.size()));
    return;
  }
  if (rex_io_request(c, term)) return;
  if (deliver_service(c, to, sender, term)) return;
  deliver_or_die(to, signal_message(to, 0, SNOW_MSG_TERM, SNOW_TAG_TERM, payload, len));
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

// Each handler below takes one control message of the connection's peer
// and returns false when it is malformed (the connection is then closed).
// A message that is well formed but names no process here is dropped.

// {1, FromPid, ToPid}
bool on_link(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  if (ctl.arity < 3) return true;
  uint64_t from, to = 0;
  if (!peer_pid(c, it[1], PidUse::Internal, &from)) return false;
  Target t = local_target(it[2], &to);
  if (t == Target::DeadLocal) answer_dead_local(c->entry, ctl.op, it[1], it[2], {});
  if (t != Target::Local) return t != Target::Invalid;
  {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    c->entry->links.insert({to, from});
  }
  deliver_or_die(to, signal_control(SigKind::Link, to, from, 0));
  return true;
}

// {2, Unused, ToPid} / {22, FromPid, ToPid}, then the message; the _TT
// forms (12, 23) add a seq_trace token, ignored (we do not trace).
bool on_send(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  if (ctl.arity < 3) return true;
  bool has_sender = ctl.op == wire::kSendSender || ctl.op == wire::kSendSenderTT;
  etf::View sender = has_sender ? it[1] : etf::View{};
  if (sender.size && !is_peer_pid(c, sender)) return false;
  uint64_t to = 0;
  Target t = local_target(it[2], &to);
  if (t != Target::Local) return t != Target::Invalid;
  etf::View msg;
  if (!wire::read_payload(ctl, &msg)) return false;
  deliver_message(c, to, sender, ctl.rest, ctl.rest_size, msg);
  return true;
}

// {6, FromPid, Unused, ToName} / {16, ..., Token}, then the message
bool on_reg_send(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  std::string name;
  if (ctl.arity < 4 || !etf::read_atom(it[3], &name)) return true;
  if (!is_peer_pid(c, it[1])) return false;
  etf::View msg;
  if (!wire::read_payload(ctl, &msg)) return false;
  if (name == "net_kernel") {
    answer_net_kernel(c, msg);
    return true;
  }
  uint64_t target = proc_whereis(name);
  if (target) deliver_message(c, target, it[1], ctl.rest, ctl.rest_size, msg);
  else if (name == "rex") rex_reg_send(c, msg);
  return true;
}

// {3 | 8, FromPid, ToPid, Reason} / {24 | 26, FromPid, ToPid}, then the
// reason; the _TT forms put a seq_trace token (ignored) after ToPid:
// {13 | 18, FromPid, ToPid, Token, Reason} / {25 | 27, FromPid, ToPid, Token}.
bool on_exit(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  int64_t op = ctl.op;
  bool payload = op == wire::kPayloadExit || op == wire::kPayloadExit2 || op == wire::kPayloadExitTT ||
                 op == wire::kPayloadExit2TT;
  bool link = op == wire::kExit || op == wire::kPayloadExit || op == wire::kExitTT || op == wire::kPayloadExitTT;
  size_t reason_index = op == wire::kExitTT || op == wire::kExit2TT ? 4 : 3;
  if (ctl.arity < (payload ? 3u : reason_index + 1)) return true;
  if (!is_peer_pid(c, it[1])) return false;
  uint64_t to = 0;
  if (local_target(it[2], &to) != Target::Local) return true;
  std::vector<uint8_t> reason_bytes;
  bool kill = false;
  if (!read_reason(payload, ctl, reason_index, &reason_bytes, &kill)) return false;
  // A link's exit signal comes from a process that has died; exit/2
  // comes from one that lives on and may be shown to a trapping target.
  uint64_t from;
  if (!peer_pid(c, it[1], link ? PidUse::Dead : PidUse::Exposed, &from)) return true;
  if (link && kill) reason_bytes = exited_with_kill();
  if (link) {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    c->entry->links.erase({to, from});
  }
  Signal* s =
      signal_exit_like(link ? SigKind::LinkExit : SigKind::Exit, to, from, reason_bytes.data(), reason_bytes.size());
  if (s && !link && kill) s->flags = kSigKill;
  deliver_or_die(to, s);
  return true;
}

// {4, FromPid, ToPid} (old protocol)
bool on_unlink(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  if (ctl.arity < 3) return true;
  uint64_t from, to = 0;
  if (!peer_pid(c, it[1], PidUse::Internal, &from)) return false;
  if (local_target(it[2], &to) == Target::Local) deliver_or_die(to, signal_control(SigKind::Unlink, to, from, 0));
  return true;
}

// {35 | 36, Id, FromPid, ToPid}
bool on_unlink_id(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  uint64_t id;
  if (ctl.arity < 4 || !etf::read_u64(it[1], &id)) return true;
  uint64_t from, to = 0;
  if (!peer_pid(c, it[2], PidUse::Internal, &from)) return false;
  if (local_target(it[3], &to) != Target::Local) return true;
  bool ack = ctl.op == wire::kUnlinkIdAck;
  if (ack) {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    c->entry->links.erase({to, from});
  }
  deliver_or_die(to, signal_control(ack ? SigKind::UnlinkAck : SigKind::Unlink, to, from, id));
  return true;
}

// {19, FromPid, ToProc, Ref}: the reference is kept (and echoed in DOWN) as
// the peer's bytes; anything but a reference is ignored.
bool on_monitor(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  if (ctl.arity < 4 || !it[3].is_ref()) return true;
  uint64_t watcher, to = 0;
  if (!peer_pid(c, it[1], PidUse::Internal, &watcher)) return false;
  std::string name;
  if (etf::read_atom(it[2], &name)) {
    to = proc_whereis(name);
  } else {
    Target t = local_target(it[2], &to);
    if (t == Target::DeadLocal) answer_dead_local(c->entry, ctl.op, it[1], it[2], it[3]);
    if (t != Target::Local) return t != Target::Invalid;
  }
  uint64_t ref = new_ref();
  {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    c->entry->peer_monitors[ref] =
        PeerMonitor{std::vector<uint8_t>(it[3].data, it[3].data + it[3].size), watcher, to, name};
    c->entry->peer_monitor_by_term[std::string(it[3].bytes())] = ref;
  }
  if (!to && (name == "net_kernel" || name == "rex")) {
    // Our built-in net_kernel and rex (rex.h) never exit while the
    // connection lives: the monitor stays silent.
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

// {20, FromPid, ToProc, Ref}
bool on_demonitor(Conn* c, const wire::Control& ctl) {
  if (ctl.arity < 4) return true;
  NodeEntry* e = c->entry;
  uint64_t ref = 0, target = 0, watcher = 0;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    auto f = e->peer_monitor_by_term.find(std::string(ctl.item[3].bytes()));
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

// {21, FromProc, ToPid, Ref, Reason} / {28, FromProc, ToPid, Ref}, then the
// reason. FromProc is the dead process (or the name it was monitored by).
bool on_monitor_exit(Conn* c, const wire::Control& ctl) {
  const etf::View* it = ctl.item;
  bool payload = ctl.op == wire::kPayloadMonitorPExit;
  if (ctl.arity < (payload ? 4u : 5u)) return true;
  if (it[1].is_pid() && !is_peer_pid(c, it[1])) return false;
  uint64_t to = 0;
  if (local_target(it[2], &to) != Target::Local) return true;
  uint64_t ref;
  if (!our_ref_from_wire(it[3], &ref)) return true;
  std::vector<uint8_t> reason_bytes;
  bool kill;
  if (!read_reason(payload, ctl, 4, &reason_bytes, &kill)) return false;
  if (kill) reason_bytes = exited_with_kill();
  uint64_t dead = 0;
  {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    auto m = c->entry->monitors.find(ref);
    if (m != c->entry->monitors.end()) {
      dead = m->second.second;
      c->entry->monitors.erase(m);
    }
  }
  if (it[1].is_pid()) peer_pid(c, it[1], PidUse::Dead, &dead);
  else if (dead) handle_mark(dead, PidUse::Dead);
  deliver_or_die(to, signal_down(to, ref, dead, reason_bytes.data(), reason_bytes.size()));
  return true;
}

// {33, FromPid, Alias} / {34, FromPid, Alias, Token}, then the message. No
// process here has an alias (the runtime has no such concept), so nothing
// can be addressed this way: the message is dropped, as erl drops a send
// to an inactive alias, and counted (snow_stats.alias_sends_dropped).
bool on_alias_send(Conn* c, const wire::Control& ctl) {
  if (ctl.arity < 3) return true;
  if (!is_peer_pid(c, ctl.item[1])) return false;
  etf::View msg;
  if (!wire::read_payload(ctl, &msg)) return false;
  D.alias_sends_dropped.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

// One frame from an up connection. False when it is malformed (the
// connection is closed): not a control message, or a pid the peer sends as
// its own that is not one of its processes (as OTP, which drops a
// connection over an invalid distribution message).
bool handle_frame(Conn* c, const uint8_t* m, size_t n) {
  if (n == 0) return true;  // tick
  wire::Control ctl;
  if (!wire::read_control(m, n, &ctl)) return false;
  return handle_control(c, ctl, n);
}

bool handle_control(Conn* c, const wire::Control& ctl, size_t n) {
  if (g_trace)
    log_at(LogLevel::Debug, "snowrt dist: <- %s op %lld (%zu bytes)", c->peer.c_str(), static_cast<long long>(ctl.op),
           n);
  switch (ctl.op) {
    case wire::kLink:
      return on_link(c, ctl);
    case wire::kSend:
    case wire::kSendSender:
    case wire::kSendTT:
    case wire::kSendSenderTT:
      return on_send(c, ctl);
    case wire::kRegSend:
    case wire::kRegSendTT:
      return on_reg_send(c, ctl);
    case wire::kExit:
    case wire::kExit2:
    case wire::kPayloadExit:
    case wire::kPayloadExit2:
    case wire::kExitTT:
    case wire::kExit2TT:
    case wire::kPayloadExitTT:
    case wire::kPayloadExit2TT:
      return on_exit(c, ctl);
    case wire::kUnlink:
      return on_unlink(c, ctl);
    case wire::kUnlinkIdOp:
    case wire::kUnlinkIdAck:
      return on_unlink_id(c, ctl);
    case wire::kMonitorP:
      return on_monitor(c, ctl);
    case wire::kDemonitorP:
      return on_demonitor(c, ctl);
    case wire::kMonitorPExit:
    case wire::kPayloadMonitorPExit:
      return on_monitor_exit(c, ctl);
    case wire::kSpawnRequest:
    case wire::kSpawnRequestTT: {  // the token is an element past the ones read
      bool ok;
      if (rex_spawn_request(c, ctl, &ok)) return ok;  // erpc's calls and casts
      return handle_spawn_request(c, ctl);
    }
    case wire::kSpawnReply:
    case wire::kSpawnReplyTT:
      handle_spawn_reply(c, ctl);
      return true;
    case wire::kAliasSend:
    case wire::kAliasSendTT:
      return on_alias_send(c, ctl);
    case wire::kGroupLeader:
      remsh_group_leader(c, ctl);  // a console's, else ignored (remsh.h)
      return true;
    default:
      return true;  // a control message we do not implement: ignored
  }
}

}  // namespace snow::rt::dist
