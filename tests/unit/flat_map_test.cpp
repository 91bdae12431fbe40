// FlatMap64: the per-process link and monitor table.
#include <catch2/catch.hpp>

#include <random>
#include <unordered_map>

#include "runtime/common/flat_map.h"

using snow::rt::FlatMap64;

TEST_CASE("flat map agrees with std::unordered_map under random inserts and erases", "[flat_map]") {
  FlatMap64 m;
  std::unordered_map<uint64_t, uint64_t> ref;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t k = 1 + rng() % 5000;
    if (rng() % 3 == 0) {
      REQUIRE(m.erase(k) == (ref.erase(k) == 1));
    } else {
      uint64_t v = rng();
      auto [slot, inserted] = m.emplace(k, v);
      auto [it, ins2] = ref.emplace(k, v);
      REQUIRE(inserted == ins2);
      REQUIRE(*slot == it->second);
    }
    REQUIRE(m.size() == ref.size());
  }
  size_t seen = 0;
  m.for_each([&](uint64_t k, uint64_t v) {
    REQUIRE(ref.at(k) == v);
    ++seen;
  });
  REQUIRE(seen == ref.size());
}

TEST_CASE("key 0 is never stored; UINT64_MAX is an ordinary key", "[flat_map]") {
  FlatMap64 m;
  m.emplace(5, 1);
  REQUIRE(m.find(0) == nullptr);
  REQUIRE_FALSE(m.emplace(0, 3).second);
  REQUIRE_FALSE(m.erase(0));
  REQUIRE(m.find(UINT64_MAX) == nullptr);
  REQUIRE(m.emplace(UINT64_MAX, 9).second);
  REQUIRE(*m.find(UINT64_MAX) == 9);
  REQUIRE(m.size() == 2);
  size_t seen = 0;
  m.for_each([&](uint64_t, uint64_t) { ++seen; });
  REQUIRE(seen == 2);
  REQUIRE(m.erase(UINT64_MAX));
  REQUIRE(m.size() == 1);
}
