// Wire vocabulary of the Erlang distribution protocol: capability flags,
// control message opcodes, reading control messages in place, and the
// mapping between ABI exit reasons and Erlang terms. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/etf/etf.h"

namespace snow::rt::wire {

// Capability flags (erl_dist_protocol, "Distribution Flags").
constexpr uint64_t kFlagPublished = 0x1;
constexpr uint64_t kFlagExtendedReferences = 0x4;
constexpr uint64_t kFlagDistMonitor = 0x8;
constexpr uint64_t kFlagFunTags = 0x10;
constexpr uint64_t kFlagDistMonitorName = 0x20;
constexpr uint64_t kFlagNewFunTags = 0x80;
constexpr uint64_t kFlagExtendedPidsPorts = 0x100;
constexpr uint64_t kFlagExportPtrTag = 0x200;
constexpr uint64_t kFlagBitBinaries = 0x400;
constexpr uint64_t kFlagNewFloats = 0x800;
constexpr uint64_t kFlagUtf8Atoms = 0x10000;
constexpr uint64_t kFlagMapTag = 0x20000;
constexpr uint64_t kFlagBigCreation = 0x40000;
constexpr uint64_t kFlagSendSender = 0x80000;
constexpr uint64_t kFlagExitPayload = 0x400000;
constexpr uint64_t kFlagFragments = 0x800000;
constexpr uint64_t kFlagHandshake23 = 0x1000000;
constexpr uint64_t kFlagUnlinkId = 0x2000000;
constexpr uint64_t kFlagSpawn = uint64_t(1) << 32;
constexpr uint64_t kFlagV4NC = uint64_t(1) << 34;
constexpr uint64_t kFlagAlias = uint64_t(1) << 35;
constexpr uint64_t kFlagMandatory25Digest = uint64_t(1) << 36;

// What we offer: everything OTP 25 requires plus the features we implement.
// Not offered (so peers never use it): the atom cache. With fragments a
// peer sends and expects distribution headers (runtime/dist/fragments.h).
// Aliases are
// offered only so that a peer sends us what its processes send to an
// alias of ours rather than dropping it unseen: no process here has an
// alias, so those sends are dropped and counted (control.cpp).
// kFlagPublished is dropped for a hidden node (the default: see
// dist_internal.h our_flags and docs/distribution.md "Visibility").
constexpr uint64_t kOurFlags = kFlagPublished | kFlagExtendedReferences | kFlagDistMonitor | kFlagDistMonitorName |
                               kFlagFunTags | kFlagNewFunTags | kFlagExtendedPidsPorts | kFlagExportPtrTag |
                               kFlagBitBinaries | kFlagNewFloats | kFlagUtf8Atoms | kFlagMapTag | kFlagBigCreation |
                               kFlagSendSender | kFlagExitPayload | kFlagFragments | kFlagHandshake23 | kFlagUnlinkId |
                               kFlagSpawn | kFlagV4NC | kFlagAlias | kFlagMandatory25Digest;
// What we require of a peer.
constexpr uint64_t kRequiredFlags = kFlagExtendedReferences | kFlagExtendedPidsPorts | kFlagUtf8Atoms |
                                    kFlagNewFunTags | kFlagFunTags | kFlagBigCreation | kFlagHandshake23 |
                                    kFlagNewFloats | kFlagMapTag;

// Control message opcodes.
enum Op : int64_t {
  kLink = 1,
  kSend = 2,
  kExit = 3,
  kUnlink = 4,
  kRegSend = 6,
  kGroupLeader = 7,
  kExit2 = 8,
  kSendTT = 12,
  kExitTT = 13,
  kRegSendTT = 16,
  kExit2TT = 18,
  kMonitorP = 19,
  kDemonitorP = 20,
  kMonitorPExit = 21,
  kSendSender = 22,
  kSendSenderTT = 23,
  kPayloadExit = 24,
  kPayloadExitTT = 25,
  kPayloadExit2 = 26,
  kPayloadExit2TT = 27,
  kPayloadMonitorPExit = 28,
  kSpawnRequest = 29,
  kSpawnRequestTT = 30,
  kSpawnReply = 31,
  kSpawnReplyTT = 32,
  kAliasSend = 33,
  kAliasSendTT = 34,
  kUnlinkIdOp = 35,
  kUnlinkIdAck = 36,
};

constexpr uint8_t kPassThrough = 112;
constexpr uint8_t kDistHeader = 68;

// A control message as read from a pass-through frame: its opcode, the
// first kKeptItems elements of the control tuple as views into the frame
// (item[0] is the opcode; views past the tuple's arity are empty), and the
// bytes after the control term (a message or exit payload, version byte
// included). Elements past kKeptItems are checked and skipped: newer OTP
// versions add elements, which are ignored.
struct Control {
  static constexpr size_t kKeptItems = 6;
  int64_t op = 0;
  uint32_t arity = 0;
  etf::View item[kKeptItems];
  const uint8_t* rest = nullptr;
  size_t rest_size = 0;
};

// Reads a frame body (after the length prefix, not a tick): the
// pass-through byte, the version byte, a control tuple whose first element
// is an integer, then whatever follows into `rest`. False when malformed
// (the connection is closed). Costs time linear in the frame and no memory.
bool read_control(const uint8_t* frame, size_t n, Control* out);
// The same for a frame body in header form, [131][68][0][control][payload]
// (runtime/dist/fragments.h; atom cache references, which we never
// negotiate, are malformed): read in one pass, then rewritten in place
// into pass-through form ([112][131][control][131][payload], *out_n bytes
// from `body`), which `out` then describes, so that handlers see one form.
bool read_header_form(uint8_t* body, size_t n, Control* out, size_t* out_n);
// The payload after a control tuple: the version byte and exactly one term,
// as a view. False when malformed or absent.
bool read_payload(const Control& c, etf::View* out);

// ABI reason bytes -> Erlang term (appended to w, no version byte).
// normal/killed/shutdown/noconnection/noproc are atoms; error "m" is
// {error, <<"m">>}; custom "x" is the atom x when that is an atom Erlang
// accepts (UTF-8, at most 255 characters) and reads as no other reason,
// else {custom, <<"x">>}; term reasons are their own bytes. `as_kill`: the
// untrappable kill of exit/2 travels as the atom kill.
void reason_to_term(etf::Writer& w, const uint8_t* reason, uint64_t len, bool as_kill);
// Erlang term -> ABI reason bytes. Never fails: the reason atoms map to
// their tags, any other atom to custom text (Latin-1 atoms converted to
// UTF-8), {error, Bin} and {custom, Bin} to error and custom text when Bin
// is UTF-8 (ABI reason text always is), and anything else to reason tag 8
// with the term's bytes (version byte included). The atom kill sets
// *is_kill.
std::vector<uint8_t> term_to_reason(etf::View term, bool* is_kill);

}  // namespace snow::rt::wire
