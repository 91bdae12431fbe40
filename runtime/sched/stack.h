// Execution stacks ("slots") shared by many processes.
//
// Vocabulary:
// - A *slot* is one mapped stack region with a 64 KiB guard at its low end.
//   Every process is bound to one slot for its whole life, because a stack
//   holds absolute pointers into itself and must always run at the same
//   addresses.
// - The *resident* of a slot is the process whose bytes currently occupy it.
//   A parked process may stay resident (no copy at all when it resumes) until
//   another process bound to the same slot needs to run; then its used stack
//   part is copied out to a heap buffer sized to fit (*evicted*) and copied
//   back when it runs again (*restored*).
// - *Dedicated* slots belong to one process (asked for with a stack size
//   larger than the shared slots) and are never shared.
//
// Ownership: a slot is used by at most one worker at a time (busy flag under
// the slot lock). Processes that become runnable while their slot is busy
// wait on the slot's list and are handed back to the releasing worker.
// resident/eviction state is only touched by the worker holding the slot.
//
// Why: a parked process then pins no stack page of its own (a million idle
// processes cost their used stack bytes, not a page each), the number of
// mappings stays small (vm.max_map_count), and processes still migrate
// between workers because slots, not workers, own the addresses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "runtime/common/common.h"

namespace snow::rt {

struct Task;

struct StackSlot {
  SpinLock mu;
  bool busy = false;             // a worker runs (or evicts/restores) in this slot
  Task* waiting_head = nullptr;  // runnable tasks bound here, queued while busy
  Task* waiting_tail = nullptr;
  Task* resident = nullptr;  // whose bytes occupy the slot (owner: busy holder)
  char* map_base = nullptr;  // start of the mapping (64 KiB guard first)
  char* top = nullptr;       // one past the highest usable byte
  std::size_t usable = 0;    // bytes between guard page and top
  std::size_t map_size = 0;
  bool dedicated = false;
};

// Maps a slot of `usable` bytes plus a guard page. Returns nullptr when the
// mapping fails.
StackSlot* stack_slot_create(std::size_t usable, bool dedicated);
void stack_slot_destroy(StackSlot* s);
// True when `addr` lies in the slot's guard page. Async-signal-safe.
bool stack_slot_guard_hit(const StackSlot* s, const void* addr);

std::size_t page_size();

}  // namespace snow::rt
