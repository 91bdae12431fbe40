// Distribution headers and fragmented messages, both directions; see
// fragments.h for the forms, the bounds and the order argument.
#include "runtime/dist/fragments.h"

#include <algorithm>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

namespace {

uint64_t get_be64(const uint8_t* p) { return uint64_t(get_be32(p)) << 32 | get_be32(p + 4); }

void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = uint8_t(v);
    v >>= 8;
  }
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// The size of the control term at p (no version byte), or 0 when it is
// not one whole term.
size_t control_size(const uint8_t* p, size_t n) {
  etf::Reader r(p, n);
  if (!etf::skip_term(r)) return 0;
  return size_t(r.pos() - p);
}

}  // namespace

// ------------------------------------------------------------------ header forms

namespace {

// Room for a typical control message and a small payload, so that
// encoding one does not grow the buffer step by step.
constexpr size_t kFrameReserve = 128;

}  // namespace

FrameWriter::FrameWriter() {
  buf.reserve(kFrameReserve);
  buf.resize(4);  // the length, set by finish()
  u8(etf::kVersion);
  u8(kDistHeader);
  u8(0);  // no atom cache references
}

Frame* FrameWriter::finish(SigKind kind, uint64_t local, uint64_t remote, uint64_t ref) {
  size_t end = control_end ? control_end : buf.size();
  put_be32(buf.data(), uint32_t(buf.size() - 4));
  auto* f = new Frame();
  f->bytes = std::move(buf);
  f->kind = kind;
  f->local = local;
  f->remote = remote;
  f->ref = ref;
  f->header_form = true;
  f->control_end = uint32_t(end);
  return f;
}

void frame_to_header_form(Frame* f) {
  if (f->header_form) return;
  std::vector<uint8_t>& b = f->bytes;
  // [len][112][131][control][131][payload]
  size_t k = b.size() > 6 ? control_size(b.data() + 6, b.size() - 6) : 0;
  if (k == 0) return;  // not ours to fix: never happens for frames this node encodes
  f->header_form = true;
  f->control_end = uint32_t(7 + k);
  if (6 + k < b.size()) {
    // -> [len][131][68][0][control][payload]: the same length.
    std::memmove(b.data() + 7, b.data() + 6, k);
  } else {
    b.insert(b.begin() + 4, 0);
    put_be32(b.data(), uint32_t(b.size() - 4));
  }
  b[4] = etf::kVersion;
  b[5] = kDistHeader;
  b[6] = 0;
}

void frame_to_pass_through(Frame* f) {
  if (!f->header_form) return;
  std::vector<uint8_t>& b = f->bytes;
  // [len][131][68][0][control][payload] -> [len][112][131][control][131][payload]
  size_t k = f->control_end - 7;
  bool payload = f->control_end < b.size();
  std::memmove(b.data() + 6, b.data() + 7, k);
  b[4] = wire::kPassThrough;
  b[5] = etf::kVersion;
  if (payload) {
    b[6 + k] = etf::kVersion;  // the same length
  } else {
    b.pop_back();
    put_be32(b.data(), uint32_t(b.size() - 4));
  }
  f->header_form = false;
  f->control_end = 0;
}

// ------------------------------------------------------------------ receiving

Reassembler::Outcome Reassembler::feed(const uint8_t* body, size_t n) {
  constexpr size_t kContinueHeader = 18;  // 131, 70, sequence id, fragment id
  if (n < kContinueHeader || body[0] != etf::kVersion) return violation("fragment header too short");
  uint64_t seq = get_be64(body + 2);
  uint64_t frag = get_be64(body + 10);
  if (frag == 0) return violation("fragment id 0");
  if (body[1] == kFragmentHeader) {
    if (n < kContinueHeader + 1) return violation("fragment header too short");
    if (body[kContinueHeader] != 0) return violation("atom cache references (never negotiated)");
    return start(seq, frag, body + kContinueHeader + 1, n - kContinueHeader - 1);
  }
  if (body[1] != kFragmentContinue) return violation("not a fragment");
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return violation("a fragment of a sequence that was never started");
  if (frag != it->second.next_fragment) return violation("fragment ids out of order");
  return append(it->second, seq, body + kContinueHeader, n - kContinueHeader);
}

