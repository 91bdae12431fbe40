#include "runtime/sched/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include "runtime/common/common.h"
#include "runtime/sched/context.h"

namespace snow::rt {

std::size_t page_size() {
  static const std::size_t p = std::size_t(sysconf(_SC_PAGESIZE));
  return p;
}

// The guard is 64 KiB, not one page: code built without stack-clash
// protection can move the stack pointer by a whole large frame at once, and
// must still land in the guard rather than in the next slot.
constexpr std::size_t kGuardBytes = 64 * 1024;

StackSlot* stack_slot_create(std::size_t usable, bool dedicated) {
  const std::size_t pg = page_size();
  usable = (usable + pg - 1) & ~(pg - 1);
  const std::size_t guard = (kGuardBytes + pg - 1) & ~(pg - 1);
  const std::size_t total = usable + guard;
  // MAP_NORESERVE: only touched pages count; MAP_STACK documents intent.
  void* m =
      mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  if (mprotect(m, guard, PROT_NONE) != 0) {
    munmap(m, total);
    return nullptr;
  }
  StackSlot* s = make<StackSlot>();
  if (!s) {
    munmap(m, total);
    return nullptr;
  }
  s->map_base = static_cast<char*>(m);
  s->map_size = total;
  s->usable = usable;
  s->top = s->map_base + total;
  s->dedicated = dedicated;
  return s;
}

void stack_slot_destroy(StackSlot* s) {
  if (!s) return;
  // ASan keeps the redzone poison of frames that never returned (processes
  // ended by a runtime stop) after the unmap; a later mapping at these
  // addresses (a heap chunk header) would inherit it.
  sanitizer_unpoison(s->map_base + (s->top - s->map_base - s->usable), s->usable);
  munmap(s->map_base, s->map_size);
  destroy(s);
}

bool stack_slot_guard_hit(const StackSlot* s, const void* addr) {
  const char* a = static_cast<const char*>(addr);
  return a >= s->map_base && a < s->top - s->usable;
}

}  // namespace snow::rt
