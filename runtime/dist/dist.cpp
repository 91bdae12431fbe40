// The distribution's calls (dist.h) as abi/src and the process layer make
// them: argument checks, then a command for the loop (start, stop,
// connect, disconnect) or a call into the subsystem that does the work.
// The hooks on the hot paths of the scheduler and of proc_deliver live
// with the machinery they drive: dist_deliver (send.cpp), dist_flush_slice
// (outbox.cpp), dist_poll_io and dist_poll_io_done (loop.cpp). This file
// also holds the module's one Dist. Threads: any, as each call says in
// dist.h; start and stop block their caller until the loop has done them.
#include <arpa/inet.h>

#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

// Never destroyed: threads a program leaves running may still call in while
// static destructors run at exit.
Dist& D = *new Dist();
const bool g_trace = getenv("SNOW_DIST_TRACE") != nullptr;

namespace {

// Parses a node argument; *self tells whether it names this node. The
// strings it makes are gone when it returns (a process must not hold
// anything that owns memory on its stack while it waits: loop.cpp).
bool node_arg(std::string_view node, bool* self) {
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return false;
  *self = name == D.name;
  return true;
}

// Where the listener goes, like Erlang's kernel parameters
// inet_dist_use_interface and inet_dist_listen_min/max:
// SNOW_DIST_USE_INTERFACE (an IPv4 address; default 0.0.0.0, every
// interface, as erl) and SNOW_DIST_LISTEN_MIN/MAX (a port range; default:
// any port). false (and a log line) when a setting is malformed.
bool read_listen_settings() {
  D.listen_interface = "0.0.0.0";
  D.listen_min = D.listen_max = 0;
  if (const char* a = getenv("SNOW_DIST_USE_INTERFACE"); a && *a) {
    in_addr ip;
    if (inet_pton(AF_INET, a, &ip) != 1) {
      log_line("snowrt: SNOW_DIST_USE_INTERFACE=%s is not an IPv4 address", a);
      return false;
    }
    D.listen_interface = a;
  }
  auto port_of = [](const char* var, int* out) {
    const char* v = getenv(var);
    if (!v || !*v) return true;
    char* end;
    long p = strtol(v, &end, 10);
    if (*end != 0 || p < 1 || p > 65535) {
      log_line("snowrt: %s=%s is not a port number", var, v);
      return false;
    }
    *out = int(p);
    return true;
  };
  int lo = 0, hi = 0;
  if (!port_of("SNOW_DIST_LISTEN_MIN", &lo) || !port_of("SNOW_DIST_LISTEN_MAX", &hi)) return false;
  if (lo && !hi) hi = lo;
  if (hi && !lo) lo = hi;
  if (lo > hi) {
    log_line("snowrt: SNOW_DIST_LISTEN_MIN (%d) is above SNOW_DIST_LISTEN_MAX (%d)", lo, hi);
    return false;
  }
  D.listen_min = lo;
  D.listen_max = hi;
  return true;
}

// The port mapper's port on every host: ERL_EPMD_PORT, as erl reads it
// (default 4369). false (and a log line) when it is not a port number.
bool read_epmd_port() {
  D.epmd_port = epmd::kPort;
  const char* v = getenv("ERL_EPMD_PORT");
  if (!v || !*v) return true;
  char* end;
  long p = strtol(v, &end, 10);
  if (*end != 0 || p < 1 || p > 65535) {
    log_line("snowrt: ERL_EPMD_PORT=%s is not a port number", v);
    return false;
  }
  D.epmd_port = uint16_t(p);
  return true;
}

// Whether the node is visible to its peers: SNOW_DIST_VISIBLE=1 or true
// (like erl without -hidden); unset, empty, 0 or false: hidden (the
// default, as an ei C node). false (and a log line) for anything else.
bool read_visibility() {
  D.visible = false;
  const char* v = getenv("SNOW_DIST_VISIBLE");
  if (!v || !*v || strcmp(v, "0") == 0 || strcmp(v, "false") == 0) return true;
  if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
    D.visible = true;
    return true;
  }
  log_line("snowrt: SNOW_DIST_VISIBLE=%s is not 0, 1, false or true", v);
  return false;
}

// The per-message limit on what peers send: SNOW_DIST_MAX_MESSAGE, in
// bytes, from 1024 to SNOW_MAX_MSG_SIZE (the default). false (and a log
// line) when it is malformed or out of range.
bool read_max_message() {
  D.max_message = kDefaultMaxMessage;
  const char* v = getenv("SNOW_DIST_MAX_MESSAGE");
  if (!v || !*v) return true;
  char* end;
  errno = 0;
  unsigned long long m = strtoull(v, &end, 10);
  if (*end != 0 || errno != 0 || v[0] == '-' || m < 1024 || m > SNOW_MAX_MSG_SIZE) {
    log_line("snowrt: SNOW_DIST_MAX_MESSAGE=%s is not a byte count from 1024 to %llu", v,
             static_cast<unsigned long long>(SNOW_MAX_MSG_SIZE));
    return false;
  }
  D.max_message = m;
  return true;
}

}  // namespace

}  // namespace snow::rt::dist

