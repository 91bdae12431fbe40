#include "runtime/proc/jobs.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/proc/process.h"
#include "runtime/proc/reason.h"

namespace snow::rt {

namespace {

enum class JobState : uint8_t { Running, Ok, Failed };

struct Job {
  uint64_t ref = 0;
  JobState state = JobState::Running;
  int64_t value = 0;
  std::string error;  // Failed: the reason as Err text
  // Ok: the heap values `value` carries (it may be an address in the job's
  // heap), pinned until the await hands them to the caller's heap.
  ExportTicket* ticket = nullptr;
};

// What a job process gets as its spawn argument (copied into the job).
// `env` travels here like any address in a spawn argument, so the heap
// keeps it alive for the job (ABI section 6, values carried by messages).
struct JobArgs {
  uint64_t caller;
  uint64_t ref;
  JobFn fn;
  JobMapFn map_fn;  // a Job.map element: map_fn(env, elem) instead of fn(env)
  void* env;
  int64_t elem;
};

}  // namespace

struct JobTable {
  std::unordered_map<uint64_t, Job> jobs;  // job pid -> entry
};

namespace {

const uint8_t kReasonKilled[1] = {SNOW_REASON_KILLED};

void job_main(const uint8_t* raw) {
  JobArgs a;
  std::memcpy(&a, raw, sizeof a);
  int64_t value = a.map_fn ? a.map_fn(a.env, a.elem) : a.fn(a.env);
  Signal* s = signal_alloc(SigKind::JobResult, a.caller, proc_pid(proc_current()), 8);
  if (!s) {
    // Without the result the caller sees the job end with this error.
    static const char kNoMemory[] = "job result: out of memory";
    uint8_t r[9 + sizeof kNoMemory - 1];
    reason_write(r, SNOW_REASON_ERROR, std::string_view(kNoMemory, sizeof kNoMemory - 1));
    proc_exit_self(proc_current(), r, sizeof r);
  }
  put_u64(s->msg.data, uint64_t(value));
  s->ref = a.ref;
  proc_gc_export(proc_current(), s);
  proc_deliver(a.caller, s);
}

// The Err text of a job's exit reason (see snowrt.h, section 7 Jobs).
std::string reason_text(const uint8_t* r) {
  if (r[0] == SNOW_REASON_ERROR || r[0] == SNOW_REASON_CUSTOM)
    return std::string(reinterpret_cast<const char*>(r + 9), size_t(get_u64(r + 1)));
  char desc[128];
  reason_describe(r, desc, sizeof desc);
  return desc;
}

uint64_t start_job(Process* self, JobFn fn, JobMapFn map_fn, void* env, int64_t elem) {
  JobArgs a{proc_pid(self), new_ref(), fn, map_fn, env, elem};
  SpawnRequest r;
  r.fn = job_main;
  r.args = reinterpret_cast<const uint8_t*>(&a);
  r.size = sizeof a;
  r.parent = self;
  r.job_ref = a.ref;
  uint64_t pid = proc_spawn(r);
  if (!pid) return 0;
  // The job may already have ended, but its signals wait in our queue until
  // we apply them, which is after this insert (we are its only reader).
  JobTable*& t = proc_jobs(self);
  if (!t) t = new JobTable();
  t->jobs.emplace(pid, Job{a.ref, JobState::Running, 0, {}});
  return pid;
}

bool job_finished(void* job) { return static_cast<Job*>(job)->state != JobState::Running; }

// Waits for self's job `pid` and takes its entry out of the table. false
// when pid is not a pending job of self. On timeout the job is killed and
// *out is Failed with "timeout".
bool wait_job(Process* self, uint64_t pid, int64_t timeout_ms, Job* out) {
  JobTable* t = proc_jobs(self);
  if (!t) return false;
  auto it = t->jobs.find(pid);
  if (it == t->jobs.end()) return false;
  Job* job = &it->second;  // node-based map: stable while we wait
  if (!proc_wait_until(self, timeout_ms, job_finished, job)) {
    (void)proc_exit_signal(proc_pid(self), pid, kReasonKilled, 1);
    job->state = JobState::Failed;
    job->error = "timeout";
  }
  proc_gc_import_ticket(self, job->ticket);
  job->ticket = nullptr;
  *out = std::move(*job);
  t->jobs.erase(pid);
  return true;
}

uint8_t* alloc_words(Process* self, uint64_t bytes) { return static_cast<uint8_t*>(proc_gc_alloc(self, bytes, 8)); }

const void* make_result(Process* self, const Job& job) {
  uint8_t* res = alloc_words(self, 16);
  if (!res) return nullptr;
  if (job.state == JobState::Ok) {
    put_u64(res + 8, uint64_t(job.value));
    return res;
  }
  uint8_t* text = alloc_words(self, 8 + job.error.size());
  if (!text) return nullptr;
  put_u64(text, job.error.size());
  std::memcpy(text + 8, job.error.data(), job.error.size());
  res[0] = 1;
  put_u64(res + 8, uint64_t(reinterpret_cast<uintptr_t>(text)));
  return res;
}

void report_map_failure(uint64_t index, uint64_t pid, const char* why) {
  log_line("=CRASH REPORT==== Job.map element %llu (job <0.%u.%u>) failed: %s", static_cast<unsigned long long>(index),
           local_pid_id(pid), local_pid_serial(pid), why);
}

}  // namespace

uint64_t job_async(Process* self, JobFn fn, void* env) { return start_job(self, fn, nullptr, env, 0); }

const void* job_await(Process* self, uint64_t job, int64_t timeout_ms) {
  Job done;
  if (!wait_job(self, job, timeout_ms, &done)) {
    done.state = JobState::Failed;
    done.error = "noproc";
  }
  return make_result(self, done);
}

const void* job_map(Process* self, const void* list, JobMapFn fn, void* env) {
  const uint8_t* in = static_cast<const uint8_t*>(list);
  uint64_t n = get_u64(in);
  if (n > (UINT64_MAX - 16) / 8) return nullptr;
  // The result list and the pids live in the caller's heap, not in C++
  // objects on this stack: an exit while we wait discards the stack without
  // running destructors.
  uint8_t* out = alloc_words(self, 16 + 8 * n);
  uint8_t* pids = n ? alloc_words(self, 8 * n) : nullptr;
  if (!out || (n && !pids)) return nullptr;
  put_u64(out, n);
  put_u64(out + 8, n);
  for (uint64_t i = 0; i < n; ++i)
    put_u64(pids + 8 * i, start_job(self, nullptr, fn, env, int64_t(get_u64(in + 16 + 8 * i))));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t pid = get_u64(pids + 8 * i);
    Job done;
    if (!pid) {
      report_map_failure(i, 0, "the job could not be started");
    } else if (wait_job(self, pid, -1, &done) && done.state == JobState::Ok) {
      put_u64(out + 16 + 8 * i, uint64_t(done.value));
    } else {
      report_map_failure(i, pid, done.error.c_str());
    }
  }
  return out;
}

bool jobs_take_signal(Process* self, Signal* s) {
  JobTable* t = proc_jobs(self);
  auto it = t->jobs.find(s->from);
  if (it == t->jobs.end() || it->second.ref != s->ref) return false;
  Job& job = it->second;
  if (job.state == JobState::Running) {
    if (s->kind == SigKind::JobResult) {
      job.state = JobState::Ok;
      job.value = int64_t(get_u64(s->msg.data));
      job.ticket = s->ticket;
      s->ticket = nullptr;
    } else {
      job.state = JobState::Failed;
      job.error = reason_text(s->msg.data + 16);
    }
  }
  signal_free(s);
  return true;
}

void jobs_end(Process* self, bool kill_running) {
  JobTable*& t = proc_jobs(self);
  if (kill_running) {
    for (auto& [pid, job] : t->jobs)
      if (job.state == JobState::Running) (void)proc_exit_signal(proc_pid(self), pid, kReasonKilled, 1);
  }
  for (auto& [pid, job] : t->jobs)
    if (job.ticket) heap_ticket_drop(job.ticket);
  delete t;
  t = nullptr;
}

}  // namespace snow::rt
