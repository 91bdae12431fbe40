// Wire vocabulary of the Erlang distribution protocol: capability flags,
// control message opcodes, and the mapping between ABI exit reasons and
// Erlang terms. Pure functions, no I/O.
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
constexpr uint64_t kFlagHandshake23 = 0x1000000;
constexpr uint64_t kFlagUnlinkId = 0x2000000;
constexpr uint64_t kFlagSpawn = uint64_t(1) << 32;
constexpr uint64_t kFlagV4NC = uint64_t(1) << 34;
constexpr uint64_t kFlagMandatory25Digest = uint64_t(1) << 36;

// What we offer: everything OTP 25 requires plus the features we implement.
// Not offered (so peers never use them): atom cache, fragments, aliases.
constexpr uint64_t kOurFlags = kFlagPublished | kFlagExtendedReferences | kFlagDistMonitor | kFlagDistMonitorName | kFlagFunTags | kFlagNewFunTags |
                               kFlagExtendedPidsPorts | kFlagExportPtrTag | kFlagBitBinaries | kFlagNewFloats | kFlagUtf8Atoms |
                               kFlagMapTag | kFlagBigCreation | kFlagSendSender | kFlagExitPayload | kFlagHandshake23 |
                               kFlagUnlinkId | kFlagSpawn | kFlagV4NC | kFlagMandatory25Digest;
// What we require of a peer.
constexpr uint64_t kRequiredFlags = kFlagExtendedReferences | kFlagExtendedPidsPorts | kFlagUtf8Atoms | kFlagNewFunTags |
                                    kFlagFunTags | kFlagBigCreation | kFlagHandshake23 | kFlagNewFloats | kFlagMapTag;

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
  kUnlinkIdOp = 35,
  kUnlinkIdAck = 36,
};

constexpr uint8_t kPassThrough = 112;

// ABI reason bytes -> Erlang term (appended to w, no version byte).
// normal/killed/shutdown/noconnection/noproc are atoms; error "m" is
// {error, <<"m">>}; custom "x" is the atom x (or {custom, <<"x">>} when too
// long for an atom); term reasons are their own bytes. `as_kill`: the
// untrappable kill of exit/2 travels as the atom kill.
void reason_to_term(etf::Writer& w, const uint8_t* reason, uint64_t len, bool as_kill);
// Erlang term bytes (no version byte) -> ABI reason bytes. Never fails: a
// term that maps to nothing else becomes reason tag 8 with the term's bytes
// (version byte included).
std::vector<uint8_t> term_to_reason(const uint8_t* term, size_t len, bool* is_kill);

}  // namespace snow::rt::wire
