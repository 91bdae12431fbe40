// Supervisors (ABI section 7): a process that starts children linked to
// itself, traps their exits and restarts them by strategy and restart type,
// within a restart intensity.
//
// Vocabulary:
// - *Child spec*: start function (or registered function on a node), args,
//   restart type (permanent, transient, temporary) and shutdown (brutal kill
//   or a grace time for `shutdown` before the kill).
// - *Intensity*: at most max_restarts restarts within period_ms; one more
//   and the supervisor shuts every child down in reverse start order and
//   exits with `shutdown`.
//
// Ownership: the supervisor's state belongs to its process; the API calls
// below talk to it with service calls (runtime/proc/process.h), so they need
// a calling process.
//
// Layer: stdlib/ sits above the ABI. A supervisor is a client of the public
// snow_* calls (spawn, monitor, receive, service calls, remote spawn), as
// OTP's supervisor is an Erlang module over the VM's built-ins; the runtime
// below never calls the ABI. Besides the ABI it uses runtime/common's byte
// and clock helpers and one proc query (proc_local_call_sender, which the
// public API does not offer). The ABI layer's snow_supervisor_* calls
// forward here.
#pragma once

#include <cstdint>

#include "abi/include/snowrt.h"

namespace snow::rt {

// Validates the spec, copies it and spawns the supervisor. 0 on failure.
uint64_t sup_start(const snow_sup_spec* spec);
uint64_t sup_start_child(uint64_t sup, const snow_child_spec* child);
int64_t sup_terminate_child(uint64_t sup, uint64_t child);
int64_t sup_count_children(uint64_t sup);
bool sup_child_spec_valid(const snow_child_spec* c, bool is_template);

}  // namespace snow::rt
