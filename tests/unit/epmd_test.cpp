// Port mapper requests and replies.
#include <catch2/catch.hpp>

#include <vector>

#include "runtime/dist/epmd.h"

using namespace snow::rt;

TEST_CASE("the registration request carries the port, the name and version 6", "[epmd]") {
  auto b = epmd::encode_alive2_req(0x1234, "node");
  REQUIRE(b.size() == 2 + 13 + 4);
  CHECK((b[0] << 8 | b[1]) == int(b.size() - 2));
  CHECK(b[2] == epmd::kAlive2Req);
  CHECK((b[3] << 8 | b[4]) == 0x1234);
  CHECK(b[5] == epmd::kNodeTypeNormal);
  CHECK((b[7] << 8 | b[8]) == 6);
  CHECK((b[11] << 8 | b[12]) == 4);
  CHECK(std::string(b.begin() + 13, b.begin() + 17) == "node");
}

TEST_CASE("registration replies give the creation or say why not", "[epmd]") {
  uint32_t creation = 0;
  std::vector<uint8_t> x{118, 0, 0x12, 0x34, 0x56, 0x78};
  CHECK(epmd::parse_alive2_resp(x.data(), x.size(), &creation) == epmd::Reply::Ok);
  CHECK(creation == 0x12345678);
  std::vector<uint8_t> old{121, 0, 0x01, 0x02};
  CHECK(epmd::parse_alive2_resp(old.data(), old.size(), &creation) == epmd::Reply::Ok);
  CHECK(creation == 0x0102);
  for (size_t n = 0; n < x.size(); ++n) CHECK(epmd::parse_alive2_resp(x.data(), n, &creation) == epmd::Reply::NeedMore);
  std::vector<uint8_t> taken{118, 1};
  CHECK(epmd::parse_alive2_resp(taken.data(), taken.size(), &creation) == epmd::Reply::Refused);
  std::vector<uint8_t> junk{'H', 'T', 'T', 'P'};
  CHECK(epmd::parse_alive2_resp(junk.data(), junk.size(), &creation) == epmd::Reply::Malformed);
}

TEST_CASE("lookup replies give the port or say the name is unknown", "[epmd]") {
  uint16_t port = 0;
  std::vector<uint8_t> ok{119, 0, 0x23, 0x28, 77, 0, 0, 6, 0, 6};
  CHECK(epmd::parse_port2_resp(ok.data(), ok.size(), &port) == epmd::Reply::Ok);
  CHECK(port == 9000);
  std::vector<uint8_t> unknown{119, 1};
  CHECK(epmd::parse_port2_resp(unknown.data(), unknown.size(), &port) == epmd::Reply::Refused);
  CHECK(epmd::parse_port2_resp(ok.data(), 3, &port) == epmd::Reply::NeedMore);
  std::vector<uint8_t> zero{119, 0, 0, 0};
  CHECK(epmd::parse_port2_resp(zero.data(), zero.size(), &port) == epmd::Reply::Malformed);
  auto req = epmd::encode_port_please2_req("peer");
  CHECK(req == std::vector<uint8_t>{0, 5, 122, 'p', 'e', 'e', 'r'});
}
