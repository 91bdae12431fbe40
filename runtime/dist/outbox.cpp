// Outgoing frames: an entry's outbox from the moment a sender queues a
// frame until it is on the socket. Senders (any thread) queue under the
// entry's mutex, cork on worker threads until the end of the time slice,
// and write straight to an up connection's socket while the loop holds
// nothing for it (WriteGate, node_table.h); what they cannot write they
// hand to the loop, which writes through libuv (flush_entry, loop only).
// Frames that cannot be sent are answered locally, as the target's node
// would have answered them. docs/design/distribution.md, "Write path",
// has the order argument.
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"
#include "runtime/sched/scheduler.h"

namespace snow::rt::dist {

// ------------------------------------------------------------------ local answers

void deliver_or_die(uint64_t pid, Signal* s) {
  if (!s) fatal_oom("in distribution");
  proc_deliver(pid, s);
}

// ------------------------------------------------------------------ senders

void frame_begin(Writer& w) {
  w.buf.clear();
  w.buf.resize(4);
  w.u8(wire::kPassThrough);
  w.version();
}

Frame* frame_finish(Writer& w, SigKind kind, uint64_t local, uint64_t remote, uint64_t ref) {
  uint32_t n = uint32_t(w.buf.size() - 4);
  w.buf[0] = uint8_t(n >> 24);
  w.buf[1] = uint8_t(n >> 16);
  w.buf[2] = uint8_t(n >> 8);
  w.buf[3] = uint8_t(n);
  auto* f = new Frame();
  f->bytes = std::move(w.buf);
  f->kind = kind;
  f->local = local;
  f->remote = remote;
  f->ref = ref;
  return f;
}

void wake_loop() {
  std::lock_guard<std::mutex> lk(D.cmd_mu);  // the async handle lives while loop_ready
  if (D.loop_ready) uv_async_send(&D.async);
}

namespace {

// Writes the entry's queued frames straight to the socket (see WriteGate),
// as many as fit. Called with e->mu held. Returns true when the outbox is
// empty afterwards.
bool try_direct_write(NodeEntry* e) {
  if (e->outbox.empty()) return true;
  if (!e->gate) return false;
  WriteGate& g = *e->gate;
  std::lock_guard<std::mutex> gl(g.mu);
  if (!g.open || g.loop_pending != 0 || g.partial) return false;
  if (!frames_ready_for_direct_write(e->outbox, g)) return false;
  constexpr size_t kMaxIov = 64;
  size_t done_frames = 0;
  while (done_frames < e->outbox.size()) {
    iovec iov[kMaxIov];
    size_t n = 0, total = 0;
    for (size_t i = done_frames; i < e->outbox.size() && n < kMaxIov; ++i, ++n) {
      iov[n].iov_base = e->outbox[i]->bytes.data();
      iov[n].iov_len = e->outbox[i]->bytes.size();
      total += iov[n].iov_len;
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    ssize_t w = ::sendmsg(g.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;  // would block, or an error the loop will see on read
    g.last_send.store(now_ns(), std::memory_order_relaxed);
    size_t left = size_t(w);
    while (left > 0) {
      Frame* f = e->outbox[done_frames];
      if (left >= f->bytes.size()) {
        left -= f->bytes.size();
        e->outbox_bytes -= f->bytes.size();
        delete f;
        ++done_frames;
      } else {
        // The rest of this frame goes through the loop, before anything else.
        f->bytes.erase(f->bytes.begin(), f->bytes.begin() + long(left));
        e->outbox_bytes -= left;
        g.partial = true;
        left = 0;
      }
    }
    if (g.partial || size_t(w) < total) break;
  }
  e->outbox.erase(e->outbox.begin(), e->outbox.begin() + long(done_frames));
  return e->outbox.empty();
}

// Hands whatever the entry still holds to the loop.
void hand_to_loop(NodeEntry* e) {
  bool mark;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (e->outbox.empty()) return;
    mark = !e->dirty;
    e->dirty = true;
  }
  if (mark) {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.dirty.push_back(e);
  }
  wake_loop();
}

// Makes sure the loop flushes a corked entry within about a millisecond,
// whatever the corking worker does meanwhile (the entry was not on the
// loop's list: enqueue_frame marked it listed).
void arm_cork_backstop(NodeEntry* e) {
  bool wake;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    D.corked.push_back(e);
    wake = !D.cork_timer_wanted;
    D.cork_timer_wanted = true;
  }
  if (wake) wake_loop();
}

// Entries this worker thread's current time slice queued frames for.
constexpr int kMaxCorked = 8;
SNOW_TLS NodeEntry* t_corked[kMaxCorked];
SNOW_TLS int t_ncorked = 0;
constexpr size_t kCorkBytes = 64 * 1024;

void flush_entry_now(NodeEntry* e) {
  bool empty;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    empty = e->dirty ? false : try_direct_write(e);
  }
  if (!empty) hand_to_loop(e);
  busy_wake_if_drained(e);
}

void apply_record_locked(NodeEntry* e, const RecordChange& rc) {
  switch (rc.op) {
    case RecordChange::None:
      break;
    case RecordChange::LinkAdd:
      e->links.insert({rc.local, rc.remote});
      break;
    case RecordChange::LinkErase:
      e->links.erase({rc.local, rc.remote});
      break;
    case RecordChange::MonitorAdd:
      e->monitors[rc.ref] = {rc.local, rc.remote};
      break;
    case RecordChange::MonitorErase:
      e->monitors.erase(rc.ref);
      break;
  }
}

}  // namespace

