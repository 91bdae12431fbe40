// The remote console (remsh.h): its table, its start from rex's
// shell:start, GROUP_LEADER, and the console process speaking Erlang's io
// protocol to its group leader:
//   -> {io_request, Console, N, {put_chars, unicode, Binary}}
//   <- {io_reply, N, ok | {error, _}}
//   -> {io_request, Console, N, {get_line, unicode, Prompt}}
//   <- {io_reply, N, Line | eof | {error, _}}
// N counts the console's requests; a reply with another N, and any other
// message, is dropped.
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "runtime/common/common.h"
#include "runtime/dist/remsh.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

namespace {

// A console's row. group_leader is written by the loop (GROUP_LEADER) and
// read by the console under remsh_mu; the rest is the console's own.
struct Console {
  uint64_t group_leader = 0;  // a handle of a peer process
  uint64_t monitored = 0;     // the group leader its monitor watches
  uint64_t monitor_ref = 0;
  uint64_t reply_as = 0;  // N of the request in flight
  Writer request;         // the request being sent
  std::string line;       // the last line read (UTF-8)
  ConsoleCommand command;
  std::string text;  // what is being written
};

std::mutex remsh_mu;
std::unordered_map<uint64_t, std::unique_ptr<Console>> g_consoles;  // by console pid (remsh_mu)

Console* console_of(uint64_t pid) {
  std::lock_guard<std::mutex> lk(remsh_mu);
  auto it = g_consoles.find(pid);
  return it == g_consoles.end() ? nullptr : it->second.get();
}

// The number of elements of an argument list (a string is a list of bytes).
uint32_t arity_of(const RexCall& call) {
  etf::View list;
  if (!etf::view_of(call.args.data(), call.args.size(), &list)) return UINT32_MAX;
  if (list.tag() == etf::kString) return list.size >= 3 ? uint32_t(list.data[1] << 8 | list.data[2]) : UINT32_MAX;
  etf::Elements items(list);
  return items.ok() && items.is_list() ? items.count() : UINT32_MAX;
}

// --------------------------------------------------------------- the console process

// How a wait for an io reply ended.
enum class Wait { Reply, Ended };

// Follows a GROUP_LEADER change: the monitor moves to the new group leader.
void follow_group_leader(Process* self, Console& con) {
  uint64_t gl;
  {
    std::lock_guard<std::mutex> lk(remsh_mu);
    gl = con.group_leader;
  }
  if (gl == con.monitored) return;
  if (con.monitor_ref) proc_demonitor(self, con.monitor_ref, true);
  con.monitored = gl;
  con.monitor_ref = proc_monitor(self, gl);
}

// Sends con.request's {io_request, Me, N, Request} (Request written by
// `write`) and waits for its reply; *reply views it inside the message,
// valid until the next receive. Ended when the group leader is gone.
template <typename WriteRequest>
Wait io_call(Process* self, Console& con, WriteRequest write, etf::View* reply) {
  follow_group_leader(self, con);
  con.request.buf.clear();
  con.request.version();
  con.request.tuple(4);
  con.request.atom("io_request");
  write_pid(con.request, proc_pid(self));
  con.request.unsigned_integer(++con.reply_as);
  write(con.request);
  if (proc_send(proc_pid(self), con.monitored, con.request.buf.data(), con.request.buf.size(), SNOW_MSG_TERM,
                SNOW_TAG_TERM) != 0)
    return Wait::Ended;
  for (;;) {
    const snow_msg* m = proc_receive(self, -1, nullptr, nullptr);
    if (!m) return Wait::Ended;
    uint32_t kind = proc_msg_kind(self, m);
    if (kind == SNOW_MSG_DOWN && m->len >= 8 && get_u64(m->data) == con.monitor_ref) return Wait::Ended;
    if (kind != SNOW_MSG_TERM) continue;
    etf::View term, it[3];
    uint64_t n;
    if (!etf::view_of(m->data, size_t(m->len), &term)) continue;
    etf::Elements items(term);
    if (!items.ok() || items.is_list() || items.count() != 3 || !items.next(&it[0]) || !items.next(&it[1]) ||
        !items.next(&it[2]) || !etf::atom_is(it[0], "io_reply") || !etf::read_u64(it[1], &n) || n != con.reply_as)
      continue;
    *reply = it[2];
    return Wait::Reply;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | cp >> 18);
    out += char(0x80 | (cp >> 12 & 0x3F));
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// A get_line answer (a list of characters, a string of Latin-1 bytes or a
// UTF-8 binary) into `line`, at most kConsoleMaxLine + 1 bytes (enough to
// tell a line too long); false for eof, an error or anything else.
bool read_chars(etf::View reply, std::string& line) {
  line.clear();
  std::string_view bin;
  if (etf::read_binary(reply, &bin)) {
    line.assign(bin.substr(0, kConsoleMaxLine + 1));
    return true;
  }
  if (reply.tag() == etf::kString && reply.size >= 3) {
    for (size_t i = 3; i < reply.size && line.size() <= kConsoleMaxLine; ++i) append_utf8(line, reply.data[i]);
    return true;
  }
  etf::Elements items(reply);
  if (!items.ok() || !items.is_list()) return false;
  etf::View ch;
  int64_t cp;
  while (line.size() <= kConsoleMaxLine && items.next(&ch)) {
    if (!etf::read_int(ch, &cp) || cp < 0 || cp > 0x10FFFF) return false;
    append_utf8(line, uint32_t(cp));
  }
  return true;
}

// Writes `text`; false when the group leader is gone or refused it.
bool put_text(Process* self, Console& con, const std::string& text) {
  etf::View reply;
  auto put = [&](Writer& w) {
    w.tuple(3);
    w.atom("put_chars");
    w.atom("unicode");
    w.binary(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  };
  return io_call(self, con, put, &reply) == Wait::Reply && etf::atom_is(reply, "ok");
}

// Reads one line into con.line; false on eof, an error or the group
// leader's end.
bool get_line(Process* self, Console& con) {
  etf::View reply;
  auto get = [](Writer& w) {
    w.tuple(3);
    w.atom("get_line");
    w.atom("unicode");
    std::string prompt = dist_node_name() + "> ";
    w.binary(reinterpret_cast<const uint8_t*>(prompt.data()), prompt.size());
  };
  return io_call(self, con, get, &reply) == Wait::Reply && read_chars(reply, con.line);
}

// The console process. Returning is its normal exit.
void console_main(const uint8_t*) {
  Process* self = proc_current();
  Console* con = console_of(proc_pid(self));
  if (!con) return;
  con->text = console_banner();
  if (!put_text(self, *con, con->text)) return;
  for (;;) {
    if (!get_line(self, *con)) return;
    con->command = console_parse(con->line);
    con->text = console_answer(con->command);
    if (!con->text.empty() && !put_text(self, *con, con->text)) return;
    if (con->command.verb == ConsoleVerb::Quit) return;
  }
}

// The console's terminate callback, on its own context: its row goes.
void console_ended(const uint8_t*, const uint8_t*) {
  uint64_t me = proc_pid(proc_current());
  std::unique_ptr<Console> row;  // freed outside the lock
  std::lock_guard<std::mutex> lk(remsh_mu);
  auto it = g_consoles.find(me);
  if (it == g_consoles.end()) return;
  row = std::move(it->second);
  g_consoles.erase(it);
}

// Before the console runs: its row, with its group leader.
void add_row(uint64_t pid, void* ctx) {
  auto row = std::make_unique<Console>();
  row->group_leader = *static_cast<uint64_t*>(ctx);
  std::lock_guard<std::mutex> lk(remsh_mu);
  g_consoles[pid] = std::move(row);
}

}  // namespace

bool remsh_answers(const RexCall& call) {
  if (call.module == "shell" && call.function == "start") return arity_of(call) <= 2;
  if (call.module == "edlin_expand" && call.function == "expand") return arity_of(call) <= 2;
  return false;
}

RexOutcome remsh_call(Conn* c, etf::View group_leader, const RexCall& call, Writer& value) {
  if (call.module == "edlin_expand") {
    // {no, "", []}: nothing to complete (erl beeps).
    value.tuple(3);
    value.atom("no");
    value.nil();
    value.nil();
    return RexOutcome::Return;
  }
  {
    std::lock_guard<std::mutex> lk(remsh_mu);
    if (g_consoles.size() >= size_t(kRemshConsoles)) return RexOutcome::SystemLimit;
  }
  uint64_t gl;
  if (!group_leader.size || !peer_pid(c, group_leader, PidUse::Exposed, &gl)) return RexOutcome::Badarg;
  SpawnRequest r;
  r.fn = console_main;
  r.terminate = console_ended;
  r.before_start = add_row;
  r.before_start_ctx = &gl;
  uint64_t pid = proc_spawn(r);
  if (!pid) return RexOutcome::SystemLimit;
  log_at(LogLevel::Info, "snowrt remsh: %s opened a remote console", printable(c->peer).c_str());
  write_pid(value, pid);
  return RexOutcome::Return;
}

void remsh_group_leader(Conn* c, const wire::Control& ctl) {
  // {7, GroupLeader, Pid}
  etf::Pid p;
  if (ctl.arity < 3 || !is_peer_pid(c, ctl.item[1]) || !etf::read_pid(ctl.item[2], &p) || p.node != D.name ||
      p.creation != D.creation)
    return;
  uint64_t pid = local_pid_make(p.id, p.serial);
  if (!pid || !console_of(pid)) return;
  uint64_t gl;
  if (!peer_pid(c, ctl.item[1], PidUse::Exposed, &gl)) return;
  std::lock_guard<std::mutex> lk(remsh_mu);
  auto it = g_consoles.find(pid);
  if (it != g_consoles.end()) it->second->group_leader = gl;
}

}  // namespace snow::rt::dist
