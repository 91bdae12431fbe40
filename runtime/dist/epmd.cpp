#include "runtime/dist/epmd.h"

#include <cstdlib>

namespace snow::rt::epmd {

namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

std::vector<uint8_t> with_length(const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out;
  put16(out, uint16_t(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

}  // namespace

std::vector<uint8_t> encode_alive2_req(uint16_t listen_port, std::string_view alive) {
  std::vector<uint8_t> b{kAlive2Req};
  put16(b, listen_port);
  b.push_back(kNodeTypeNormal);
  b.push_back(kProtocolTcpIpv4);
  put16(b, kDistVersion);  // highest
  put16(b, kDistVersion);  // lowest
  put16(b, uint16_t(alive.size()));
  b.insert(b.end(), alive.begin(), alive.end());
  put16(b, 0);  // no extra data
  return with_length(b);
}

std::vector<uint8_t> encode_port_please2_req(std::string_view alive) {
  std::vector<uint8_t> b{kPortPlease2Req};
  b.insert(b.end(), alive.begin(), alive.end());
  return with_length(b);
}

Reply parse_alive2_resp(const uint8_t* b, size_t n, uint32_t* creation) {
  if (n < 2) return Reply::NeedMore;
  if (b[0] != kAlive2XResp && b[0] != kAlive2Resp) return Reply::Malformed;
  if (b[1] != 0) return Reply::Refused;
  if (b[0] == kAlive2XResp) {
    if (n < 6) return Reply::NeedMore;
    *creation = uint32_t(b[2]) << 24 | uint32_t(b[3]) << 16 | uint32_t(b[4]) << 8 | b[5];
  } else {
    if (n < 4) return Reply::NeedMore;
    *creation = uint32_t(b[2]) << 8 | b[3];
  }
  return Reply::Ok;
}

Reply parse_port2_resp(const uint8_t* b, size_t n, uint16_t* port) {
  if (n < 2) return Reply::NeedMore;
  if (b[0] != kPort2Resp) return Reply::Malformed;
  if (b[1] != 0) return Reply::Refused;
  if (n < 4) return Reply::NeedMore;
  *port = uint16_t(b[2] << 8 | b[3]);
  return *port == 0 ? Reply::Malformed : Reply::Ok;
}

}  // namespace snow::rt::epmd
