// libFuzzer target: the port mapper's replies (registration and lookup),
// read the way epmd_client.cpp reads them, a prefix at a time.
#include <cstddef>
#include <cstdint>

#include "runtime/dist/epmd.h"

using namespace snow::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (size_t n = 0; n <= size && n <= 64; ++n) {
    uint32_t creation = 0;
    uint16_t port = 0;
    epmd::Reply a = epmd::parse_alive2_resp(data, n, &creation);
    epmd::Reply b = epmd::parse_port2_resp(data, n, &port);
    // Once a reply is complete, more bytes never change the verdict.
    if (a != epmd::Reply::NeedMore && n < size) {
      uint32_t again = 0;
      if (epmd::parse_alive2_resp(data, size, &again) != a) __builtin_trap();
    }
    if (b == epmd::Reply::Ok && port == 0) __builtin_trap();
  }
  return 0;
}
