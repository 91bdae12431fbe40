// The loop: its thread and rounds (loop_main, and dist_poll_io for
// spinning workers), the command queue that other threads post to and
// wait on, and the node's start (listener, registration) and stop (drain,
// close everything). docs/design/distribution.md, "Who runs the loop",
// has the argument that no event is lost. Commands and loop callbacks run
// under loop_mu; posting and waiting on the calling thread or process.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"
#include "runtime/sched/scheduler.h"

namespace snow::rt::dist {

namespace {

// How long a stopping node waits for writes to up connections to leave.
constexpr int64_t kStopDrainMs = 1000;

// Spinning workers read up connections directly (read_up_connections) and
// run a whole libuv round (timers, commands, accepts, handshakes) at least
// this often; more up connections than kMaxDirectReads: every round.
constexpr int64_t kFullPollNs = 50 * 1000;
constexpr size_t kMaxDirectReads = 4;

enum class DirectRead { Served, Unserved };
DirectRead read_up_connections();

}  // namespace

// ------------------------------------------------------------------ waiting for the loop

void complete(const WaiterPtr& w, int64_t result, uint64_t value) {
  if (w->pid) {
    CommandReply r{result, value};
    proc_reply(w->pid, w->ref, &r, sizeof r);
    return;
  }
  std::lock_guard<std::mutex> lk(w->m);
  w->done = true;
  w->result = result;
  w->value = value;
  w->cv.notify_all();
}

void post(Command c) {
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.cmds.push_back(std::move(c));
  }
  wake_loop();
}

namespace {

// Waiting for the loop thread. A process must not hold anything that owns
// heap memory on its stack while it waits: an exit discards the stack
// without running destructors. So a process caller posts through
// post_for_process(), whose locals are gone when it returns, and then waits
// for its reply by ref with only plain values on its stack.
uint64_t post_for_process(CmdType type, std::string_view node, int64_t id) {
  Process* p = proc_current();
  auto w = std::make_shared<Waiter>();
  w->pid = proc_pid(p);
  w->ref = new_ref();
  proc_expect_reply(p, w->ref);
  post(Command{type, std::string(node), w, id});
  return w->ref;
}

int64_t wait_process(uint64_t ref, int64_t timeout_ms) {
  CommandReply r;
  if (!proc_wait_reply(proc_current(), ref, timeout_ms, &r, sizeof r)) return SNOW_ETIMEDOUT;
  return r.result;
}

}  // namespace

// A thread that is not a process blocks on the waiter's condition variable.
int64_t post_and_block(CmdType type, std::string_view node, int64_t id, int64_t timeout_ms) {
  auto w = std::make_shared<Waiter>();
  post(Command{type, std::string(node), w, id});
  std::unique_lock<std::mutex> lk(w->m);
  if (timeout_ms < 0) {
    w->cv.wait(lk, [&] { return w->done; });
  } else if (!w->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return w->done; })) {
    return SNOW_ETIMEDOUT;
  }
  return w->result;
}

int64_t command_and_wait(CmdType type, std::string_view node, int64_t timeout_ms) {
  if (proc_current()) {
    uint64_t ref = post_for_process(type, node, 0);
    return wait_process(ref, timeout_ms);
  }
  return post_and_block(type, node, 0, timeout_ms);
}

// ------------------------------------------------------------------ start

void finish_start(int64_t result) {
  if (D.start_waiter) {
    complete(D.start_waiter, result, 0);
    D.start_waiter.reset();
  }
}

namespace {

// A listening socket on `ip`, on the first port of [lo, hi] that is free
// (lo == hi == 0: any port). Returns the descriptor or -errno.
int open_listen_socket(in_addr ip, int lo, int hi, int* port_out) {
  int last_error = EADDRINUSE;
  for (int port = lo; port <= hi; ++port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr = ip;
    addr.sin_port = htons(uint16_t(port));
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 128) == 0) {
      socklen_t len = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      *port_out = ntohs(addr.sin_port);
      return fd;
    }
    last_error = errno;
    ::close(fd);
  }
  return -last_error;
}

void do_start(const WaiterPtr& w) {
  D.start_waiter = w;
  in_addr ip{};
  inet_pton(AF_INET, D.listen_interface.c_str(), &ip);  // checked in dist_start
  int lo = D.listen_min, hi = D.listen_max;
  if (D.listen_port) lo = hi = D.listen_port;  // name@host:port
  int port = 0;
  int fd = open_listen_socket(ip, lo, hi, &port);
  int rc = fd < 0 ? fd : 0;
  if (rc == 0) {
    uv_tcp_init(&D.loop, &D.listener);
    rc = uv_tcp_open(&D.listener, fd);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&D.listener), 128, on_incoming);
    if (rc != 0) uv_close(reinterpret_cast<uv_handle_t*>(&D.listener), nullptr);
  }
  if (rc != 0) {
    log_line("snowrt: cannot listen on %s port %d%s%d: %s", D.listen_interface.c_str(), lo, lo == hi ? "" : "-", hi,
             strerror(-rc));
    finish_start(rc == UV_EADDRINUSE ? SNOW_EADDRINUSE : SNOW_EINVAL);
    return;
  }
  D.listen_port = port;
  uv_timer_init(&D.loop, &D.tick_timer);
  uv_timer_init(&D.loop, &D.epmd_retry);
  arm_ticks();
  epmd_register();
}

