// Jobs (ABI section 7, Snow's Job module): a process that runs one function
// for the process that started it and reports only to it.
//
// Vocabulary:
// - *Caller*: the process that called snow_job_async (or snow_job_map). It
//   owns a *job table* (JobTable, reached through proc_jobs): one entry per
//   job it started and has not awaited yet. Only the caller's own context
//   reads or writes the table; no lock.
// - *Job*: a process spawned with SpawnRequest::job_ref, so the caller
//   watches it under that ref the way a monitor does, except that the DOWN
//   goes to the job table instead of the mailbox. The job runs fn(env) (or
//   fn(env, elem) for a map element), sends the caller one JobResult signal
//   with the value and the ref, and returns.
//
// Entry state machine (caller's view):
//   running --JobResult--> ok(value)            (the DOWN normal that follows is dropped)
//   running --DOWN R-----> failed(R)            (it died before reporting)
//   any     --await-------> gone                (a timed-out await kills a running job)
//   running --caller exits-> job killed, table freed
// Both signals come from the job, through the caller's one signal queue, so
// the result always precedes the job's DOWN. Signals for a job no longer in
// the table (awaited, timed out) find no entry and are dropped by the normal
// path: a job never leaves anything in the caller's mailbox.
//
// Threads: everything here runs in the caller's owner context, except
// job_main, which runs as the job process.
#pragma once

#include <cstdint>

#include "runtime/proc/signal.h"

namespace snow::rt {

struct Process;
struct JobTable;

using JobFn = int64_t (*)(void* env);
using JobMapFn = int64_t (*)(void* env, int64_t elem);

// Starts a job for `self` running fn(env). The job's pid, or 0.
uint64_t job_async(Process* self, JobFn fn, void* env);
// Waits for `self`'s job `job` (timeout_ms < 0: forever; on expiry the job
// is killed) and returns a SnowResult in self's heap, Err("noproc") for a
// pid that is not a pending job of self. nullptr when the heap is full.
const void* job_await(Process* self, uint64_t job, int64_t timeout_ms);
// One job per element of the SnowList `list`; the SnowList of results in
// input order (0 and a crash report for a failed element). nullptr when the
// heap is full.
const void* job_map(Process* self, const void* list, JobMapFn fn, void* env);

// Hooks for the process side (signals.cpp, exits.cpp; owner context):
// A JobResult or a Down signal for one of self's pending jobs updates its
// entry and is consumed (true); anything else is left alone (false).
bool jobs_take_signal(Process* self, Signal* s);
// The caller is finishing its exit: kill its running jobs (kill_running),
// then free the table.
void jobs_end(Process* self, bool kill_running);

}  // namespace snow::rt
