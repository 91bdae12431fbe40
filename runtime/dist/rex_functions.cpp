// The functions rex answers with this node's data (rex.h has the
// vocabulary). Each reads the runtime through proc's introspection calls
// (proc_list, proc_info, proc_stats, and proc_relations, which asks the
// process itself and waits: introspect.h) and encodes its value as
// the Erlang function would return it; docs/operating.md ("rex: standard
// Erlang tools") lists them with what each value means here.
//
//   erlang:node/0, nodes/0, nodes/1, processes/0, process_info/2,
//   whereis/1, statistics/1, memory/0, memory/1, system_info/1
//   snowrt:log_level/0, snowrt:log_level/1 (libsnowrt's own)
//
// Arguments come from a peer: every read checks its type, and a refused
// argument is badarg, as the BIF raises it.
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/rex.h"
#include "runtime/proc/introspect.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

namespace {

// The arguments of a call, as views into the copied list.
struct Args {
  etf::View item[2];
  uint32_t count = 0;
};

bool read_args(const RexCall& call, Args* out) {
  etf::View list;
  if (!etf::view_of(call.args.data(), call.args.size(), &list)) return false;
  etf::Elements items(list);
  if (!items.ok() || !items.is_list() || items.count() > 2) return false;
  while (out->count < items.count() && items.next(&out->item[out->count])) ++out->count;
  return out->count == items.count();
}

// An Erlang string ("..." is a list of characters): STRING_EXT.
void write_string(Writer& w, std::string_view s) {
  w.u8(etf::kString);
  w.u16(uint16_t(s.size()));
  w.raw(s.data(), s.size());
}

// {Key, Value} with an integer value.
void write_pair(Writer& w, std::string_view key, uint64_t value) {
  w.tuple(2);
  w.atom(key);
  w.unsigned_integer(value);
}

// The local live process a pid term names: 1 found (*pid set), 0 a pid of
// this node that is not alive (undefined), -1 not a pid of this node
// (badarg, as process_info raises for a remote pid).
int local_process(etf::View t, uint64_t* pid, snow_proc_info* info) {
  etf::Pid p;
  if (!etf::read_pid(t, &p) || p.node != D.name) return -1;
  if (p.creation != D.creation) return 0;
  *pid = local_pid_make(p.id, p.serial);
  return *pid && proc_info(*pid, info) == 0 ? 1 : 0;
}

// ------------------------------------------------------------------ process_info

// {snowrt, Symbol, 1} for the entry function (its dynamic symbol name, or
// its address when it has none), undefined when there is none (the main
// process, attached threads).
void write_function(Writer& w, uint64_t entry) {
  if (!entry) {
    w.atom("undefined");
    return;
  }
  Dl_info dl{};
  char text[32];
  std::string_view name;
  if (dladdr(reinterpret_cast<void*>(entry), &dl) && dl.dli_sname && dl.dli_saddr == reinterpret_cast<void*>(entry) &&
      etf::atom_text_ok(dl.dli_sname) && std::strlen(dl.dli_sname) <= 255) {
    name = dl.dli_sname;
  } else {
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(entry));
    name = text;
  }
  w.tuple(3);
  w.atom("snowrt");
  w.atom(name);
  w.integer(1);
}

// The items whose value only the process itself can read (its link and
// monitor tables): asked of it with proc_relations.
bool is_relation_item(std::string_view item) { return item == "links" || item == "monitors" || item == "monitored_by"; }

// [Pid, ...], or [{process, Pid}, ...] for the monitors a process holds (by
// pid: libsnowrt has no monitors by registered name, which OTP lists as
// {process, {Name, Node}}).
void write_pids(Writer& w, const std::vector<uint64_t>& pids, bool as_monitors) {
  if (!pids.empty()) w.list(uint32_t(pids.size()));
  for (uint64_t pid : pids) {
    if (as_monitors) {
      w.tuple(2);
      w.atom("process");
    }
    write_pid(w, pid);
  }
  w.nil();
}