Reassembler::Outcome Reassembler::start(uint64_t seq, uint64_t frag, const uint8_t* p, size_t n) {
  if (seqs_.count(seq)) return violation("a sequence id started twice");
  if (seqs_.size() >= kMaxSequences) return violation("too many unfinished fragmented messages");
  size_t k = control_size(p, n);
  if (k == 0) return violation("the first fragment does not hold a whole control message");
  Sequence& s = seqs_[seq];
  s.next_fragment = frag - 1;
  s.received = n;
  s.control_end = 2 + k;
  if (n > max_message_) return refuse(s, seq, "larger than the per-message limit");
  if (held_ + n + 3 > max_message_) return refuse(s, seq, "unfinished messages of the connection over the limit");
  // Pass-through form: [112][131][control][131][payload so far].
  s.buf.reserve(n + 3);
  s.buf.push_back(wire::kPassThrough);
  s.buf.push_back(etf::kVersion);
  s.buf.insert(s.buf.end(), p, p + k);
  s.buf.push_back(etf::kVersion);
  s.buf.insert(s.buf.end(), p + k, p + n);
  held_ += s.buf.size();
  return frag == 1 ? finish(seq) : Outcome::Pending;
}

Reassembler::Outcome Reassembler::append(Sequence& s, uint64_t seq, const uint8_t* p, size_t n) {
  --s.next_fragment;
  s.received += n;
  if (!s.refused) {
    if (s.received > max_message_) return refuse(s, seq, "larger than the per-message limit");
    if (held_ + n > max_message_) return refuse(s, seq, "unfinished messages of the connection over the limit");
    s.buf.insert(s.buf.end(), p, p + n);
    held_ += n;
  }
  if (s.next_fragment == 0) return finish(seq);
  return Outcome::Pending;
}

Reassembler::Outcome Reassembler::finish(uint64_t seq) {
  auto it = seqs_.find(seq);
  Sequence& s = it->second;
  bool refused = s.refused;
  if (!refused) {
    held_ -= s.buf.size();
    done_ = std::move(s.buf);
    if (done_.size() == s.control_end + 1) done_.pop_back();  // no payload: no version byte for it
  }
  seqs_.erase(it);
  return refused ? Outcome::Pending : Outcome::Complete;
}

// Frees what the sequence holds; its later fragments are still checked
// for order, then dropped.
Reassembler::Outcome Reassembler::refuse(Sequence& s, uint64_t seq, const char* why) {
  held_ -= s.buf.size();
  std::vector<uint8_t>().swap(s.buf);
  s.refused = true;
  why_ = why;
  refused_seq_ = seq;
  refused_bytes_ = s.received;
  if (s.next_fragment == 0) seqs_.erase(seq);
  return Outcome::Refused;
}

namespace {

void refuse_message(Conn* c, uint64_t bytes, const char* why) {
  // Each refusal costs the peer at least a message over a limit of its
  // bytes, so these lines come no faster than the peer can send that.
  D.messages_refused.fetch_add(1, std::memory_order_relaxed);
  log_at(LogLevel::Warning, "snowrt: refused a message from %s (%llu bytes received): %s (limit %llu bytes)",
         c->peer.c_str(), static_cast<unsigned long long>(bytes), why, static_cast<unsigned long long>(D.max_message));
}

}  // namespace

