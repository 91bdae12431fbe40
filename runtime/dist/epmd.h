// The port mapper protocol (EPMD, erl_dist_protocol "EPMD Protocol"): the
// requests a node sends and the replies it reads, as pure functions. The
// connection handling (register at start, look a peer up before
// connecting) is in epmd_client.cpp.
//
// Requests travel as [u16 length][request]; replies come without a length.
// A node registers with ALIVE2_REQ on a connection it keeps open (EPMD
// forgets the name when it closes) and reads ALIVE2_X_RESP (or ALIVE2_RESP
// from an old EPMD) with its creation. To find a peer, a node sends
// PORT_PLEASE2_REQ with the peer's alive part and reads PORT2_RESP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace snow::rt::epmd {

constexpr uint16_t kPort = 4369;

enum Message : uint8_t {
  kAlive2XResp = 118,
  kPort2Resp = 119,
  kAlive2Req = 120,
  kAlive2Resp = 121,
  kPortPlease2Req = 122,
};

constexpr uint8_t kNodeTypeNormal = 77;
constexpr uint8_t kProtocolTcpIpv4 = 0;
constexpr uint16_t kDistVersion = 6;  // highest and lowest handshake version we speak

// Both with the u16 length prefix, ready to write.
std::vector<uint8_t> encode_alive2_req(uint16_t listen_port, std::string_view alive);
std::vector<uint8_t> encode_port_please2_req(std::string_view alive);

enum class Reply {
  NeedMore,   // not enough bytes yet
  Ok,         // the value was read
  Refused,    // the port mapper said no (name taken / not registered)
  Malformed,  // not a reply to this request
};

// The registration reply: *creation on Ok (16-bit from ALIVE2_RESP, 32-bit
// from ALIVE2_X_RESP).
Reply parse_alive2_resp(const uint8_t* b, size_t n, uint32_t* creation);
// The lookup reply: *port on Ok (the fields after the port are not needed).
Reply parse_port2_resp(const uint8_t* b, size_t n, uint16_t* port);

}  // namespace snow::rt::epmd