// The value of one process_info item; false for an item not answered here.
bool write_item_value(Writer& w, const snow_proc_info& pi, const ProcessRelations& rel, std::string_view item) {
  if (item == "registered_name") {
    std::string_view name(reinterpret_cast<const char*>(pi.name), pi.name_len);
    if (!name.empty() && etf::atom_text_ok(name)) w.atom(name);
    else w.nil();
  } else if (item == "status") {
    w.atom(proc_status_name(pi.status));
  } else if (item == "message_queue_len") {
    w.unsigned_integer(pi.message_queue_len);
  } else if (item == "heap_size" || item == "total_heap_size") {
    w.unsigned_integer(pi.heap_size / sizeof(void*));  // words, as Erlang counts
  } else if (item == "memory") {
    w.unsigned_integer(pi.heap_size + sizeof(snow_proc_info));
  } else if (item == "reductions") {
    w.unsigned_integer(pi.reductions);
  } else if (item == "current_function" || item == "initial_call") {
    write_function(w, pi.entry);
  } else if (item == "links") {
    write_pids(w, rel.links, false);
  } else if (item == "monitors") {
    write_pids(w, rel.monitors, true);
  } else if (item == "monitored_by") {
    write_pids(w, rel.monitored_by, false);
  } else if (item == "link_count") {
    w.unsigned_integer(pi.links);
  } else if (item == "monitor_count") {
    w.unsigned_integer(pi.monitors);
  } else if (item == "monitored_by_count") {
    w.unsigned_integer(pi.monitored_by);
  } else {
    return false;
  }
  return true;
}

// The items asked for: one atom (*single) or a proper list of atoms, each
// answered here; false (badarg) otherwise.
bool read_items(etf::View t, std::vector<std::string>* items, bool* single) {
  std::string item;
  const snow_proc_info none{};
  const ProcessRelations no_relations;
  Writer scratch;
  *single = etf::read_atom(t, &item);
  if (*single) {
    items->push_back(item);
  } else {
    etf::Elements list(t);
    if (!list.ok() || !list.is_list()) return false;
    etf::View e;
    while (list.next(&e)) {
      if (!etf::read_atom(e, &item)) return false;
      items->push_back(item);
    }
    if (list.tail().tag() != etf::kNil) return false;
  }
  for (const std::string& i : *items)
    if (!write_item_value(scratch, none, no_relations, i)) return false;
  return true;
}

