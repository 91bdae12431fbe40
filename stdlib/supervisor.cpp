#include "stdlib/supervisor.h"

#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/common/common.h"
#include "runtime/proc/gc.h"
#include "runtime/proc/process.h"

namespace snow::rt {

namespace {

enum : uint64_t { kCallStartChild = 1, kCallTerminateChild = 2, kCallCountChildren = 3 };

struct ChildSpec {
  void (*start)(const uint8_t*) = nullptr;
  std::vector<uint8_t> args;
  // The heap values the args refer to (a compiled program passes
  // addresses): pinned for as long as the spec is kept, because the
  // supervisor hands them to every restarted child while their owner may
  // have dropped them or exited, and this copy is malloc memory, which no
  // collection scans. Empty for a remote child (its args leave as bytes)
  // and for a simple_one_for_one child started with the template's args
  // (the template's pin keeps them; it lives as long as the supervisor).
  GcPin args_pin;
  uint8_t restart = SNOW_RESTART_PERMANENT;
  int64_t shutdown_ms = 0;
  std::string node, function;
};

struct Child {
  ChildSpec spec;
  uint64_t pid = 0;
};

struct SupState {
  uint8_t strategy = SNOW_SUP_ONE_FOR_ONE;
  uint32_t max_restarts = 0;
  uint64_t period_ms = 0;
  ChildSpec templ;               // simple_one_for_one
  std::vector<Child> children;   // start order
  std::deque<int64_t> restarts;  // times of recent restarts (ns)
};

std::mutex g_sup_mu;
std::unordered_map<uint64_t, SupState*> g_sups;  // live supervisors

// Copies `size` bytes of args into `s` and, for a local child, pins what
// they refer to. Exported by the calling process: in snow_supervisor_start
// the caller, whose own objects the export promotes to shared; in a
// start_child call the supervisor, which imported the caller's values with
// the call's message.
void set_args(ChildSpec& s, const uint8_t* args, uint64_t size) {
  s.args.assign(args, args + size);
  if (s.node.empty()) s.args_pin = GcPin(proc_gc_export_value(proc_current(), s.args.data(), s.args.size()));
}

ChildSpec copy_spec(const snow_child_spec* c) {
  ChildSpec s;
  s.start = c->start;
  if (c->node && c->node_len) s.node.assign(c->node, size_t(c->node_len));
  if (c->function && c->function_len) s.function.assign(c->function, size_t(c->function_len));
  if (c->args_size) set_args(s, c->args, c->args_size);
  s.restart = c->restart;
  s.shutdown_ms = c->shutdown_ms;
  return s;
}

// A simple_one_for_one child: the template, with the call's start function
// and args when it gives them.
ChildSpec instance_of(const ChildSpec& templ, const snow_child_spec& cs) {
  ChildSpec s;
  s.start = cs.start ? cs.start : templ.start;
  s.node = templ.node;
  s.function = templ.function;
  if (cs.args_size) set_args(s, cs.args, cs.args_size);
  else s.args = templ.args;
  s.restart = templ.restart;
  s.shutdown_ms = templ.shutdown_ms;
  return s;
}

uint64_t start_one(const ChildSpec& s) {
  if (!s.node.empty()) {
    return snow_node_spawn(s.node.data(), s.node.size(), s.function.data(), s.function.size(), s.args.data(),
                           s.args.size(), 1);
  }
  snow_spawn_opts o{};
  o.link = 1;
  return snow_actor_spawn_opts(s.start, s.args.data(), s.args.size(), &o);
}

struct DownMatch {
  uint64_t ref;
};
int match_down(const snow_msg* m, void* ctx) {
  return snow_msg_kind(m) == SNOW_MSG_DOWN && get_u64(m->data) == static_cast<DownMatch*>(ctx)->ref;
}
struct ExitFrom {
  uint64_t pid;
};
int match_exit_from(const snow_msg* m, void* ctx) {
  return snow_msg_kind(m) == SNOW_MSG_EXIT && get_u64(m->data) == static_cast<ExitFrom*>(ctx)->pid;
}

// Stops one child as its spec says and consumes its EXIT message.
void shutdown_child(Child& c) {
  if (!c.pid) return;
  uint64_t pid = c.pid;
  c.pid = 0;
  DownMatch dm{snow_process_monitor(pid)};
  if (c.spec.shutdown_ms == SNOW_SHUTDOWN_BRUTAL_KILL) {
    snow_actor_exit(pid, SNOW_REASON_KILLED);
    snow_actor_receive_match(match_down, &dm, -1);
  } else {
    snow_actor_exit(pid, SNOW_REASON_SHUTDOWN);
    if (!snow_actor_receive_match(match_down, &dm, c.spec.shutdown_ms < 0 ? -1 : c.spec.shutdown_ms)) {
      snow_actor_exit(pid, SNOW_REASON_KILLED);
      snow_actor_receive_match(match_down, &dm, -1);
    }
  }
  // Links fire before monitors, so the EXIT is already in the mailbox.
  ExitFrom ef{pid};
  snow_actor_receive_match(match_exit_from, &ef, 0);
}

void shutdown_from(SupState* st, size_t first) {
  for (size_t i = st->children.size(); i-- > first;) shutdown_child(st->children[i]);
}

[[noreturn]] void sup_exit(SupState* st, const uint8_t* reason, uint64_t len) {
  shutdown_from(st, 0);
  snow_actor_exit_self(reason, len);
}

// Records a restart; false when the intensity is exceeded.
bool allow_restart(SupState* st) {
  int64_t now = now_ns();
  // Saturates: a period of more than ~292 years is "forever", not a
  // negative window that would forget every restart.
  const uint64_t max_ms = uint64_t(INT64_MAX) / 1000000;
  int64_t window = st->period_ms > max_ms ? INT64_MAX : int64_t(st->period_ms) * 1000000;
  while (!st->restarts.empty() && now - st->restarts.front() > window) st->restarts.pop_front();
  st->restarts.push_back(now);
  return st->restarts.size() <= st->max_restarts;
}

bool wants_restart(const Child& c, const uint8_t* reason) {
  switch (c.spec.restart) {
    case SNOW_RESTART_PERMANENT:
      return true;
    case SNOW_RESTART_TRANSIENT:
      return reason[0] != SNOW_REASON_NORMAL && reason[0] != SNOW_REASON_SHUTDOWN;
    default:
      return false;
  }
}

const uint8_t kShutdown[1] = {SNOW_REASON_SHUTDOWN};

void start_or_fail(SupState* st, Child& c) {
  c.pid = start_one(c.spec);
  // A child that cannot be started (its node is unreachable) counts as an
  // immediate exit: its restart goes through the intensity check below when
  // the supervisor sees no pid. Here: try again within the intensity.
  while (!c.pid) {
    if (!allow_restart(st)) sup_exit(st, kShutdown, 1);
    c.pid = start_one(c.spec);
  }
}

// A temporary child is never restarted, not even when a sibling's exit made
// the supervisor stop it (Erlang's rule): it leaves the child list. `from`
// is the first index the restart covers; the exited child there is not
// temporary (it wanted a restart).
void drop_stopped_temporaries(SupState* st, size_t from) {
  for (size_t k = st->children.size(); k-- > from;)
    if (st->children[k].spec.restart == SNOW_RESTART_TEMPORARY && !st->children[k].pid)
      st->children.erase(st->children.begin() + long(k));
}

void on_child_exit(SupState* st, size_t i, const uint8_t* reason) {
  Child& dead = st->children[i];
  dead.pid = 0;
  if (!wants_restart(dead, reason)) {
    st->children.erase(st->children.begin() + long(i));
    return;
  }
  if (!allow_restart(st)) sup_exit(st, kShutdown, 1);
  switch (st->strategy) {
    case SNOW_SUP_ONE_FOR_ALL:
      for (size_t k = st->children.size(); k-- > 0;)
        if (k != i) shutdown_child(st->children[k]);
      drop_stopped_temporaries(st, 0);
      for (Child& c : st->children) start_or_fail(st, c);
      break;
    case SNOW_SUP_REST_FOR_ONE:
      for (size_t k = st->children.size(); k-- > i + 1;) shutdown_child(st->children[k]);
      drop_stopped_temporaries(st, i);
      for (size_t k = i; k < st->children.size(); ++k) start_or_fail(st, st->children[k]);
      break;
    default:
      start_or_fail(st, dead);
      break;
  }
}

void handle_call(SupState* st, const snow_msg* m) {
  uint64_t kind = get_u64(m->data);
  uint64_t caller = get_u64(m->data + 8);
  const uint8_t* payload = m->data + 16;
  uint64_t plen = m->len - 16;
  uint8_t reply[8];
  int64_t result = SNOW_EINVAL;
  if (kind == kCallStartChild && plen >= sizeof(snow_child_spec)) {
    // The spec travels by value with its bytes after it (the caller's
    // memory is not ours to read: its stack may be parked elsewhere).
    snow_child_spec cs;
    std::memcpy(&cs, payload, sizeof cs);
    const uint8_t* extra = payload + sizeof cs;
    if (plen != sizeof cs + cs.args_size + cs.node_len + cs.function_len) {
      put_u64(reply, uint64_t(int64_t(SNOW_EINVAL)));
      snow_service_reply(caller, reply, 8);
      return;
    }
    cs.args = cs.args_size ? extra : nullptr;
    cs.node = cs.node_len ? reinterpret_cast<const char*>(extra + cs.args_size) : nullptr;
    cs.function = cs.function_len ? reinterpret_cast<const char*>(extra + cs.args_size + cs.node_len) : nullptr;
    Child c;
    c.spec = st->strategy == SNOW_SUP_SIMPLE_ONE_FOR_ONE ? instance_of(st->templ, cs) : copy_spec(&cs);
    c.pid = start_one(c.spec);
    result = int64_t(c.pid);
    if (c.pid) st->children.push_back(std::move(c));
  } else if (kind == kCallTerminateChild && plen == 8) {
    uint64_t pid = get_u64(payload);
    result = 1;
    for (size_t i = 0; i < st->children.size(); ++i) {
      if (st->children[i].pid == pid) {
        shutdown_child(st->children[i]);
        st->children.erase(st->children.begin() + long(i));
        result = 0;
        break;
      }
    }
  } else if (kind == kCallCountChildren) {
    result = 0;
    for (const Child& c : st->children)
      if (c.pid) ++result;
  }
  put_u64(reply, uint64_t(result));
  snow_service_reply(caller, reply, 8);
}

void sup_terminate(const uint8_t*, const uint8_t*) {
  std::lock_guard<std::mutex> lk(g_sup_mu);
  auto it = g_sups.find(snow_actor_self());
  if (it != g_sups.end()) {
    delete it->second;
    g_sups.erase(it);
  }
}

void sup_main(const uint8_t* args) {
  SupState* st;
  std::memcpy(&st, args, sizeof st);
  snow_actor_set_trap_exit(true);
  snow_actor_set_terminate(0, sup_terminate);
  for (Child& c : st->children) start_or_fail(st, c);
  for (;;) {
    const snow_msg* m = snow_actor_receive(-1);
    uint32_t kind = snow_msg_kind(m);
    if (kind == SNOW_MSG_EXIT) {
      uint64_t from = get_u64(m->data);
      const uint8_t* reason = m->data + 8;
      bool child = false;
      for (size_t i = 0; i < st->children.size(); ++i) {
        if (st->children[i].pid == from) {
          child = true;
          on_child_exit(st, i, reason);
          break;
        }
      }
      if (!child && reason[0] != SNOW_REASON_NORMAL) {
        // Someone told the supervisor to stop (or a linked non-child died):
        // stop the children and exit with that reason. The reason is copied
        // to this frame because shutting children down receives messages.
        uint8_t local[1024];
        uint64_t n = m->len - 8;
        if (n > sizeof local) sup_exit(st, kShutdown, 1);
        std::memcpy(local, reason, size_t(n));
        sup_exit(st, local, n);
      }
      continue;
    }
    // Only calls that a process of this node made through the supervisor
    // API: a request carries a start function pointer, so a plain message
    // shaped like one (from any process, or a binary from a peer node) must
    // never be taken for it.
    if (kind == SNOW_MSG_USER && m->len >= 16 && get_u64(m->data) >= kCallStartChild &&
        get_u64(m->data) <= kCallCountChildren && get_u64(m->data + 8) != 0 &&
        proc_local_call_sender(proc_current(), m) == get_u64(m->data + 8)) {
      handle_call(st, m);
    }
    // Anything else is not for a supervisor: dropped.
  }
}

bool is_supervisor(uint64_t pid) {
  std::lock_guard<std::mutex> lk(g_sup_mu);
  return g_sups.count(pid) != 0;
}

int64_t call(uint64_t sup, uint64_t kind, const void* payload, uint64_t len) {
  if (!is_supervisor(sup)) return SNOW_ENOPROC;
  if (snow_actor_self() == 0) return SNOW_ENOTPROC;
  // try_call: a supervisor that dies meanwhile is an error code for the
  // caller of the supervisor API, not the caller's exit.
  const snow_msg* r = snow_service_try_call(sup, kind, static_cast<const uint8_t*>(payload), len, -1);
  if (!r) {
    int64_t e = snow_service_last_error();
    return e < 0 ? e : int64_t(SNOW_ENOPROC);
  }
  return int64_t(get_u64(r->data));
}

}  // namespace

bool sup_child_spec_valid(const snow_child_spec* c, bool is_template) {
  if (!c) return false;
  for (uint8_t b : c->reserved_)
    if (b) return false;
  if (c->restart > SNOW_RESTART_TEMPORARY) return false;
  if (c->args_size > SNOW_MAX_MSG_SIZE || (c->args_size && !c->args)) return false;
  bool remote = c->node && c->node_len;
  if (remote) return c->function && c->function_len > 0 && c->node_len <= 255 && c->function_len <= 255;
  return c->start != nullptr || is_template;
}

uint64_t sup_start(const snow_sup_spec* spec) {
  if (!spec || spec->strategy > SNOW_SUP_SIMPLE_ONE_FOR_ONE) return 0;
  for (uint8_t b : spec->reserved_)
    if (b) return 0;
  if (spec->child_count > 100000 || (spec->child_count && !spec->children)) return 0;
  // As in Erlang, the intensity period must be positive (0 would count no
  // restart against the limit).
  if (spec->period_ms == 0) return 0;
  bool simple = spec->strategy == SNOW_SUP_SIMPLE_ONE_FOR_ONE;
  if (simple && spec->child_count != 1) return 0;
  for (uint64_t i = 0; i < spec->child_count; ++i)
    if (!sup_child_spec_valid(&spec->children[i], false)) return 0;
  auto* st = new SupState();
  st->strategy = spec->strategy;
  st->max_restarts = spec->max_restarts;
  st->period_ms = spec->period_ms;
  if (simple) {
    st->templ = copy_spec(&spec->children[0]);
  } else {
    for (uint64_t i = 0; i < spec->child_count; ++i) st->children.push_back(Child{copy_spec(&spec->children[i]), 0});
  }
  // Registered before the process runs, so its terminate callback finds it.
  std::lock_guard<std::mutex> lk(g_sup_mu);
  uint64_t pid = snow_actor_spawn(sup_main, reinterpret_cast<const uint8_t*>(&st), sizeof st, SNOW_PRIO_HIGH);
  if (!pid) {
    delete st;
    return 0;
  }
  g_sups[pid] = st;
  return pid;
}

uint64_t sup_start_child(uint64_t sup, const snow_child_spec* child) {
  if (!child) return 0;
  for (uint8_t b : child->reserved_)
    if (b) return 0;
  if (child->args_size > SNOW_MAX_MSG_SIZE || (child->args_size && !child->args)) return 0;
  if (child->restart > SNOW_RESTART_TEMPORARY) return 0;
  uint64_t node_len = child->node ? child->node_len : 0;
  uint64_t fn_len = child->function ? child->function_len : 0;
  if (node_len > 255 || fn_len > 255) return 0;
  std::vector<uint8_t> payload(sizeof *child + child->args_size + node_len + fn_len);
  snow_child_spec copy = *child;
  copy.node_len = node_len;
  copy.function_len = fn_len;
  std::memcpy(payload.data(), &copy, sizeof copy);
  uint8_t* extra = payload.data() + sizeof copy;
  if (child->args_size) std::memcpy(extra, child->args, size_t(child->args_size));
  if (node_len) std::memcpy(extra + child->args_size, child->node, size_t(node_len));
  if (fn_len) std::memcpy(extra + child->args_size + node_len, child->function, size_t(fn_len));
  int64_t r = call(sup, kCallStartChild, payload.data(), payload.size());
  return r > 0 ? uint64_t(r) : 0;
}

int64_t sup_terminate_child(uint64_t sup, uint64_t child) {
  uint8_t p[8];
  put_u64(p, child);
  return call(sup, kCallTerminateChild, p, 8);
}

int64_t sup_count_children(uint64_t sup) { return call(sup, kCallCountChildren, nullptr, 0); }

}  // namespace snow::rt
