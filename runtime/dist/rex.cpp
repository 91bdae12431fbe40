// rex requests: reading them on the loop, computing their answers on the
// thread pool, and the frames that carry the answers back (rex.h has the
// vocabulary and the threads). Also the other requests Erlang tools send to
// a node's system processes: net_kernel's calls and io requests.
//
// What goes back, by the way the request came:
// - erpc execute_call/4 (SPAWN_REQUEST, Res the call's reference): a
//   SPAWN_REPLY with a pid that names no live process (serial 0: a later
//   link or monitor on it gets noproc), then, when the request asked for a
//   monitor, the DOWN of that "process" with reason {Res, return, Value} or
//   {Res, error, Error, [{M, F, Args, []}]} (and an exit signal with the
//   same reason when it asked for a link): what erpc reads as the result.
// - erpc execute_cast/3: the SPAWN_REPLY, and exit reason normal (an error
//   is logged here as a warning, where OTP would log an error report).
// - gen_server call to rex: {Tag, Reply} to the caller's pid, Reply the
//   value or {badrpc, {'EXIT', {Error, [{M, F, Args, []}]}}}.
// - {Pid, {call, ...}} to rex (C nodes): {rex, Reply} to Pid.
#include <cstring>
#include <functional>
#include <memory>

#include "runtime/common/common.h"
#include "runtime/dist/remsh.h"
#include "runtime/dist/rex.h"

