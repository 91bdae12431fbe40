// Distribution headers and fragmented messages (erl_ext_dist "Distribution
// Header", erl_dist_protocol DFLAG_FRAGMENTS), both directions.
//
// Vocabulary:
// - *Pass-through form*: a frame body [112][131 control][131 payload], what
//   control.cpp reads. A peer that did not negotiate fragments gets and
//   sends this form.
// - *Header form*: [131][68][0][control][payload], terms without version
//   bytes (the 0: no atom cache references; we never offer the atom cache).
//   A peer that negotiated DFLAG_FRAGMENTS (erl 22 and later, libsnowrt)
//   sends only this form and refuses the pass-through form. The signals
//   of processes are encoded in this form (FrameWriter, below);
//   the few frames built in pass-through form are converted on their way
//   to such a peer (frame_to_header_form), and header-form frames on their
//   way to a peer without fragments (frame_to_pass_through).
// - *Sequence*: one message split into fragments: a first fragment
//   [131][69][sequence id:64][fragment id:64][0][control][payload start],
//   then [131][70][sequence id][fragment id][more payload]; the fragment id
//   counts down to 1, the last. Sequences of different senders interleave
//   on a connection; the fragments of one arrive in order.
//
// Receiving (Reassembler, one per up connection, loop only): fragments are
// gathered per sequence id into one pass-through-form message, handed to
// control.cpp when the last arrives. Bounds (docs/distribution.md
// "Limits"): a message may hold at most `max_message` bytes
// (SNOW_DIST_MAX_MESSAGE); all unfinished sequences of a connection
// together hold at most as much; at most kMaxSequences sequences are
// unfinished at once. A message over either byte bound is *refused*: its
// bytes are freed, its later fragments are read and dropped, the
// connection stays up. A peer that breaks the protocol (a fragment of an
// unknown sequence, a fragment id out of order, a sequence id reused, atom
// cache references, more than kMaxSequences unfinished sequences) gets its
// connection closed. Memory is proportional to the bytes received.
//
// Sending (Fragmenter, one per up connection, loop only): a frame larger
// than kFragmentThreshold for a peer with DFLAG_FRAGMENTS becomes a
// *stream*: its fragments are written kFragmentPayload bytes at a time, at
// most kStreamWindow of them in libuv at once, round robin between
// streams, so frames from other senders (ticks are written only when
// nothing is pending) are written between fragments instead of waiting
// behind the whole message. Order per sender is kept: a frame whose sender
// (Frame::local; 0 for senders outside processes) has a stream in progress
// waits behind that stream. While any stream is in progress the
// Fragmenter holds one count of the write gate's loop_pending, so senders
// hand their frames to the loop instead of writing them directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "runtime/dist/node_table.h"
#include "runtime/dist/wire.h"

namespace snow::rt::dist {

constexpr uint8_t kDistHeader = wire::kDistHeader;
constexpr uint8_t kFragmentHeader = 69;
constexpr uint8_t kFragmentContinue = 70;

// Unfinished incoming sequences a connection may have at once.
constexpr size_t kMaxSequences = 1024;
// Payload bytes per outgoing fragment (OTP uses the same size).
constexpr size_t kFragmentPayload = 64 * 1024;
// Frames larger than this (length prefix included) go out in fragments.
constexpr size_t kFragmentThreshold = kFragmentPayload + 1024;
// Outgoing fragments handed to libuv and not yet written, per connection.
constexpr size_t kStreamWindow = 4;

// ------------------------------------------------------------------ header forms

// A frame encoded in header form, the form every peer with fragments
// takes, so that the send path does not convert it: the control term,
// then payload() and the payload term, neither with a version byte. A peer
// without fragments gets it converted (frame_to_pass_through).
struct FrameWriter : etf::Writer {
  size_t control_end = 0;
  FrameWriter();
  // The control term is complete: what follows is the payload.
  void payload() { control_end = buf.size(); }
  // `kind`, `local`, `remote`, `ref`: what to answer locally if the frame
  // cannot be sent (Frame).
  Frame* finish(SigKind kind = SigKind::Message, uint64_t local = 0, uint64_t remote = 0, uint64_t ref = 0);
};

// Converts a queued frame (pass-through form, length prefix included) to
// header form in place, once (Frame::header_form). O(control term size);
// frames without payload grow by one byte.
void frame_to_header_form(Frame* f);
// The other way, for a peer without fragments (a frame encoded in header
// form, FrameWriter): O(control term size), no parsing (the frame knows
// where its control term ends); frames without payload shrink by one byte.
void frame_to_pass_through(Frame* f);

// ------------------------------------------------------------------ receiving

class Reassembler {
 public:
  enum class Outcome {
    Pending,    // more fragments to come (or a refused sequence's fragment, dropped)
    Complete,   // message() holds the whole message in pass-through form
    Refused,    // this fragment's message went over a bound: dropped (why())
    Violation,  // the peer broke the protocol (why()): close the connection
  };

  explicit Reassembler(uint64_t max_message) : max_message_(max_message) {}

  // One frame body that starts [131][69] or [131][70].
  Outcome feed(const uint8_t* body, size_t n);
  // After Complete: the message (moved out by the caller).
  std::vector<uint8_t>& message() { return done_; }
  const char* why() const { return why_; }
  // The sequence id and bytes received of the last refused message.
  uint64_t refused_sequence() const { return refused_seq_; }
  uint64_t refused_bytes() const { return refused_bytes_; }

  size_t sequences() const { return seqs_.size(); }
  uint64_t bytes_held() const { return held_; }

 private:
  struct Sequence {
    uint64_t next_fragment = 0;  // the id the next fragment must carry
    uint64_t received = 0;       // bytes received (kept or not)
    size_t control_end = 0;      // where buf has the payload's version byte
    bool refused = false;
    std::vector<uint8_t> buf;  // pass-through form so far (empty when refused)
  };
  Outcome start(uint64_t seq, uint64_t frag, const uint8_t* p, size_t n);
  Outcome append(Sequence& s, uint64_t seq, const uint8_t* p, size_t n);
  Outcome finish(uint64_t seq);
  Outcome refuse(Sequence& s, uint64_t seq, const char* why);
  Outcome violation(const char* why) {
    why_ = why;
    return Outcome::Violation;
  }

  uint64_t max_message_;
  uint64_t held_ = 0;  // bytes in the buffers of unfinished sequences
  std::unordered_map<uint64_t, Sequence> seqs_;
  std::vector<uint8_t> done_;
  const char* why_ = "";
  uint64_t refused_seq_ = 0, refused_bytes_ = 0;
};

// ------------------------------------------------------------------ sending

// One frame going out in fragments (see the top).
struct OutStream {
  uint64_t sender = 0;
  uint64_t seq = 0;
  std::shared_ptr<Frame> frame;  // writes in flight share it
  size_t control_begin = 0;      // the control term's bytes in frame->bytes (either form)
  size_t control_end = 0;
  size_t payload_begin = 0;  // the payload's first byte (after its version byte in pass-through form)
  size_t next = 0;           // offset of the next payload byte to send
  uint64_t fragments_left = 0;
  std::deque<Frame*> after;  // the sender's later frames, in order
};

struct Fragmenter {
  std::deque<std::unique_ptr<OutStream>> streams;  // round robin: front goes next
  uint64_t next_seq = 1;
  size_t in_flight = 0;     // fragment writes handed to libuv
  bool holds_gate = false;  // one count of the gate's loop_pending is ours
  bool pumping = false;
};

}  // namespace snow::rt::dist