// process_info(Pid, Item) -> {Item, Value} (registered_name of a process
// without a name: []); process_info(Pid, [Item]) -> [{Item, Value}]; a
// process that is not alive: undefined. Links and monitors are asked of the
// process (it answers when it next applies its signals, woken if parked);
// one that exits first is undefined, one that does not answer within
// kRexAskTimeoutMs (running without reaching such a point) is a timeout.
RexOutcome process_info(const Args& a, Writer& w) {
  snow_proc_info pi;
  uint64_t pid = 0;
  int found = local_process(a.item[0], &pid, &pi);
  if (found < 0) return RexOutcome::Badarg;
  std::vector<std::string> items;
  bool single;
  if (!read_items(a.item[1], &items, &single)) return RexOutcome::Badarg;
  ProcessRelations rel;
  if (found && std::any_of(items.begin(), items.end(), [](const std::string& i) { return is_relation_item(i); })) {
    int32_t rc = proc_relations(pid, &rel, kRexAskTimeoutMs);
    if (rc == SNOW_ETIMEDOUT) return RexOutcome::Timeout;
    if (rc != 0) found = 0;
  }
  if (!found) {
    w.atom("undefined");
    return RexOutcome::Return;
  }
  if (single && items[0] == "registered_name" && pi.name_len == 0) {
    w.nil();
    return RexOutcome::Return;
  }
  if (!single && !items.empty()) w.list(uint32_t(items.size()));
  for (const std::string& item : items) {
    w.tuple(2);
    w.atom(item);
    write_item_value(w, pi, rel, item);
  }
  if (!single) w.nil();
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ processes

RexOutcome processes(Writer& w) {
  std::vector<uint64_t> pids = proc_live_pids();
  if (!pids.empty()) w.list(uint32_t(pids.size()));
  for (uint64_t p : pids) write_pid(w, p);
  w.nil();
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ statistics

int64_t ms_of(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The library's load: wall_clock counts from here.
const int64_t g_loaded_ms = ms_of(CLOCK_MONOTONIC);

// {Total, SinceLastCall} with the last total kept per key, as statistics/1
// does (per node: every caller shares it).
void write_total_and_delta(Writer& w, std::atomic<uint64_t>& last, uint64_t total) {
  uint64_t before = last.exchange(total, std::memory_order_relaxed);
  w.tuple(2);
  w.unsigned_integer(total);
  w.unsigned_integer(total >= before ? total - before : total);
}

RexOutcome statistics(const Args& a, Writer& w) {
  static std::atomic<uint64_t> last_reductions{0}, last_wall{0}, last_runtime{0};
  std::string key;
  if (!etf::read_atom(a.item[0], &key)) return RexOutcome::Badarg;
  if (key == "reductions") {
    // Of the live processes: an exited process's count leaves with it.
    uint64_t total = 0;
    snow_proc_info pi;
    for (uint64_t p : proc_live_pids())
      if (proc_info(p, &pi) == 0) total += pi.reductions;
    write_total_and_delta(w, last_reductions, total);
  } else if (key == "wall_clock") {
    write_total_and_delta(w, last_wall, uint64_t(ms_of(CLOCK_MONOTONIC) - g_loaded_ms));
  } else if (key == "runtime") {
    write_total_and_delta(w, last_runtime, uint64_t(ms_of(CLOCK_PROCESS_CPUTIME_ID)));
  } else {
    return RexOutcome::Badarg;
  }
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ memory

// erlang:memory's keys and what they are here: total is the resident set
// of the OS process, processes the process heaps (blocks in use),
// processes_used their live bytes at the last collection, system the rest;
// libsnowrt has no atom table, binary heap, code area or ETS: 0.
struct MemoryFigures {
  uint64_t total, processes, processes_used, system;
};

MemoryFigures memory_figures() {
  snow_stats st;
  proc_stats(&st);
  uint64_t resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0, pages = 0;
    if (std::fscanf(f, "%llu %llu", &size, &pages) == 2) resident = pages * uint64_t(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  MemoryFigures m{};
  m.processes = st.heap_bytes;
  m.processes_used = std::min(st.heap_live_bytes, st.heap_bytes);
  m.total = std::max(resident, m.processes);
  m.system = m.total - m.processes;
  return m;
}

constexpr std::string_view kMemoryKeys[] = {"total",     "processes", "processes_used", "system", "atom",
                                            "atom_used", "binary",    "code",           "ets"};

bool memory_value(const MemoryFigures& m, std::string_view key, uint64_t* out) {
  if (key == "total") *out = m.total;
  else if (key == "processes") *out = m.processes;
  else if (key == "processes_used") *out = m.processes_used;
  else if (key == "system") *out = m.system;
  else if (key == "atom" || key == "atom_used" || key == "binary" || key == "code" || key == "ets") *out = 0;
  else return false;
  return true;
}

RexOutcome memory(const Args& a, Writer& w) {
  MemoryFigures m = memory_figures();
  uint64_t v;
  if (a.count == 0) {
    w.list(uint32_t(std::size(kMemoryKeys)));
    for (std::string_view k : kMemoryKeys) {
      memory_value(m, k, &v);
      write_pair(w, k, v);
    }
    w.nil();
    return RexOutcome::Return;
  }
  std::string key;
  if (etf::read_atom(a.item[0], &key)) {
    if (!memory_value(m, key, &v)) return RexOutcome::Badarg;
    w.unsigned_integer(v);
    return RexOutcome::Return;
  }
  etf::Elements keys(a.item[0]);
  if (!keys.ok() || !keys.is_list()) return RexOutcome::Badarg;
  Writer list;
  etf::View t;
  while (keys.next(&t)) {
    if (!etf::read_atom(t, &key) || !memory_value(m, key, &v)) return RexOutcome::Badarg;
    write_pair(list, key, v);
  }
  if (keys.tail().tag() != etf::kNil) return RexOutcome::Badarg;
  if (keys.count()) w.list(keys.count());
  w.raw(list.buf.data(), list.buf.size());
  w.nil();
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ system_info

// The keys answered; otp_release and the other OTP-specific keys are
// badarg: this node is not an Erlang/OTP runtime (docs/operating.md).
RexOutcome system_info(const Args& a, Writer& w) {
  std::string key;
  if (!etf::read_atom(a.item[0], &key)) return RexOutcome::Badarg;
  snow_stats st;
  proc_stats(&st);
  if (key == "process_count") {
    w.unsigned_integer(st.processes_alive);
  } else if (key == "process_limit") {
    w.unsigned_integer(uint64_t(1) << 24);  // the 24-bit pid id field
  } else if (key == "schedulers" || key == "schedulers_online") {
    w.unsigned_integer(st.schedulers);
  } else if (key == "logical_processors" || key == "logical_processors_online") {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) w.unsigned_integer(uint64_t(n));
    else w.atom("unknown");
  } else if (key == "wordsize") {
    w.unsigned_integer(sizeof(void*));
  } else if (key == "version") {
    char text[32];
    std::snprintf(text, sizeof text, "libsnowrt-%d", SNOW_ABI_VERSION);
    write_string(w, text);
  } else if (key == "system_version") {
    char text[96];
    std::snprintf(text, sizeof text, "libsnowrt (ABI %d), not an Erlang/OTP runtime [schedulers:%llu]\n",
                  SNOW_ABI_VERSION, static_cast<unsigned long long>(st.schedulers));
    write_string(w, text);
  } else {
    return RexOutcome::Badarg;
  }
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ nodes

void write_nodes(Writer& w, const std::vector<const std::vector<std::string>*>& groups, bool self) {
  uint32_t n = self ? 1 : 0;
  for (auto* g : groups) n += uint32_t(g->size());
  if (n) w.list(n);
  if (self) w.atom(D.name);
  for (auto* g : groups)
    for (const std::string& name : *g) w.atom(name);
  w.nil();
}

// nodes(Arg): Arg an atom or a list of atoms among visible, hidden,
// connected, this, known (known: the connected ones and this node).
RexOutcome nodes(const RexCall& call, const Args& a, Writer& w) {
  bool visible = a.count == 0, hidden = false, self = false;
  auto take = [&](std::string_view k) {
    if (k == "visible") visible = true;
    else if (k == "hidden") hidden = true;
    else if (k == "connected") visible = hidden = true;
    else if (k == "this") self = true;
    else if (k == "known") visible = hidden = self = true;
    else return false;
    return true;
  };
  std::string key;
  if (a.count == 1 && etf::read_atom(a.item[0], &key)) {
    if (!take(key)) return RexOutcome::Badarg;
  } else if (a.count == 1) {
    etf::Elements keys(a.item[0]);
    etf::View t;
    if (!keys.ok() || !keys.is_list()) return RexOutcome::Badarg;
    while (keys.next(&t))
      if (!etf::read_atom(t, &key) || !take(key)) return RexOutcome::Badarg;
    if (keys.tail().tag() != etf::kNil) return RexOutcome::Badarg;
  }
  std::vector<const std::vector<std::string>*> groups;
  if (visible) groups.push_back(&call.visible);
  if (hidden) groups.push_back(&call.hidden);
  write_nodes(w, groups, self);
  return RexOutcome::Return;
}

// ------------------------------------------------------------------ snowrt

constexpr std::string_view kLevelNames[] = {"error", "warning", "info", "debug"};

// snowrt:log_level() -> the level in force; snowrt:log_level(Level) sets
// it and returns the one before (Level: error | warning | info | debug).
RexOutcome log_level_call(const Args& a, Writer& w) {
  if (a.count == 0) {
    w.atom(kLevelNames[log_level() & 3]);
    return RexOutcome::Return;
  }
  std::string level;
  if (!etf::read_atom(a.item[0], &level)) return RexOutcome::Badarg;
  int32_t value = -1;
  for (int32_t i = 0; i < 4; ++i)
    if (level == kLevelNames[i]) value = i;
  if (value < 0) return RexOutcome::Badarg;
  w.atom(kLevelNames[log_set_level(value) & 3]);
  return RexOutcome::Return;
}

}  // namespace

bool rex_wants_nodes(const RexCall& call) { return call.module == "erlang" && call.function == "nodes"; }

RexOutcome rex_evaluate(const RexCall& call, Writer& w) {
  Args a;
  // No function here takes more than 2 arguments, or only integers (a
  // list of bytes travels as a string).
  if (!read_args(call, &a)) return RexOutcome::Undef;
  std::string_view f = call.function;
  uint32_t n = a.count;
  if (call.module == "snowrt") {
    if (f == "log_level" && n <= 1) return log_level_call(a, w);
    return RexOutcome::Undef;
  }
  if (call.module != "erlang") return RexOutcome::Undef;
  if (f == "node" && n == 0) {
    w.atom(D.name);
    return RexOutcome::Return;
  }
  if (f == "nodes" && n <= 1) return nodes(call, a, w);
  if (f == "processes" && n == 0) return processes(w);
  if (f == "process_info" && n == 2) return process_info(a, w);
  if (f == "whereis" && n == 1) {
    std::string name;
    if (!etf::read_atom(a.item[0], &name)) return RexOutcome::Badarg;
    uint64_t pid = proc_whereis(name);
    if (pid) write_pid(w, pid);
    else w.atom("undefined");
    return RexOutcome::Return;
  }
  if (f == "statistics" && n == 1) return statistics(a, w);
  if (f == "memory" && n <= 1) return memory(a, w);
  if (f == "system_info" && n == 1) return system_info(a, w);
  return RexOutcome::Undef;
}

}  // namespace snow::rt::dist
