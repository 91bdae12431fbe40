// Helpers shared by the heap unit tests (heap_test.cpp, heap_shared_test.cpp).
#pragma once

#include <catch2/catch.hpp>

#include "runtime/heap/heap.h"

namespace heap_test {

// A heap for one test case, destroyed at the end.
struct TestHeap {
  snow::rt::Heap* h = snow::rt::heap_create();
  TestHeap() { REQUIRE(h != nullptr); }
  ~TestHeap() { snow::rt::heap_destroy(h); }
  TestHeap(const TestHeap&) = delete;
  TestHeap& operator=(const TestHeap&) = delete;
};

// `p` is the start of a live object (of any heap).
inline bool alive(const void* p) {
  const void* start = nullptr;
  return snow::rt::heap_find_object(p, &start, nullptr) && start == p;
}

}  // namespace heap_test