// Queues a frame on the entry's outbox. `generation` is the entry's as the
// caller read it with the target handle: if the row was recycled since,
// the target is gone and the frame is answered locally as undeliverable.
void enqueue_frame(NodeEntry* e, Frame* f, uint32_t generation, RecordChange rc) {
  // Whether this worker's time slice may cork the entry: it has it on its
  // list already, or the list has room.
  bool listed = false, may_cork = sched_on_worker();
  if (may_cork) {
    for (int i = 0; i < t_ncorked; ++i)
      if (t_corked[i] == e) listed = true;
    may_cork = listed || t_ncorked < kMaxCorked;
  }
  enum class Next { Undeliverable, LoopOwns, Corked, Flush } next;
  bool backstop = false;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    if (generation != kAnyGeneration && (e->generation != generation || !e->in_use)) {
      next = Next::Undeliverable;
    } else {
      apply_record_locked(e, rc);
      busy_count_locked(e, f);
      e->outbox.push_back(f);
      e->outbox_bytes += f->bytes.size();
      if (e->dirty) {
        // The loop was told and has not taken the outbox yet: it takes
        // this frame with the others.
        next = Next::LoopOwns;
      } else if (may_cork && e->outbox_bytes < kCorkBytes) {
        next = Next::Corked;
        backstop = !e->cork_listed;
        e->cork_listed = true;
      } else {
        next = Next::Flush;
      }
    }
  }
  switch (next) {
    case Next::Undeliverable:
      proc_answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoproc);
      delete f;
      return;
    case Next::LoopOwns:
      return;
    case Next::Corked:
      if (!listed) t_corked[t_ncorked++] = e;
      if (backstop) arm_cork_backstop(e);
      return;
    case Next::Flush:
      flush_entry_now(e);
      return;
  }
}

}  // namespace snow::rt::dist

namespace snow::rt {

void dist_flush_slice() {
  int n = dist::t_ncorked;
  if (n == 0) return;
  dist::t_ncorked = 0;
  for (int i = 0; i < n; ++i) dist::flush_entry_now(dist::t_corked[i]);
}

}  // namespace snow::rt

namespace snow::rt::dist {

// ------------------------------------------------------------------ the loop's writes

void on_written(uv_write_t* req, int status) {
  auto* wr = reinterpret_cast<WriteReq*>(req);
  (void)status;
  if (wr->gate) {
    std::lock_guard<std::mutex> gl(wr->gate->mu);
    --wr->gate->loop_pending;
  }
  // One entry's frames, or a fragment of one stream's frame.
  NodeEntry* counted_in = !wr->frames.empty() ? wr->frames.front()->counted_in
                          : wr->keep          ? wr->keep->counted_in
                                              : nullptr;
  for (Frame* f : wr->frames) delete f;
  Conn* stream_conn = wr->fragment_of;
  delete wr;  // a stream's last fragment frees its frame here
  if (counted_in) busy_wake_if_drained(counted_in);
  if (stream_conn) fragment_written(stream_conn);
}

// Hands a prepared write to libuv (or, without a socket, completes it).
void submit_write(Conn* c, WriteReq* wr) {
  c->last_send = now_ns();
  if (c->test_transport) {
    on_written(&wr->req, 0);
    return;
  }
  if (c->tls && !tls_seal(c, wr)) return;
  int rc = uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->tcp), wr->bufs.data(), unsigned(wr->bufs.size()),
                    on_written);
  if (rc != 0) {
    on_written(&wr->req, rc);
    close_conn(c, "write failed");
  }
}

