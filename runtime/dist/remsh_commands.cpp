// The remote console's commands (remsh.h): reading a line and answering it
// with the runtime's data, as text. Everything here is read-only except
// `log-level LEVEL`. Pids are shown as <0.Id.Serial>, the Id and Serial an
// erl node shows for the same process (its first number is erl's own
// index of our node; `info` takes either form).
#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/common/common.h"
#include "runtime/dist/dist.h"
#include "runtime/dist/remsh.h"
#include "runtime/proc/introspect.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

namespace {

// How many processes `processes` lists.
constexpr size_t kTopProcesses = 10;

constexpr const char* kLevelNames[] = {"error", "warning", "info", "debug"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(line, std::min(size_t(n), sizeof line - 1));
}

std::string pid_text(uint64_t pid) {
  char text[40];
  std::snprintf(text, sizeof text, "<0.%u.%u>", local_pid_id(pid), local_pid_serial(pid));
  return text;
}

// <N.Id.Serial> or N.Id.Serial (N ignored: it is the viewer's index of this
// node) -> a local pid; 0 when `s` is not one.
uint64_t parse_pid(std::string_view s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  unsigned long long part[3];
  for (size_t n = 0; n < 3; ++n) {
    size_t dot = s.find('.');
    if ((n < 2) != (dot != std::string_view::npos)) return 0;  // exactly three parts
    std::string_view digits = s.substr(0, dot);
    if (digits.empty() || digits.size() > 9) return 0;
    part[n] = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return 0;
      part[n] = part[n] * 10 + unsigned(ch - '0');
    }
    if (dot != std::string_view::npos) s.remove_prefix(dot + 1);
  }
  return local_pid_make(uint32_t(std::min<unsigned long long>(part[1], 0xFFFFFFFF)),
                        uint32_t(std::min<unsigned long long>(part[2], 0xFFFFFFFF)));
}

std::string_view name_of(const snow_proc_info& pi) {
  return {reinterpret_cast<const char*>(pi.name), size_t(std::min<uint64_t>(pi.name_len, sizeof pi.name))};
}

std::string help() {
  return "Commands (read-only, except log-level with a level):\n"
         "  processes        how many processes run here, and the 10 longest message queues\n"
         "  info <pid>       one process (<0.Id.Serial>, or the pid your erl shows)\n"
         "  nodes            this node and the nodes connected to it\n"
         "  stats            the runtime's figures (snow_rt_stats)\n"
         "  log-level [L]    the log level; with L (error, warning, info, debug) sets it\n"
         "  quit             close this console (the node keeps running)\n";
}

std::string processes() {
  std::vector<uint64_t> pids = proc_live_pids();
  struct Row {
    uint64_t pid;
    snow_proc_info info;
  };
  std::vector<Row> rows;
  rows.reserve(pids.size());
  for (uint64_t p : pids) {
    Row r{p, {}};
    if (proc_info(p, &r.info) == 0) rows.push_back(r);
  }
  size_t top = std::min(rows.size(), kTopProcesses);
  std::partial_sort(rows.begin(), rows.begin() + ptrdiff_t(top), rows.end(),
                    [](const Row& a, const Row& b) { return a.info.message_queue_len > b.info.message_queue_len; });
  std::string out;
  appendf(out, "%llu processes. Longest message queues:\n", static_cast<unsigned long long>(pids.size()));
  for (size_t i = 0; i < top; ++i) {
    const Row& r = rows[i];
    std::string_view name = name_of(r.info);
    appendf(out, "  %-24s queue %-8llu reductions %-12llu %-8s %.*s\n", pid_text(r.pid).c_str(),
            static_cast<unsigned long long>(r.info.message_queue_len),
            static_cast<unsigned long long>(r.info.reductions), proc_status_name(r.info.status), int(name.size()),
            name.data());
  }
  return out;
}

std::string info(std::string_view arg) {
  uint64_t pid = parse_pid(arg);
  if (!pid) return "info: give a pid of this node, as <0.Id.Serial>\n";
  snow_proc_info pi;
  if (proc_info(pid, &pi) != 0) return pid_text(pid) + " is not alive\n";
  std::string out;
  std::string_view name = name_of(pi);
  appendf(out, "%s %s\n", pid_text(pid).c_str(), proc_status_name(pi.status));
  if (!name.empty()) appendf(out, "  registered_name    %.*s\n", int(name.size()), name.data());
  appendf(out, "  message_queue_len  %llu\n", static_cast<unsigned long long>(pi.message_queue_len));
  appendf(out, "  links              %llu\n", static_cast<unsigned long long>(pi.links));
  appendf(out, "  monitors           %llu\n", static_cast<unsigned long long>(pi.monitors));
  appendf(out, "  monitored_by       %llu\n", static_cast<unsigned long long>(pi.monitored_by));
  appendf(out, "  heap_bytes         %llu\n", static_cast<unsigned long long>(pi.heap_size));
  appendf(out, "  reductions         %llu\n", static_cast<unsigned long long>(pi.reductions));
  return out;
}

std::string nodes() {
  std::vector<std::string> names = dist_connected_nodes();
  std::sort(names.begin(), names.end());
  std::string out = dist_node_name() + " (this node)\n";
  for (const std::string& n : names) out += "  " + printable(n) + "\n";
  appendf(out, "%zu connected\n", names.size());
  return out;
}

