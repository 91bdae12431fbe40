// Remote spawn, both directions, and the registry of functions a peer may
// spawn by name (dist_register_function). Incoming SPAWN_REQUEST and
// SPAWN_REPLY run on the loop; send_spawn_request and spawn_here run on
// the requesting process. The registry is guarded by fn_mu (a leaf).
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

void register_function(std::string_view name, SpawnFn fn) {
  std::lock_guard<std::mutex> lk(D.fn_mu);
  D.functions[std::string(name)] = fn;
}

SpawnFn registered_function(std::string_view name) {
  std::lock_guard<std::mutex> lk(D.fn_mu);
  auto it = D.functions.find(std::string(name));
  return it == D.functions.end() ? nullptr : it->second;
}

namespace {

// A spawn request being answered; req and parent are the peer's own bytes.
struct SpawnCtx {
  NodeEntry* e;
  etf::View req;
  etf::View parent;
  uint64_t flags;
};

void spawn_reply_frame(uint64_t pid, void* ctx) {
  auto* sc = static_cast<SpawnCtx*>(ctx);
  FrameWriter w;
  w.tuple(5);
  w.integer(wire::kSpawnReply);
  w.verbatim(sc->req);
  w.verbatim(sc->parent);
  w.integer(int64_t(sc->flags));
  write_pid(w, pid);
  enqueue_frame(sc->e, w.finish());
}

void spawn_error_reply(NodeEntry* e, etf::View req, etf::View parent, const char* why) {
  FrameWriter w;
  w.tuple(5);
  w.integer(wire::kSpawnReply);
  w.verbatim(req);
  w.verbatim(parent);
  w.integer(0);
  w.atom(why);
  enqueue_frame(e, w.finish());
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

// The function name of a request's {Module, Function, Arity}.
bool spawn_function_name(etf::View mfa_term, std::string* fname) {
  etf::Elements mfa(mfa_term);
  etf::View module, function;
  return mfa.ok() && !mfa.is_list() && mfa.count() == 3 && mfa.next(&module) && mfa.next(&function) &&
         etf::read_atom(function, fname);
}

// The options of a request that we implement (link, monitor); others are
// ignored.
void spawn_options(etf::View list, bool* link, bool* monitor) {
  etf::Elements opts(list);
  etf::View o;
  while (opts.is_list() && opts.next(&o)) {
    if (etf::atom_is(o, "link")) *link = true;
    if (etf::atom_is(o, "monitor")) *monitor = true;
  }
}

}  // namespace

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
  std::string fname;
  if (!spawn_function_name(ctl.item[4], &fname)) {
    spawn_error_reply(e, req, parent_term, "badarg");
    return true;
  }
  SpawnFn fn = registered_function(fname);
  if (!fn) {
    spawn_error_reply(e, req, parent_term, "notsup");
    return true;
  }
  bool link = false, monitor = false;
  spawn_options(ctl.item[5], &link, &monitor);
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
  SpawnReply r;
  uint64_t flags = 0;
  etf::read_u64(ctl.item[3], &flags);
  uint64_t child = 0;
  if (peer_pid(c, ctl.item[4], PidUse::Exposed, &child)) {
    NodeEntry* ce = entry_at(child >> 48);
    if (flags & 1) {
      // The link exists on the child's side already: make it exist here
      // before anything from the child can arrive.
      deliver_or_die(requester, signal_control(SigKind::Link, requester, child, 0));
      if (ce) {
        std::lock_guard<std::mutex> lk(ce->mu);
        ce->links.insert({requester, child});
      }
    }
    if ((flags & 2) && ce) {
      // So does the monitor (its ref is the request's): recorded for the
      // noconnection DOWN if the node is lost. The requester recorded its
      // side before it sent the request.
      std::lock_guard<std::mutex> lk(ce->mu);
      ce->monitors[req] = {requester, child};
    }
    r.ok = true;
    r.child = child;
  }
  proc_reply(requester, req, &r, sizeof r);
}

// Queues a SPAWN_REQUEST for the calling process and returns its ref (0 on
// failure). Everything that owns memory lives here, not in the waiting frame.
uint64_t send_spawn_request(Process* self, std::string_view node, std::string_view fname, const uint8_t* args,
                            uint64_t size, bool link, bool monitor) {
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return 0;
  NodeEntry* e = entry_get(name, 0, true, false);
  if (!e) return 0;
  if (port) post(Command{CmdType::Connect, std::string(node), std::make_shared<Waiter>(), 0});
  uint64_t req = new_ref();
  uint64_t me = proc_pid(self);
  proc_expect_reply(self, req);
  FrameWriter w;
  w.tuple(6);
  w.integer(wire::kSpawnRequest);
  write_our_ref(w, req);
  write_pid(w, me);
  write_pid(w, me);
  w.tuple(3);
  w.atom("snow");
  w.atom(fname);
  w.integer(1);
  if (link || monitor) w.list(uint32_t(link) + uint32_t(monitor));
  if (link) w.atom("link");
  if (monitor) w.atom("monitor");
  w.nil();
  w.payload();
  w.list(1);
  w.binary(args, size_t(size));
  w.nil();
  {
    std::lock_guard<std::mutex> lk(e->mu);
    e->spawns[req] = me;
  }
  enqueue_frame(e, w.finish());
  entry_unpin(e);
  return req;
}

uint64_t spawn_here(Process* self, std::string_view fname, const uint8_t* args, uint64_t size, bool link, bool monitor,
                    uint64_t* monitor_ref) {
  SpawnFn fn = registered_function(fname);
  if (!fn) return 0;
  SpawnRequest r;
  r.fn = fn;
  r.args = args;
  r.size = size;
  r.parent = self;
  r.link = link;
  r.monitor = monitor;
  r.monitor_ref_out = monitor_ref;
  return proc_spawn(r);
}

}  // namespace snow::rt::dist
