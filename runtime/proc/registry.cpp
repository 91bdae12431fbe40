// The name registry: one name per process, names to pids. Owns R.reg_mu
// and R.names.
#include "runtime/proc/process_internal.h"

namespace snow::rt {

inline namespace proc_detail {

// ---------------------------------------------------------------- registry

void registry_release(Process* p) {
  if (!p->name) return;
  {
    std::lock_guard<std::mutex> lk(R.reg_mu);
    auto it = R.names.find(*p->name);
    if (it != R.names.end() && it->second == p->pid) R.names.erase(it);
  }
  delete p->name;
  p->name = nullptr;
}

// Forgets every name of `pid` (an abandoned thread's process, whose
// control block the stopping runtime does not touch).
void registry_forget_pid(uint64_t pid) {
  std::lock_guard<std::mutex> lk(R.reg_mu);
  for (auto it = R.names.begin(); it != R.names.end();) {
    if (it->second == pid) it = R.names.erase(it);
    else ++it;
  }
}

}  // namespace proc_detail

int proc_register(Process* p, std::string_view name) {
  if (p->name) return SNOW_EEXIST;
  std::lock_guard<std::mutex> lk(R.reg_mu);
  auto [it, inserted] = R.names.emplace(std::string(name), p->pid);
  if (!inserted) return SNOW_EEXIST;
  p->name = new std::string(name);
  return 0;
}

int proc_unregister(Process* p, std::string_view name) {
  if (!p->name || *p->name != name) return SNOW_ENOTFOUND;
  registry_release(p);
  return 0;
}

uint64_t proc_whereis(std::string_view name) {
  std::lock_guard<std::mutex> lk(R.reg_mu);
  auto it = R.names.find(std::string(name));
  return it == R.names.end() ? 0 : it->second;
}

}  // namespace snow::rt