// One frame of an up connection, in any form a peer may send. nullptr, or
// why the connection must be closed.
const char* receive_frame(Conn* c, uint8_t* body, size_t n) {
  if (n >= 2 && body[0] == etf::kVersion && body[1] == kDistHeader) {
    wire::Control ctl;
    size_t mn;
    if (!wire::read_header_form(body, n, &ctl, &mn)) return "malformed frame";
    return handle_control(c, ctl, mn) ? nullptr : "malformed frame";
  }
  if (n >= 2 && body[0] == etf::kVersion && (body[1] == kFragmentHeader || body[1] == kFragmentContinue)) {
    if (!c->reassembler) c->reassembler = std::make_unique<Reassembler>(D.max_message);
    Reassembler& r = *c->reassembler;
    switch (r.feed(body, n)) {
      case Reassembler::Outcome::Pending:
        return nullptr;
      case Reassembler::Outcome::Refused:
        refuse_message(c, r.refused_bytes(), r.why());
        return nullptr;
      case Reassembler::Outcome::Violation:
        return r.why();
      case Reassembler::Outcome::Complete: {
        std::vector<uint8_t> m = std::move(r.message());
        return handle_frame(c, m.data(), m.size()) ? nullptr : "malformed frame";
      }
    }
  }
  return handle_frame(c, body, n) ? nullptr : "malformed frame";
}

// A frame over the per-message limit that is not fragmented: refused, its
// bytes are skipped as they arrive (conn_feed).
void refuse_whole_frame(Conn* c, uint64_t bytes) { refuse_message(c, bytes, "larger than the per-message limit"); }

// ------------------------------------------------------------------ sending

bool frames_ready_for_direct_write(std::vector<Frame*>& frames, const WriteGate& g) {
  if (!g.header_form) {
    for (Frame* f : frames) frame_to_pass_through(f);
    return true;
  }
  for (Frame* f : frames)
    if (f->bytes.size() > kFragmentThreshold) return false;
  for (Frame* f : frames) frame_to_header_form(f);
  return true;
}

namespace {

OutStream* stream_of(Fragmenter& fr, uint64_t sender) {
  for (auto& s : fr.streams)
    if (s->sender == sender) return s.get();
  return nullptr;
}

void hold_gate(Conn* c, int delta) {
  std::lock_guard<std::mutex> gl(c->gate->mu);
  c->gate->loop_pending += delta;
}

// Makes `f` a stream; false when it cannot be split (it then goes whole).
bool start_stream(Conn* c, Frame* f) {
  auto s = std::make_unique<OutStream>();
  if (f->header_form) {
    // [len][131][68][0][control][payload]
    s->control_begin = 7;
    s->control_end = f->control_end;
    s->payload_begin = f->control_end;
  } else {
    // [len][112][131][control][131][payload]
    size_t k = f->bytes.size() > 6 ? control_size(f->bytes.data() + 6, f->bytes.size() - 6) : 0;
    if (k == 0) return false;
    s->control_begin = 6;
    s->control_end = 6 + k;
    s->payload_begin = std::min(s->control_end + 1, f->bytes.size());
  }
  Fragmenter& fr = c->fragmenter;
  s->sender = f->local;
  s->seq = fr.next_seq++;
  s->next = s->payload_begin;
  size_t payload = f->bytes.size() - s->next;
  s->fragments_left = std::max<uint64_t>(1, (payload + kFragmentPayload - 1) / kFragmentPayload);
  s->frame = std::shared_ptr<Frame>(f);
  if (!fr.holds_gate) {
    hold_gate(c, 1);
    fr.holds_gate = true;
  }
  fr.streams.push_back(std::move(s));
  return true;
}

// Hands the stream's next fragment to libuv (counted in loop_pending and
// in the fragmenter's in_flight; on_written calls fragment_written).
void write_fragment(Conn* c, OutStream& s) {
  Fragmenter& fr = c->fragmenter;
  const std::vector<uint8_t>& b = s.frame->bytes;
  bool first = s.next == s.payload_begin;
  size_t chunk = std::min(kFragmentPayload, b.size() - s.next);
  auto* wr = new WriteReq();
  wr->gate = c->gate;
  wr->keep = s.frame;
  wr->fragment_of = c;
  // [len][131][69][seq][fragment id][0][control] or [len][131][70][seq][fragment id]
  size_t hdr = first ? 23 : 22;
  size_t control = first ? s.control_end - s.control_begin : 0;
  wr->owned.resize(hdr);
  uint8_t* h = wr->owned.data();
  put_be32(h, uint32_t(hdr - 4 + control + chunk));
  h[4] = etf::kVersion;
  h[5] = first ? kFragmentHeader : kFragmentContinue;
  put_be64(h + 6, s.seq);
  put_be64(h + 14, s.fragments_left);
  if (first) h[22] = 0;
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(h), unsigned(hdr)));
  if (control)
    wr->bufs.push_back(
        uv_buf_init(reinterpret_cast<char*>(s.frame->bytes.data() + s.control_begin), unsigned(control)));
  if (chunk) wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(s.frame->bytes.data() + s.next), unsigned(chunk)));
  s.next += chunk;
  --s.fragments_left;
  ++fr.in_flight;
  hold_gate(c, 1);
  submit_write(c, wr);
}