// ------------------------------------------------------------------ stop

void close_everything() {
  D.stopping = true;
  std::vector<Conn*> conns;
  for (auto& [name, ps] : D.peers)
    if (ps.conn) conns.push_back(ps.conn);
  for (Conn* c : conns) close_conn(c, "node stopped");
  // Entries that never got a connection still hold queued frames.
  for (auto& [name, ps] : D.peers) {
    fail_node(name, 0);
    for (auto& w : ps.waiters) complete(w, SNOW_ENOTSTARTED, 0);
    ps.waiters.clear();
  }
  publish_connected();
}

void walk_close(uv_handle_t* h, void*) {
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

// Whether an up connection still has writes handed to libuv (or a direct
// write's remainder) that have not reached the socket.
bool writes_pending() {
  for (auto& [name, ps] : D.peers) {
    Conn* c = ps.conn;
    if (!c || c->st != St::Up) continue;
    std::lock_guard<std::mutex> gl(c->gate->mu);
    if (c->gate->loop_pending != 0 || c->gate->partial) return true;
  }
  return false;
}

void finish_stop() {
  WaiterPtr w = std::move(D.stop_waiter);
  D.stop_waiter = nullptr;
  close_everything();
  uv_walk(&D.loop, walk_close, nullptr);
  complete(w, 0, 0);
}

void on_stop_timer(uv_timer_t*) {
  if (writes_pending() && now_ns() < D.stop_deadline_ns) return;
  uv_timer_stop(&D.stop_timer);
  finish_stop();
}

// Stops the node once the frames already written towards up connections
// have left (a frozen peer holds the stop for at most kStopDrainMs).
void begin_stop(const WaiterPtr& w) {
  if (D.stop_waiter) {  // a second stop joins the first
    complete(w, 0, 0);
    return;
  }
  D.stop_waiter = w;
  flush_corked_entries();
  if (!writes_pending()) {
    finish_stop();
    return;
  }
  D.stop_deadline_ns = deadline_after_ms(kStopDrainMs);
  uv_timer_start(&D.stop_timer, on_stop_timer, 1, 1);
}

// ------------------------------------------------------------------ commands

void run_connect(Command& c) {
  std::string name, host;
  int port;
  parse_node(c.node, &name, &host, &port);
  PeerState& ps = D.peers[name];
  if (port) ps.explicit_port = port;
  if (ps.up) {
    complete(c.waiter, 0, 0);
    return;
  }
  ps.waiters.push_back(c.waiter);
  start_outgoing(name);
}

void run_disconnect(Command& c) {
  auto it = D.peers.find(c.node);
  if (it == D.peers.end() || !it->second.conn) {
    complete(c.waiter, SNOW_ENONODE, 0);
    return;
  }
  close_conn(it->second.conn, "disconnected by this node");
  complete(c.waiter, 0, 0);
}

void run_commands() {
  std::vector<Command> cmds;
  std::vector<NodeEntry*> dirty;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    cmds.swap(D.cmds);
    dirty.swap(D.dirty);
  }
  for (Command& c : cmds) {
    switch (c.type) {
      case CmdType::Start:
        do_start(c.waiter);
        break;
      case CmdType::Connect:
        run_connect(c);
        break;
      case CmdType::Disconnect:
        run_disconnect(c);
        break;
      case CmdType::NodeMonitor:
        node_monitor_first_report(c.id, c.node);
        break;
      case CmdType::Ticktime:
        arm_ticks();
        break;
      case CmdType::TestFeed:
        run_test_feed(*c.feed);
        complete(c.waiter, 0, 0);
        break;
      case CmdType::Stop:
        // Frames queued before the stop was asked for go out first.
        for (NodeEntry* e : dirty) flush_entry(e);
        dirty.clear();
        begin_stop(c.waiter);
        break;
    }
  }
  for (NodeEntry* e : dirty) flush_entry(e);
}

// ------------------------------------------------------------------ the loop thread

void on_async(uv_async_t*) {
  D.last_traffic_ns.store(now_ns(), std::memory_order_relaxed);
  bool arm;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    arm = D.cork_timer_wanted;
  }
  if (arm && !uv_is_active(reinterpret_cast<uv_handle_t*>(&D.cork_timer)))
    uv_timer_start(&D.cork_timer, on_cork_timer, 1, 0);
  run_commands();
}

