// The remote console: what `erl -remsh ournode@host` gets from a libsnowrt
// node. Included only by runtime/dist.
//
// What erl does (OTP 25, kernel's user_drv and group): its group process
// makes itself its own group leader and calls rpc:call(Node, shell, start,
// []), an erpc SPAWN_REQUEST whose GroupLeader field is that group process;
// the pid it gets back is "the shell": the group links to it and answers
// its io requests ({io_request, From, ReplyAs, Request} -> {io_reply,
// ReplyAs, Reply}) with the operator's terminal. When the shell exits, the
// group exits with the same reason and erl prints "*** Shell process
// terminated! ***" (with "ERROR: " unless the reason is normal) and leaves
// the operator at its job-control prompt. Tab completion calls
// rpc:call(Node, edlin_expand, expand, [Before]) and crashes the group
// unless the answer is {Found, Add, Matches}.
//
// Vocabulary:
// - *Console*: the process shell:start starts here instead of an Erlang
//   shell: a libsnowrt process that evaluates no Erlang. It prints a banner
//   saying so, then reads lines from its group leader with the prompt
//   "node> " and answers a few read-only commands with the runtime's data
//   (remsh_commands.cpp; docs/operating.md, "Remote console").
// - *Group leader*: the peer's process the console talks to (the group of
//   erl -remsh). It comes from the SPAWN_REQUEST and may be changed by a
//   GROUP_LEADER control message naming the console.
//
// Life of a console: started by shell:start (at most kRemshConsoles at
// once; beyond that the call fails with system_limit) -> it monitors its
// group leader, prints the banner, loops reading a line and writing the
// answer -> it exits with reason normal on `quit`, on eof or an error
// reply to a read; it exits with the DOWN reason when its group leader
// dies or the connection drops (noconnection); a link from the group
// (what erl makes) ends it the same way. Nothing it does stops this node.
//
// Threads and memory: the console table is guarded by remsh_mu (a leaf).
// A console process may be killed at any receive or send, and a killed
// process's stack is dropped without unwinding: everything a console owns
// lives in its table row (freed by its terminate callback), never in a
// local that outlives a receive or a send. A console holds at most one
// request in flight and bounds what it reads (kConsoleMaxLine) and writes
// (kConsoleMaxOutput), so a peer that never answers, or answers with
// floods, costs one bounded row.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/dist/rex.h"

namespace snow::rt::dist {

// Consoles open at once (rex's job limit).
constexpr int kRemshConsoles = kRexJobs;
// The longest input line a console reads; a longer one is refused whole.
constexpr size_t kConsoleMaxLine = 1024;
// The most text one answer writes (a longer one is cut with a note).
constexpr size_t kConsoleMaxOutput = 16 * 1024;

// Whether rex answers `call` here: shell:start/0,1 (a console) or
// edlin_expand:expand/1,2 (tab completion: nothing to complete).
bool remsh_answers(const RexCall& call);

// Answers such a call from the peer of `c`; `group_leader` is the group
// leader the request named (a peer pid, else the call fails with badarg).
// shell:start spawns a console and returns its pid; system_limit when
// kRemshConsoles are open. Loop.
RexOutcome remsh_call(Conn* c, etf::View group_leader, const RexCall& call, Writer& value);

// A GROUP_LEADER control message {7, GroupLeader, Pid}: when Pid is one of
// our consoles and GroupLeader a process of the peer, the console talks to
// it from its next request on. Any other is accepted and ignored (no
// process here has a group leader). Never closes the connection. Loop.
void remsh_group_leader(Conn* c, const wire::Control& ctl);

// ------------------------------------------------------------------ remsh_commands.cpp

enum class ConsoleVerb { Empty, Help, Processes, Info, Nodes, Stats, LogLevel, Quit, ErlangCode, TooLong, Unknown };

// One input line read: its verb and its argument (trimmed; empty when
// none). An Erlang expression (it ends with '.', or has '(' or ':') is
// ErlangCode: the console evaluates none. Pure; any thread.
struct ConsoleCommand {
  ConsoleVerb verb = ConsoleVerb::Empty;
  std::string arg;
};
ConsoleCommand console_parse(std::string_view line);

// The console's answer to `cmd`: text for the operator, ending in a
// newline (empty for Empty), at most kConsoleMaxOutput bytes plus a cut
// note. Reads the runtime through proc's introspection calls and
// dist_connected_nodes (any thread); log-level LEVEL sets the log level.
std::string console_answer(const ConsoleCommand& cmd);

// The banner printed when a console opens.
std::string console_banner();

}  // namespace snow::rt::dist
