// Exit reason encoding and validation.
#include <catch2/catch.hpp>

#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/proc/reason.h"

using namespace snow::rt;

TEST_CASE("reasons without data are exactly one byte", "[reason]") {
  for (uint8_t tag : {0, 2, 4, 6, 7}) {
    uint8_t r[2] = {tag, 0};
    REQUIRE(reason_validate(r, 1) == 1);
    REQUIRE(reason_validate(r, 2) == -1);
  }
}

TEST_CASE("reserved and unknown tags are malformed", "[reason]") {
  uint8_t r3[1] = {3}, r9[1] = {9};
  REQUIRE(reason_validate(r3, 1) == -1);
  REQUIRE(reason_validate(r9, 1) == -1);
  REQUIRE(reason_validate(nullptr, 0) == -1);
}

TEST_CASE("reasons with data need an exact length", "[reason]") {
  std::vector<uint8_t> r(reason_size(SNOW_REASON_ERROR, 3));
  reason_write(r.data(), SNOW_REASON_ERROR, "boo");
  REQUIRE(reason_validate(r.data(), r.size()) == int64_t(r.size()));
  REQUIRE(reason_validate(r.data(), r.size() - 1) == -1);
  put_u64(r.data() + 1, UINT64_MAX);
  REQUIRE(reason_validate(r.data(), r.size()) == -1);
}