std::string stats() {
  snow_stats st;
  proc_stats(&st);
  std::string out;
  auto row = [&](const char* key, uint64_t v) {
    appendf(out, "  %-22s %llu\n", key, static_cast<unsigned long long>(v));
  };
  row("processes_alive", st.processes_alive);
  row("processes_spawned", st.processes_spawned);
  row("processes_exited", st.processes_exited);
  row("messages_sent", st.messages_sent);
  row("schedulers", st.schedulers);
  row("timers_pending", st.timers_pending);
  row("nodes_connected", st.nodes_connected);
  row("remote_pids", st.remote_pids);
  row("heap_bytes", st.heap_bytes);
  row("heap_live_bytes", st.heap_live_bytes);
  row("gc_collections", st.gc_collections);
  row("alias_sends_dropped", st.alias_sends_dropped);
  row("dist_messages_refused", st.dist_messages_refused);
  return out;
}

std::string log_level_command(std::string_view arg) {
  if (arg.empty()) return std::string("log level: ") + kLevelNames[log_level() & 3] + "\n";
  for (int32_t i = 0; i < 4; ++i) {
    if (arg == kLevelNames[i]) {
      int32_t before = log_set_level(i);
      return std::string("log level: ") + kLevelNames[i] + " (was " + kLevelNames[before & 3] + ")\n";
    }
  }
  return "log-level: give one of error, warning, info, debug\n";
}

}  // namespace

ConsoleCommand console_parse(std::string_view line) {
  ConsoleCommand cmd;
  if (line.size() > kConsoleMaxLine) {
    cmd.verb = ConsoleVerb::TooLong;
    return cmd;
  }
  line = trim(line);
  if (line.empty()) return cmd;
  if (line.back() == '.' || line.find_first_of("(:") != std::string_view::npos) {
    cmd.verb = ConsoleVerb::ErlangCode;
    return cmd;
  }
  size_t space = line.find_first_of(" \t");
  std::string_view word = line.substr(0, space);
  if (space != std::string_view::npos) cmd.arg = std::string(trim(line.substr(space)));
  struct Known {
    std::string_view word;
    ConsoleVerb verb;
  };
  static constexpr Known kWords[] = {
      {"help", ConsoleVerb::Help},          {"?", ConsoleVerb::Help},      {"processes", ConsoleVerb::Processes},
      {"info", ConsoleVerb::Info},          {"nodes", ConsoleVerb::Nodes}, {"stats", ConsoleVerb::Stats},
      {"log-level", ConsoleVerb::LogLevel}, {"quit", ConsoleVerb::Quit},   {"exit", ConsoleVerb::Quit}};
  cmd.verb = ConsoleVerb::Unknown;
  for (const Known& k : kWords)
    if (word == k.word) cmd.verb = k.verb;
  if (cmd.verb == ConsoleVerb::Unknown) cmd.arg = std::string(word.substr(0, 64));
  return cmd;
}

std::string console_answer(const ConsoleCommand& cmd) {
  std::string out;
  switch (cmd.verb) {
    case ConsoleVerb::Empty:
      break;
    case ConsoleVerb::Help:
      out = help();
      break;
    case ConsoleVerb::Processes:
      out = processes();
      break;
    case ConsoleVerb::Info:
      out = info(cmd.arg);
      break;
    case ConsoleVerb::Nodes:
      out = nodes();
      break;
    case ConsoleVerb::Stats:
      out = stats();
      break;
    case ConsoleVerb::LogLevel:
      out = log_level_command(cmd.arg);
      break;
    case ConsoleVerb::Quit:
      out =
          "Closing the console; this node keeps running. erl now shows \"*** Shell process terminated! ***\":\n"
          "press Ctrl-G, then q to leave erl (s, then c, for a local shell).\n";
      break;
    case ConsoleVerb::ErlangCode:
      out =
          "This node runs no Erlang: nothing is evaluated here (q(). and init:stop() do not stop it).\n"
          "Use rpc:call from your own erl shell, or type help.\n";
      break;
    case ConsoleVerb::TooLong:
      out = "Line too long (over 1024 bytes): ignored. Type help for the commands.\n";
      break;
    case ConsoleVerb::Unknown:
      out = "Unknown command " + printable(cmd.arg) + ": type help for the commands, quit to leave.\n";
      break;
  }
  if (out.size() > kConsoleMaxOutput) {
    out.resize(kConsoleMaxOutput);
    out += "\n... (cut at 16 KiB)\n";
  }
  return out;
}

std::string console_banner() {
  std::string name = dist_node_name();
  std::string out;
  appendf(out,
          "This is %s, a libsnowrt node (ABI %d): it runs no Erlang shell.\n"
          "Nothing typed here is evaluated as Erlang; q(). and init:stop() here do not stop the node.\n",
          name.c_str(), SNOW_ABI_VERSION);
  out += "This console answers: help, processes, info <pid>, nodes, stats, log-level [LEVEL], quit.\n";
  appendf(out, "From your own erl shell: rpc:call('%s', erlang, processes, []) and the other functions\n",
          name.c_str());
  out +=
      "listed in docs/operating.md (\"rex\"); from a terminal: snowctl. See docs/operating.md, \"Remote console\".\n";
  return out;
}

}  // namespace snow::rt::dist