// The loop is run in rounds under loop_mu, by its own thread or by an idle
// worker that is spinning anyway (dist_poll_io): a frame a worker reads
// makes its target runnable on that worker, which then runs it without a
// thread switch. Like an idle worker, after traffic the loop thread watches
// for a short while before it blocks again, yielding the CPU each round so
// the next frame of a conversation is read without a wake-up, which costs
// tens of microseconds when it crosses CPUs. While it watches and a worker
// spins, it leaves the rounds to the worker (reading here would add a
// thread switch) and waits until the last spinner parks, or 1 ms when the
// workers are busy running processes. Once the node is quiet it blocks
// inside uv_run, holding loop_mu (spinning workers then skip their rounds),
// and uses no CPU.
void loop_main() {
  const int64_t watch_ns = sched_spin_ns();
  auto recent_traffic = [&] { return now_ns() - D.last_traffic_ns.load(std::memory_order_relaxed) < watch_ns; };
  bool watching = false;
  for (;;) {
    if (watching && sched_spinning_workers() > 0) {
      // Waiting rather than yielding: on a shared CPU a yielding loop
      // thread would take turns with the worker that does the reading.
      std::unique_lock<std::mutex> lk(D.idle_mu);
      D.idle_waiting = true;
      D.idle_cv.wait_for(lk, std::chrono::milliseconds(1), [] { return D.idle_poke || sched_spinning_workers() == 0; });
      D.idle_waiting = false;
      D.idle_poke = false;
      lk.unlock();
      watching = recent_traffic();
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(D.loop_mu);
      if (!uv_run(&D.loop, watching ? UV_RUN_NOWAIT : UV_RUN_ONCE)) {
        D.loop_open.store(false, std::memory_order_release);
        return;
      }
      watching = recent_traffic();
    }
    if (watching) std::this_thread::yield();
  }
}

}  // namespace

void start_loop_thread() {
  uv_loop_init(&D.loop);
  uv_async_init(&D.loop, &D.async, on_async);
  uv_timer_init(&D.loop, &D.cork_timer);
  uv_timer_init(&D.loop, &D.stop_timer);
  D.stop_waiter = nullptr;
  D.corked.clear();
  D.cork_timer_wanted = false;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.loop_ready = true;
  }
  D.loop_open.store(true, std::memory_order_release);
  D.thread = std::thread(loop_main);
}

void end_loop_thread() {
  {
    // Under the command lock: no sender is inside uv_async_send on the
    // handle the loop just closed.
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.loop_ready = false;
  }
  if (D.thread.joinable()) D.thread.join();
  uv_loop_close(&D.loop);
  D.peers.clear();
}

// ------------------------------------------------------------------ spinners' reads

namespace {

// Reads each up plain-TCP connection's socket once, without asking epoll
// first (under loop_mu, as libuv's own reads). libuv's epoll interest is
// level-triggered, so bytes left in the socket are still reported to the
// next uv_run. TLS connections are read only through libuv (their bytes
// go through the session), as are handshaking ones.
DirectRead read_up_connections() {
  Conn* conns[kMaxDirectReads];
  size_t n = 0;
  for (auto& [name, ps] : D.peers) {
    Conn* c = ps.conn;
    if (!c || c->st != St::Up || c->tls || c->test_transport || !c->tcp_open) continue;
    if (n == kMaxDirectReads) return DirectRead::Unserved;
    conns[n++] = c;
  }
  if (n == 0) return DirectRead::Unserved;
  for (size_t i = 0; i < n; ++i) {
    Conn* c = conns[i];
    uv_os_fd_t fd;
    if (c->st != St::Up || uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd) != 0) continue;
    uv_buf_t buf;
    on_alloc(nullptr, 0, &buf);
    ssize_t got = ::recv(fd, buf.base, buf.len, MSG_DONTWAIT);
    if (got > 0) {
      conn_feed(c, reinterpret_cast<const uint8_t*>(buf.base), size_t(got));
    } else if (got == 0) {
      close_conn(c, "closed by peer");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close_conn(c, uv_strerror(uv_translate_sys_error(errno)));
    }
  }
  return DirectRead::Served;
}

}  // namespace

}  // namespace snow::rt::dist

namespace snow::rt {

using namespace dist;

void dist_poll_io_done() {
  if (!D.loop_open.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lk(D.idle_mu);
  if (!D.idle_waiting) return;
  D.idle_poke = true;
  D.idle_cv.notify_one();
}

void dist_poll_io() {
  if (!D.loop_open.load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lk(D.loop_mu, std::try_to_lock);
  if (!lk.owns_lock() || !D.loop_open.load(std::memory_order_relaxed)) return;
  // A spinner's round costs one system call on most rounds: a recv on the
  // up connections, or every kFullPollNs (and whenever that recv cannot
  // serve) a whole libuv round, whose epoll_wait would otherwise come
  // before every read.
  int64_t now = now_ns();
  bool full = now - D.last_full_poll_ns >= kFullPollNs;
  if (!full) full = read_up_connections() == DirectRead::Unserved;
  if (full) {
    D.last_full_poll_ns = now;
    uv_run(&D.loop, UV_RUN_NOWAIT);
  }
  lk.unlock();
  // Frames the round queued (answers to the peer) leave now, not at the
  // end of some later time slice.
  dist_flush_slice();
}

}  // namespace snow::rt