namespace snow::rt::dist {

namespace {

enum class Answer : uint8_t { ErpcCall, ErpcCast, GenCall, CNodeCall, Cast };

struct Job {
  uv_work_t work;
  NodeEntry* e = nullptr;
  uint32_t generation = 0;
  Answer answer = Answer::Cast;
  RexCall call;
  // Verbatim terms of the request: who gets the answer, the call's tag (a
  // gen_server tag, or erpc's result reference), the spawn request id.
  std::vector<uint8_t> to, tag, req;
  std::vector<uint8_t> group_leader;  // the spawn request's (erl -remsh's group: remsh.h)
  bool link = false, monitor = false;
  uint32_t child_id = 0;
  std::vector<Frame*> frames;  // the answer, built on the pool
};

int g_jobs = 0;           // in flight (loop only)
uint32_t g_child_id = 0;  // the id of the next stand-in pid (loop only)

std::vector<uint8_t> copy_of(etf::View v) { return std::vector<uint8_t>(v.data, v.data + v.size); }
etf::View view(const std::vector<uint8_t>& b) { return etf::View{b.data(), b.size()}; }

// The stand-in pid of an erpc request: this node's, serial 0.
void write_child(Writer& w, const Job& j) { w.pid(etf::Pid{D.name, j.child_id, 0, D.creation}); }

// [{M, F, Args, []}]: the stack Erlang reports with undef and badarg.
void write_stack(Writer& w, const RexCall& call) {
  w.list(1);
  w.tuple(4);
  w.atom(call.module);
  w.atom(call.function);
  w.raw(call.args.data(), call.args.size());
  w.nil();
  w.nil();
}

const char* error_name(RexOutcome o) {
  switch (o) {
    case RexOutcome::Undef:
      return "undef";
    case RexOutcome::Badarg:
      return "badarg";
    case RexOutcome::Timeout:
      return "timeout";
    case RexOutcome::Return:
    case RexOutcome::SystemLimit:
      break;
  }
  return "system_limit";
}

// {Error, [{M, F, Args, []}]}: how a failed call's exit reads.
void write_error(Writer& w, RexOutcome o, const RexCall& call) {
  w.tuple(2);
  w.atom(error_name(o));
  write_stack(w, call);
}

// A reply to an rpc caller: the value, or {badrpc, {'EXIT', ...}}.
void write_rpc_reply(Writer& w, const Job& j, RexOutcome o, const Writer& value) {
  if (o == RexOutcome::Return) {
    w.raw(value.buf.data(), value.buf.size());
    return;
  }
  w.tuple(2);
  w.atom("badrpc");
  w.tuple(2);
  w.atom("EXIT");
  if (o == RexOutcome::SystemLimit) {
    w.atom("system_limit");
    return;
  }
  write_error(w, o, j.call);
}

Frame* send_frame(const std::vector<uint8_t>& to, const std::function<void(Writer&)>& message) {
  Writer w;
  frame_begin(w);
  w.tuple(3);
  w.integer(wire::kSend);
  w.atom("");
  w.verbatim(view(to));
  w.version();
  message(w);
  return frame_finish(w);
}

Frame* spawn_reply(const Job& j, const char* error) {
  Writer w;
  frame_begin(w);
  w.tuple(5);
  w.integer(wire::kSpawnReply);
  w.verbatim(view(j.req));
  w.verbatim(view(j.to));
  w.integer(error ? 0 : (j.link ? 1 : 0) | (j.monitor ? 2 : 0));
  if (error) w.atom(error);
  else write_child(w, j);
  return frame_finish(w);
}

// The stand-in's exit: DOWN to the requester's monitor and its link.
void exit_frames(Job& j, const std::function<void(Writer&)>& reason) {
  if (j.monitor) {
    Writer w;
    frame_begin(w);
    w.tuple(5);
    w.integer(wire::kMonitorPExit);
    write_child(w, j);
    w.verbatim(view(j.to));
    w.verbatim(view(j.req));
    reason(w);
    j.frames.push_back(frame_finish(w));
  }
  if (j.link) {
    Writer w;
    frame_begin(w);
    w.tuple(4);
    w.integer(wire::kExit);
    write_child(w, j);
    w.verbatim(view(j.to));
    reason(w);
    j.frames.push_back(frame_finish(w));
  }
}

void log_failed_cast(const Job& j, RexOutcome o) {
  log_at(LogLevel::Warning, "snowrt rex: a cast of %s:%s from a peer failed: %s", printable(j.call.module).c_str(),
         printable(j.call.function).c_str(), error_name(o));
}

// Builds the answer of a job whose call ended with `o` (value: its value).
void build_answer(Job& j, RexOutcome o, const Writer& value) {
  // An answer the peer would refuse (its frame limit) is system_limit.
  if (o == RexOutcome::Return && value.buf.size() > kDistMaxMessage) o = RexOutcome::SystemLimit;
  switch (j.answer) {
    case Answer::ErpcCall:
      j.frames.push_back(spawn_reply(j, nullptr));
      exit_frames(j, [&](Writer& w) {
        bool ok = o == RexOutcome::Return;
        w.tuple(ok ? 3 : 4);
        w.verbatim(view(j.tag));
        w.atom(ok ? "return" : "error");
        if (ok) {
          w.raw(value.buf.data(), value.buf.size());
          return;
        }
        w.atom(error_name(o));
        write_stack(w, j.call);
      });
      break;
    case Answer::ErpcCast:
      j.frames.push_back(spawn_reply(j, nullptr));
      exit_frames(j, [&](Writer& w) {
        if (o == RexOutcome::Return) {
          w.atom("normal");
          return;
        }
        write_error(w, o, j.call);
      });
      if (o != RexOutcome::Return) log_failed_cast(j, o);
      break;
    case Answer::GenCall:
      j.frames.push_back(send_frame(j.to, [&](Writer& w) {
        w.tuple(2);
        w.verbatim(view(j.tag));
        write_rpc_reply(w, j, o, value);
      }));
      break;
    case Answer::CNodeCall:
      j.frames.push_back(send_frame(j.to, [&](Writer& w) {
        w.tuple(2);
        w.atom("rex");
        write_rpc_reply(w, j, o, value);
      }));
      break;
    case Answer::Cast:
      if (o != RexOutcome::Return) log_failed_cast(j, o);
      break;
  }
}

void run_job(uv_work_t* req) {
  Job& j = *static_cast<Job*>(req->data);
  Writer value;
  RexOutcome o = rex_evaluate(j.call, value);
  build_answer(j, o, value);
}

void job_done(uv_work_t* req, int status) {
  auto* j = static_cast<Job*>(req->data);
  --g_jobs;
  for (Frame* f : j->frames) {
    if (status == 0 && !D.stopping) enqueue_frame(j->e, f, j->generation);
    else delete f;
  }
  delete j;
}

// The node lists erlang:nodes answers with, split by the peers' flags.
void take_node_lists(RexCall& call) {
  for (auto& [name, ps] : D.peers) {
    if (!ps.up || !ps.conn) continue;
    (ps.conn->peer_flags & wire::kFlagPublished ? call.visible : call.hidden).push_back(name);
  }
}

// Starts a job, or answers at once with system_limit when kRexJobs are in
// flight (a peer may not queue unbounded work).
void submit(Conn* c, std::unique_ptr<Job> j) {
  j->e = c->entry;
  {
    std::lock_guard<std::mutex> lk(c->entry->mu);
    j->generation = c->entry->generation;
  }
  if (j->answer == Answer::ErpcCall || j->answer == Answer::ErpcCast) j->child_id = ++g_child_id & 0x7FFFFFFF;
  if (rex_wants_nodes(j->call)) take_node_lists(j->call);
  if (!j->group_leader.empty() && remsh_answers(j->call)) {  // erl -remsh, on the loop (remsh.h)
    Writer value;
    build_answer(*j, remsh_call(c, view(j->group_leader), j->call, value), value);
    for (Frame* f : j->frames) enqueue_frame(j->e, f, j->generation);
    return;
  }
  if (g_jobs >= kRexJobs) {
    if (j->answer == Answer::ErpcCall || j->answer == Answer::ErpcCast) {
      enqueue_frame(j->e, spawn_reply(*j, "system_limit"));
    } else {
      build_answer(*j, RexOutcome::SystemLimit, Writer{});
      for (Frame* f : j->frames) enqueue_frame(j->e, f);
    }
    return;
  }
  Job* raw = j.release();
  raw->work.data = raw;
  if (uv_queue_work(&D.loop, &raw->work, run_job, job_done) != 0) {
    delete raw;
    return;
  }
  ++g_jobs;
}

// {M, F, Args} parts of a request into job->call; false when malformed.
bool read_mfa(etf::View m, etf::View f, etf::View args, RexCall* call) {
  if (!etf::read_atom(m, &call->module) || !etf::read_atom(f, &call->function)) return false;
  call->args = copy_of(args);
  if (args.tag() == etf::kString) return true;  // [1, 2]: a list of bytes
  etf::Elements items(args);
  if (!items.ok() || !items.is_list()) return false;
  etf::View t;
  while (items.next(&t)) {
  }
  return items.tail().tag() == etf::kNil;
}

// {call | block_call, M, F, A, GL} or {cast, M, F, A, GL}: the M, F, A.
bool read_request(etf::View req, std::string_view kind, RexCall* call) {
  etf::Elements items(req);
  etf::View k, m, f, a;
  return items.ok() && !items.is_list() && items.count() == 5 && items.next(&k) && etf::atom_is(k, kind) &&
         items.next(&m) && items.next(&f) && items.next(&a) && read_mfa(m, f, a, call);
}

// {Pid, Tag} of a gen_server call.
bool read_from(etf::View from, etf::View* pid, etf::View* tag) {
  etf::Elements items(from);
  return items.ok() && !items.is_list() && items.count() == 2 && items.next(pid) && items.next(tag) && pid->is_pid();
}

// The elements of a tuple of `arity`, or false.
bool tuple_of(etf::View t, uint32_t arity, etf::View* out) {
  etf::Elements items(t);
  if (!items.ok() || items.is_list() || items.count() != arity) return false;
  for (uint32_t i = 0; i < arity; ++i)
    if (!items.next(&out[i])) return false;
  return true;
}

}  // namespace

void rex_reg_send(Conn* c, etf::View msg) {
  etf::View it[3];
  auto j = std::make_unique<Job>();
  if (tuple_of(msg, 3, it) && etf::atom_is(it[0], "$gen_call")) {
    etf::View pid, tag;
    if (!read_from(it[1], &pid, &tag)) return;
    if (!read_request(it[2], "call", &j->call) && !read_request(it[2], "block_call", &j->call)) return;
    j->answer = Answer::GenCall;
    j->to = copy_of(pid);
    j->tag = copy_of(tag);
  } else if (tuple_of(msg, 2, it) && etf::atom_is(it[0], "$gen_cast")) {
    if (!read_request(it[1], "cast", &j->call)) return;
    j->answer = Answer::Cast;
  } else if (tuple_of(msg, 2, it) && it[0].is_pid()) {
    // The C-node form; {From, features_request} asks what we support.
    if (etf::atom_is(it[1], "features_request")) {
      std::vector<uint8_t> to = copy_of(it[0]);
      enqueue_frame(c->entry, send_frame(to, [](Writer& w) {
                      w.tuple(3);
                      w.atom("features_reply");
                      w.atom(D.name);
                      w.list(1);
                      w.atom("erpc");
                      w.nil();
                    }));
      return;
    }
    if (!read_request(it[1], "call", &j->call)) return;
    j->answer = Answer::CNodeCall;
    j->to = copy_of(it[0]);
  } else {
    return;
  }
  submit(c, std::move(j));
}

bool rex_spawn_request(Conn* c, const wire::Control& ctl, bool* ok) {
  // {29, ReqId, From, GroupLeader, {Module, Function, Arity}, OptList} + ArgList
  *ok = true;
  etf::View mfa[3];
  if (ctl.arity < 6 || !tuple_of(ctl.item[4], 3, mfa) || !etf::atom_is(mfa[0], "erpc")) return false;
  bool call = etf::atom_is(mfa[1], "execute_call");
  if (!call && !etf::atom_is(mfa[1], "execute_cast")) return false;
  if (!is_peer_pid(c, ctl.item[2])) {
    *ok = false;
    return true;
  }
  etf::View args;
  if (!wire::read_payload(ctl, &args)) {
    *ok = false;
    return true;
  }
  auto j = std::make_unique<Job>();
  j->answer = call ? Answer::ErpcCall : Answer::ErpcCast;
  j->req = copy_of(ctl.item[1]);
  j->to = copy_of(ctl.item[2]);
  if (call) j->group_leader = copy_of(ctl.item[3]);
  etf::Elements opts(ctl.item[5]);
  etf::View o;
  while (opts.is_list() && opts.next(&o)) {
    if (etf::atom_is(o, "link")) j->link = true;
    if (etf::atom_is(o, "monitor")) j->monitor = true;
  }
  // execute_call: [Res, M, F, A]; execute_cast: [M, F, A].
  etf::Elements items(args);
  etf::View a[4];
  uint32_t want = call ? 4 : 3;
  bool well_formed = items.ok() && items.is_list() && items.count() == want;
  for (uint32_t i = 0; well_formed && i < want; ++i) well_formed = items.next(&a[i]);
  if (well_formed && call) j->tag = copy_of(a[0]);
  if (!well_formed || !read_mfa(a[call ? 1 : 0], a[call ? 2 : 1], a[call ? 3 : 2], &j->call)) {
    // What erpc's spawned process would die of; answered as a failed spawn.
    Job& r = *j;
    r.child_id = 0;
    enqueue_frame(c->entry, spawn_reply(r, "badarg"));
    return true;
  }
  submit(c, std::move(j));
  return true;
}

bool rex_io_request(Conn* c, etf::View msg) {
  etf::View it[4];
  if (!tuple_of(msg, 4, it) || !etf::atom_is(it[0], "io_request") || !is_peer_pid(c, it[1])) return false;
  std::vector<uint8_t> to = copy_of(it[1]);
  enqueue_frame(c->entry, send_frame(to, [&](Writer& w) {
                  w.tuple(3);
                  w.atom("io_reply");
                  w.verbatim(it[2]);
                  w.tuple(2);
                  w.atom("error");
                  w.atom("request");
                }));
  return true;
}

void answer_net_kernel(Conn* c, etf::View msg) {
  etf::View it[3], pid, tag, req[2];
  if (!tuple_of(msg, 3, it) || !etf::atom_is(it[0], "$gen_call") || !read_from(it[1], &pid, &tag)) return;
  std::function<void(Writer&)> reply;
  if (tuple_of(it[2], 2, req) && etf::atom_is(req[0], "is_auth")) {
    reply = [](Writer& w) { w.atom("yes"); };
  } else if (etf::atom_is(it[2], "ticktime")) {
    reply = [](Writer& w) { w.unsigned_integer((D.ticktime_ms.load() + 999) / 1000); };
  } else if (etf::atom_is(it[2], "nodename")) {
    reply = [](Writer& w) { w.atom(D.name); };
  } else {
    return;  // ignored, as OTP's net_kernel ignores a call it does not know
  }
  std::vector<uint8_t> to = copy_of(pid);
  enqueue_frame(c->entry, send_frame(to, [&](Writer& w) {
                  w.tuple(2);
                  w.verbatim(tag);
                  reply(w);
                }));
}

}  // namespace snow::rt::dist