namespace {

void write_now(Conn* c, std::vector<Frame*>& frames) {
  auto* wr = new WriteReq();
  wr->gate = c->gate;
  wr->frames = std::move(frames);
  wr->bufs.reserve(wr->frames.size());
  for (Frame* f : wr->frames)
    wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(f->bytes.data()), unsigned(f->bytes.size())));
  submit_write(c, wr);
}

}  // namespace

// Frames already counted (once) in c->gate->loop_pending by the caller.
// For a peer with fragments, large frames go out as streams (fragments.h).
void write_frames(Conn* c, std::vector<Frame*>& frames) {
  if (frames.empty()) return;
  if (c->peer_flags & wire::kFlagFragments) {
    route_frames(c, frames);
    if (frames.empty()) {
      std::lock_guard<std::mutex> gl(c->gate->mu);
      --c->gate->loop_pending;  // the caller's count: nothing to write now
    } else {
      write_now(c, frames);
    }
    streams_continue(c);
    return;
  }
  for (Frame* f : frames) frame_to_pass_through(f);
  write_now(c, frames);
}

// Handshake messages and ticks. On an up connection the caller has counted
// it in loop_pending (see on_tick).
void write_raw(Conn* c, std::vector<uint8_t> bytes, bool counted) {
  auto* wr = new WriteReq();
  if (counted) wr->gate = c->gate;
  wr->owned = std::move(bytes);
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  c->last_send = now_ns();
  if (c->test_transport) {
    on_written(&wr->req, 0);
    return;
  }
  if (c->tls && !tls_seal(c, wr)) return;
  if (uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->tcp), wr->bufs.data(), unsigned(wr->bufs.size()),
               on_written) != 0) {
    on_written(&wr->req, -1);
    close_conn(c, "write failed");
  }
}

// Entries are created by any thread; the loop learns of them here, so node
// up/down handling reaches every entry of a name.
void adopt_entry(NodeEntry* e) {
  PeerState& ps = D.peers[e->name];
  for (NodeEntry* x : ps.entries)
    if (x == e) return;
  ps.entries.push_back(e);
}

namespace {

// Whether an up connection serves the entry: any incarnation for the
// by-name entry, its own incarnation otherwise.
bool serves(const Conn* c, const NodeEntry* e) {
  return c && c->st == St::Up && (e->by_name || e->creation == c->peer_creation);
}

}  // namespace

// Sends what the entry has queued, or holds it until a connection is up.
void flush_entry(NodeEntry* e) {
  adopt_entry(e);
  PeerState& ps = D.peers[e->name];
  Conn* c = ps.conn;
  Conn* up = serves(c, e) ? c : nullptr;
  std::vector<Frame*> frames;
  {
    std::lock_guard<std::mutex> lk(e->mu);
    frames.swap(e->outbox);
    e->outbox_bytes = 0;
    e->dirty = false;
    if (up) {
      e->gate = up->gate;
      if (!frames.empty()) {
        // Counted before the entry lock is released: a sender that comes
        // next sees the loop busy and queues behind these frames.
        std::lock_guard<std::mutex> gl(up->gate->mu);
        ++up->gate->loop_pending;
        up->gate->partial = false;
      }
    }
  }
  if (frames.empty()) return;
  if (D.stopping) {
    for (Frame* f : frames) {
      proc_answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoconnection);
      delete f;
    }
    busy_wake_if_drained(e);
    return;
  }
  if (up) {
    write_frames(up, frames);
    return;
  }
  if (c && c->st == St::Up) {
    // A pid of an incarnation that is gone: those processes do not exist.
    for (Frame* f : frames) {
      proc_answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoproc);
      delete f;
    }
    busy_wake_if_drained(e);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(e->mu);
    frames.insert(frames.end(), e->outbox.begin(), e->outbox.end());
    e->outbox.swap(frames);
    e->outbox_bytes = 0;
    for (Frame* f : e->outbox) e->outbox_bytes += f->bytes.size();
  }
  if (!c) start_outgoing(e->name);
}

// The loop flushes the corked entries (the cork timer, a stop): a worker
// that corked them may still be running the slice that queued them.
void flush_corked_entries() {
  std::vector<NodeEntry*> corked;
  {
    std::lock_guard<std::mutex> lk(D.cmd_mu);
    corked.swap(D.corked);
    D.cork_timer_wanted = false;
  }
  for (NodeEntry* e : corked) {
    {
      std::lock_guard<std::mutex> lk(e->mu);
      e->cork_listed = false;
    }
    flush_entry(e);
  }
}

void on_cork_timer(uv_timer_t*) { flush_corked_entries(); }

}  // namespace snow::rt::dist
