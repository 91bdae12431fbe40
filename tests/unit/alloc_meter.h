// Counts what the calling thread allocates through operator new while an
// AllocMeter is alive (alloc_meter.cpp replaces the global operator
// new/delete of the unit-test binary; other threads and other times are
// not counted). For tests that bound the memory a decoder may use.
#pragma once

#include <cstddef>

namespace snow::test {

class AllocMeter {
 public:
  AllocMeter();
  ~AllocMeter();
  AllocMeter(const AllocMeter&) = delete;
  AllocMeter& operator=(const AllocMeter&) = delete;
  // Most bytes live at once among those allocated since construction.
  size_t peak() const;
  // Every byte allocated since construction.
  size_t total() const;
};

}  // namespace snow::test