namespace snow::rt {

using namespace dist;

bool dist_started() { return D.started.load(std::memory_order_acquire); }

const DistHooks& dist_proc_hooks() {
  static const DistHooks hooks{dist_started,
                               dist_stop,
                               dist_deliver,
                               dist_flush_slice,
                               dist_poll_io,
                               dist_poll_io_done,
                               dist_node_monitor,
                               dist_node_demonitor,
                               dist_monitor_all,
                               dist_nodes_connected,
                               dist_node_entries,
                               dist_remote_pids,
                               dist_alias_sends_dropped,
                               dist_messages_refused,
                               dist_send_busy,
                               dist_busy_enlist};
  return hooks;
}

int64_t dist_test_feed(const TestFeed& f) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  auto w = std::make_shared<Waiter>();
  Command c{CmdType::TestFeed, {}, w, 0, &f};
  post(std::move(c));
  std::unique_lock<std::mutex> lk(w->m);
  w->cv.wait(lk, [&] { return w->done; });
  return w->result;
}

int64_t dist_start(std::string_view full, std::string_view cookie) {
  {
    // A peer that closes while we write must not kill this OS process
    // (libuv writes without MSG_NOSIGNAL). Only the default is replaced.
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
      signal(SIGPIPE, SIG_IGN);
  }
  std::string name, host;
  int port;
  if (!parse_node(full, &name, &host, &port)) return SNOW_EBADNAME;
  if (!proc_runtime_started()) return SNOW_ENOTSTARTED;
  if (dist_started()) return SNOW_EALREADY;
  std::string secret(cookie);
  if (secret.empty())
    if (int64_t rc = read_default_cookie(&secret); rc != 0) return rc;
  if (D.started.exchange(true)) return SNOW_EALREADY;
  if (!read_listen_settings() || !read_visibility() || !read_epmd_port() || !read_max_message()) {
    D.started.store(false);
    return SNOW_EINVAL;
  }
  TlsSettings tls;
  if (int64_t rc = tls_resolve_settings(&tls); rc != 0 || (rc = tls_start(tls)) != 0) {
    D.started.store(false);
    return rc;
  }
  D.name = name;
  D.cookie = std::move(secret);
  D.listen_port = port;
  D.creation = 0;
  D.epmd_attempts = 0;
  D.epmd_backoff_ms = 100;
  D.epmd_registered = false;
  D.epmd_reg_open = false;
  D.epmd_spawned = false;
  D.epmd_buf.clear();
  D.stopping = false;
  start_loop_thread();
  int64_t rc = command_and_wait(CmdType::Start, {}, -1);
  if (rc != 0) {
    dist_stop();
    D.started.store(false);
  }
  return rc;
}

int64_t dist_set_tls(std::string_view key, std::string_view value) { return tls_set_option(key, value); }

int64_t dist_stop() {
  if (!D.loop_ready) return SNOW_ENOTSTARTED;
  post_and_block(CmdType::Stop, {}, 0, -1);  // a thread wait: the loop is going away
  end_loop_thread();
  tls_stop();
  // Node monitors stay registered: they were reported down by the stop and
  // report NODEUP again when a restarted node reconnects, until cancelled.
  D.started.store(false, std::memory_order_release);
  proc_runtime_poke();
  return 0;
}

int64_t dist_connect(std::string_view node) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  bool self;
  if (!node_arg(node, &self)) return SNOW_EBADNAME;
  if (self) return 0;
  return command_and_wait(CmdType::Connect, node, 3 * kHandshakeTimeoutMs);
}

int64_t dist_disconnect(std::string_view node) {
  if (!dist_started()) return SNOW_ENOTSTARTED;
  bool self;
  if (!node_arg(node, &self)) return SNOW_EBADNAME;
  // The loop looks the node up without a port.
  size_t at = node.find('@');
  size_t colon = node.rfind(':');
  if (colon != std::string_view::npos && colon > at) node = node.substr(0, colon);
  return command_and_wait(CmdType::Disconnect, node, -1);
}

void dist_set_ticktime(uint32_t ms) {
  D.ticktime_ms.store(ms);
  if (dist_started()) post(Command{CmdType::Ticktime, {}, nullptr, 0});
}

bool dist_is_self(std::string_view node) {
  if (!dist_started()) return false;
  std::string name, host;
  int port;
  return parse_node(node, &name, &host, &port) && name == D.name;
}

namespace {

// Queues a registered send to the node's by-name entry. With `busy_key`
// set, a node whose queue is busy gets nothing: *busy_key becomes a handle
// of the entry to wait on (proc_await_send_room).
int send_named_unless_busy(uint64_t from, std::string_view rname, std::string_view node, const uint8_t* msg,
                           uint64_t size, bool term, uint64_t* busy_key) {
  std::string name, host;
  int port;
  if (!parse_node(node, &name, &host, &port)) return SNOW_EBADNAME;
  NodeEntry* e = entry_get(name, 0, true, false);
  if (!e) return SNOW_ENOMEM;
  uint64_t key = uint64_t(e->index) << 48;  // a handle of the entry (number 0 names no process)
  if (busy_key && dist_send_busy(key)) {
    *busy_key = key;
    entry_unpin(e);
    return 0;
  }
  if (port) post(Command{CmdType::Connect, std::string(node), std::make_shared<Waiter>(), 0});
  send_reg_send(e, from, rname, msg, size, term);
  entry_unpin(e);
  return 0;
}

}  // namespace

