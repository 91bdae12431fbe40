// rex: the answers this node gives to Erlang's remote procedure calls, so
// the standard tools (rpc, erpc, erl_call, observer-style shells) can look
// at a libsnowrt node. Included only by runtime/dist.
//
// Vocabulary:
// - *Call*: a request to run Module:Function(Args) here and answer with
//   the result. Three ways reach us: erpc's SPAWN_REQUEST of
//   erpc:execute_call/4 (what rpc:call and erpc:call send since OTP 23),
//   a gen_server call to the registered name `rex` ({'$gen_call', {Pid,
//   Tag}, {call | block_call, M, F, A, GroupLeader}}, what rpc:block_call
//   and older nodes send) and the C-node form {Pid, {call, M, F, A, GL}}
//   to `rex` (erl_call, ei_rpc).
// - *Cast*: run it and answer nothing (erpc:execute_cast/3 spawn requests,
//   rpc:cast; {'$gen_cast', {cast, M, F, A, GL}} to `rex`).
// - *Function*: the few functions answered with this node's data
//   (rex_functions.cpp lists them); any other is undefined here and gets
//   Erlang's `undef` answer at once.
//
// Threads: requests are read on the loop (under loop_mu), from the frame
// in place, and their parts copied into a job; the answer is computed and
// encoded on the libuv thread pool (a process list of a million pids must
// not hold up every connection, and a process_info of links or monitors
// waits there, up to kRexAskTimeoutMs, for the process to answer about
// itself), and its frames are queued on the loop when the job completes. At most kRexJobs jobs are in flight; a request
// beyond them is answered at once with Erlang's system_limit answers.
#pragma once

#include "runtime/dist/dist_internal.h"

namespace snow::rt::dist {

constexpr int kRexJobs = 32;

// A message a peer sent to our registered name `rex` (when no process here
// registered that name). Anything that is not one of the request forms
// above is ignored, as rex ignores it.
void rex_reg_send(Conn* c, etf::View msg);

// A SPAWN_REQUEST: true when it is erpc's execute_call/4 or execute_cast/3
// (then it is answered here; *ok says whether it was well formed, false
// closes the connection), false for any other function (spawn.cpp's).
bool rex_spawn_request(Conn* c, const wire::Control& ctl, bool* ok);

// An {io_request, From, ReplyAs, Request} from a peer's process to one of
// ours: answered {io_reply, ReplyAs, {error, request}} (no process here is
// an io server) and true; false for any other message.
bool rex_io_request(Conn* c, etf::View msg);

// net_kernel's calls ({'$gen_call', {Pid, Tag}, Request}): is_auth is
// answered `yes` (net_adm:ping), ticktime and nodename with ours; any other
// request is ignored, as OTP's net_kernel ignores a call it does not know
// (the caller's gen_server:call times out).
void answer_net_kernel(Conn* c, etf::View msg);

// ------------------------------------------------------------------ rex_functions.cpp

// How a call ended: its value, or the error Erlang would raise (undef for
// a function not answered here, badarg for arguments it refuses,
// system_limit for an answer too large to send), or timeout when the
// process asked about did not answer in time (process_info's links and
// monitors, which only the process can read: kRexAskTimeoutMs).
enum class RexOutcome { Return, Undef, Badarg, SystemLimit, Timeout };

// How long a pool thread waits for a process to answer about itself.
constexpr int64_t kRexAskTimeoutMs = 5000;

// One call to evaluate: Module:Function(Args), Args a list term (copied
// from the request, so well formed). The node lists are taken on the loop
// when the request arrives (connection flags are loop only).
struct RexCall {
  std::string module, function;
  std::vector<uint8_t> args;
  std::vector<std::string> visible, hidden;
};

// Evaluates `call`, writing its value (no version byte) to `value` when it
// returns. Any thread (the thread pool).
RexOutcome rex_evaluate(const RexCall& call, Writer& value);

// Whether rex_evaluate needs the node lists (only erlang:nodes does).
bool rex_wants_nodes(const RexCall& call);

}  // namespace snow::rt::dist