// A stream that will not be sent (its connection closed): its frame and
// the frames waiting behind it are answered as undeliverable, as fail_node
// answers an outbox.
void drop_stream(OutStream& s) {
  Frame* f = s.frame.get();
  proc_answer_undeliverable(f->kind, f->local, f->remote, f->ref, kNoconnection);
  for (Frame* a : s.after) {
    proc_answer_undeliverable(a->kind, a->local, a->remote, a->ref, kNoconnection);
    delete a;
  }
  s.after.clear();
}

// Writes fragments while the window has room, round robin; a finished
// stream's waiting frames follow it. Loop only.
void pump_streams(Conn* c) {
  Fragmenter& fr = c->fragmenter;
  if (fr.pumping) return;
  fr.pumping = true;
  while (c->st == St::Up && fr.in_flight < kStreamWindow && !fr.streams.empty()) {
    std::unique_ptr<OutStream> s = std::move(fr.streams.front());
    fr.streams.pop_front();
    write_fragment(c, *s);
    if (c->st != St::Up) {  // the write failed and closed the connection
      drop_stream(*s);
      break;
    }
    if (s->fragments_left > 0) {
      fr.streams.push_back(std::move(s));
      continue;
    }
    if (!s->after.empty()) {
      std::vector<Frame*> after(s->after.begin(), s->after.end());
      s->after.clear();
      hold_gate(c, 1);  // the count write_frames' caller gives
      write_frames(c, after);
    }
  }
  if (fr.streams.empty() && fr.holds_gate) {
    fr.holds_gate = false;
    hold_gate(c, -1);
  }
  fr.pumping = false;
}

}  // namespace

void route_frames(Conn* c, std::vector<Frame*>& frames) {
  Fragmenter& fr = c->fragmenter;
  std::vector<Frame*> now;
  now.reserve(frames.size());
  for (Frame* f : frames) {
    if (OutStream* s = stream_of(fr, f->local)) {
      s->after.push_back(f);
      continue;
    }
    if (f->bytes.size() > kFragmentThreshold && start_stream(c, f)) continue;
    frame_to_header_form(f);
    now.push_back(f);
  }
  frames.swap(now);
}

void streams_continue(Conn* c) {
  if (!c->fragmenter.streams.empty()) pump_streams(c);
}

void fragment_written(Conn* c) {
  Fragmenter& fr = c->fragmenter;
  --fr.in_flight;
  if (c->st == St::Up) streams_continue(c);
}

// The connection is gone: what the streams still hold is answered as
// undeliverable, as fail_node answers an outbox.
void fragments_conn_closed(Conn* c) {
  Fragmenter& fr = c->fragmenter;
  std::vector<NodeEntry*> counted_in;
  for (auto& s : fr.streams) {
    if (s->frame->counted_in) counted_in.push_back(s->frame->counted_in);
    for (Frame* a : s->after)
      if (a->counted_in) counted_in.push_back(a->counted_in);
    drop_stream(*s);
  }
  fr.streams.clear();
  fr.holds_gate = false;
  c->reassembler.reset();
  // Their bytes left the busy count (a fragment still being written
  // frees its frame in on_written, which wakes then).
  for (NodeEntry* e : counted_in) busy_wake_if_drained(e);
}

}  // namespace snow::rt::dist