int dist_send_named(uint64_t from, std::string_view rname, std::string_view node, const uint8_t* msg, uint64_t size,
                    bool term) {
  if (!dist_started()) return SNOW_ENONODE;
  uint64_t busy_key = 0;
  int rc = send_named_unless_busy(from, rname, node, msg, size, term, &busy_key);
  if (busy_key == 0) return rc;
  // Waits with nothing on this stack that owns memory (an exit while
  // parked discards it), then sends whatever the queue holds by then.
  rc = proc_await_send_room(busy_key);
  if (rc != 0) return rc;
  return send_named_unless_busy(from, rname, node, msg, size, term, nullptr);
}

std::string dist_node_name() { return dist_started() ? D.name : std::string(); }

std::vector<std::string> dist_connected_nodes() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  return std::vector<std::string>(D.connected.begin(), D.connected.end());
}

uint64_t dist_node_entries() { return node_table_counts().entries; }

uint64_t dist_remote_pids() { return node_table_counts().pids; }
uint64_t dist_alias_sends_dropped() { return D.alias_sends_dropped.load(std::memory_order_relaxed); }
uint64_t dist_messages_refused() { return D.messages_refused.load(std::memory_order_relaxed); }

uint64_t dist_nodes_connected() {
  std::lock_guard<std::mutex> lk(D.conn_mu);
  return D.connected.size();
}

void dist_node_monitor(uint64_t watcher, int64_t id, std::string_view node) {
  std::string name, host;
  int port;
  bool valid = parse_node(node, &name, &host, &port);
  if (valid && !dist_started()) {
    // Not started: the node is down for now (reported at once); a later
    // start that connects to it reports NODEUP.
    node_monitor_add(watcher, id, name, 2);
    report_nodedown(watcher, name);
    return;
  }
  if (!valid || name == D.name) {
    // This node is up while the monitor lives; a node that cannot exist is
    // never connected.
    if (name == D.name && !node.empty()) {
      node_monitor_add(watcher, id, name, 1);
      return;
    }
    report_nodedown(watcher, node);
    return;
  }
  node_monitor_add(watcher, id, name, 0);
  post(Command{CmdType::NodeMonitor, name, nullptr, id});
}

void dist_node_demonitor(int64_t id) { node_monitor_remove(id); }

void dist_monitor_all(uint64_t watcher, bool on) { monitor_all_set(watcher, on); }

void dist_register_function(std::string_view name, void (*fn)(const uint8_t*)) { register_function(name, fn); }

uint64_t dist_spawn(std::string_view node, std::string_view fname, const uint8_t* args, uint64_t size, bool link,
                    bool monitor, uint64_t* monitor_ref) {
  Process* self = proc_current();
  if (!self || !dist_started()) return 0;
  bool here;
  if (!node_arg(node, &here)) return 0;
  if (here) return spawn_here(self, fname, args, size, link, monitor, monitor_ref);
  uint64_t req = send_spawn_request(self, node, fname, args, size, link, monitor);
  if (!req) return 0;
  // Recorded before any signal that follows the reply can be applied (only
  // this process applies its signals, in the wait below).
  if (monitor) proc_monitor_remote_spawn(self, req, 0);
  SpawnReply r;
  if (!proc_wait_reply(self, req, -1, &r, sizeof r) || !r.ok) {
    if (monitor) proc_demonitor(self, req, false);
    return 0;
  }
  if (monitor) {
    proc_monitor_remote_spawn(self, req, r.child);
    *monitor_ref = req;
  }
  return r.child;
}

int64_t dist_encode_pid(uint64_t pid, uint8_t* buf, uint64_t cap) {
  etf::Pid p;
  if (!pid_is_remote(pid)) {
    std::string node = dist_started() ? D.name : std::string("nonode@nohost");
    p = etf::Pid{node, local_pid_id(pid), local_pid_serial(pid), dist_started() ? D.creation : 0};
  } else if (!pid_to_wire(pid, &p)) {
    return SNOW_EINVAL;
  }
  Writer w;
  w.version();
  w.pid(p);
  if (w.buf.size() > cap) return SNOW_EMSGSIZE;
  std::memcpy(buf, w.buf.data(), w.buf.size());
  return int64_t(w.buf.size());
}

uint64_t dist_decode_pid(const uint8_t* etf_bytes, uint64_t len) {
  etf::Pid p;
  if (!etf::read_leading_pid(etf_bytes, size_t(len), &p)) return 0;
  if (!dist_started()) {
    if (p.node != "nonode@nohost") return 0;
    return local_pid_make(p.id, p.serial);
  }
  return pid_from_wire(p, PidUse::Exposed);
}

}  // namespace snow::rt
