// A worker's local run queue: a bounded ring of runnable tasks that only
// the worker's own thread (the *owner*) pushes to, and that the owner and
// other workers (*thieves*) take from. Internal to runtime/sched.
//
// State: two 64-bit counters that only grow, `head` and `tail`. The ring
// holds the tasks at positions [head, tail), position i in
// slots[i % kCapacity].
//   tail   written by the owner only (push).
//   head   advanced by compare-and-swap: by the owner (pop) and by thieves
//          (steal).
//
// Operations:
//   push (owner)        if tail - head < kCapacity: store the task in slot
//                       tail, then store tail + 1 (seq_cst). Otherwise it
//                       refuses (the caller queues the task elsewhere).
//   pop (owner)         read head h; if h == tail: empty. Read slot h, CAS
//                       head h -> h + 1; on failure (a thief moved head)
//                       retry.
//   steal (any thread)  read head h (acquire), then tail t (acquire); take
//                       n = ceil((t - h) / 2) (at most `max`): copy slots
//                       [h, h + n), then CAS head h -> h + n; on failure
//                       discard the copies and retry.
//
// Correctness:
// - head <= tail always: the owner's pop moves head only when h < tail; a
//   thief moves it to h + n <= t, and t was read after h, so t is at most
//   the current tail. Hence size() = tail - head is never negative when
//   head is read first.
// - Every task is taken exactly once: a position leaves the ring only
//   through the one successful CAS that moves head past it, and head moves
//   past each position once. No ABA: head never takes the same value twice
//   (64 bits do not wrap), so a CAS that succeeds found head unchanged since
//   it read h, and nobody took positions [h, h + n) meanwhile.
// - A copy that raced with an overwrite is never used. The owner writes
//   slot tail only after reading head with acquire and seeing
//   tail - head < kCapacity, so the slot it overwrites held position
//   tail - kCapacity < head: already taken. A thief still copying it read
//   an older head, so its CAS fails. The slots are atomics (relaxed), so
//   such a discarded read is not a data race.
// - A successful taker sees the task as the pusher left it: the owner
//   stores the slot, then tail (release at least); a thief reads tail with
//   acquire before reading the slots below it; the owner reads its own
//   stores. Conversely a thief's reads of the slots it took happen before
//   its CAS (acq_rel), which happens before the owner's acquire read of
//   head that lets it reuse those slots.
// - Parking (scheduler.cpp, "parking"; docs/design/scheduler.md): push
//   stores tail seq_cst and the pusher then reads the park state seq_cst,
//   while a parking worker announces itself seq_cst and then reads every
//   queue's size seq_cst: one of them sees the other (Dekker).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/common/common.h"

namespace snow::rt {

struct Task;

class TaskRing {
 public:
  static constexpr uint64_t kCapacity = 256;

  // Owner only. False when full (nothing stored).
  bool push(Task* t) {
    const uint64_t tl = tail_.load(std::memory_order_relaxed);
    if (tl - head_.load(std::memory_order_acquire) >= kCapacity) return false;
    slots_[tl % kCapacity].store(t, std::memory_order_relaxed);
    tail_.store(tl + 1, std::memory_order_seq_cst);
    return true;
  }

  // Owner only: the oldest task, or nullptr when empty.
  Task* pop() {
    const uint64_t tl = tail_.load(std::memory_order_relaxed);
    uint64_t h = head_.load(std::memory_order_acquire);
    while (h != tl) {
      Task* t = slots_[h % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return t;
    }
    return nullptr;
  }

  // Any thread: takes the older half (rounded up, at most `max`) into
  // out[0..n) in queue order and returns n; 0 when empty.
  size_t steal(Task** out, size_t max) {
    for (;;) {
      uint64_t h = head_.load(std::memory_order_acquire);
      const uint64_t tl = tail_.load(std::memory_order_acquire);
      if (tl <= h) return 0;
      size_t n = size_t((tl - h + 1) / 2);
      if (n > max) n = max;
      if (n > kCapacity) n = kCapacity;  // tail moved far since head was read: the CAS will fail
      for (size_t i = 0; i < n; ++i) out[i] = slots_[(h + i) % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel, std::memory_order_acquire)) return n;
    }
  }

  // Tasks in the ring (a snapshot from any thread; exact on the owner).
  int64_t size(std::memory_order order = std::memory_order_relaxed) const {
    const uint64_t h = head_.load(order);
    const uint64_t tl = tail_.load(order);
    return tl > h ? int64_t(tl - h) : 0;
  }

 private:
  // The owner touches both on every push and pop: one line, apart from the
  // slots a thief copies.
  alignas(kCacheLine) std::atomic<uint64_t> head_{0};
  std::atomic<uint64_t> tail_{0};
  alignas(kCacheLine) std::atomic<Task*> slots_[kCapacity] = {};
};

}  // namespace snow::rt
