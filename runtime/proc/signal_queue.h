// The per-process signal queue: many producers, one consumer (the owner),
// and the owner's sleep/wake state in the same atomic word.
//
// States of `head` (one std::atomic<uintptr_t>):
//   kEmpty       no pending signals, owner not asleep
//   kSleeping    no pending signals, owner asleep: the next urgent push wakes it
//   kClosed      the owner has exited: pushes are refused
//   pointer      the newest pending signal; older ones follow through next
//   pointer | 1  pending *lazy* signals only, owner asleep
//
// Urgent and lazy signals: most signals must wake a sleeping owner; a lazy
// one (pure bookkeeping that matters only when the owner next runs or
// exits, when it drains its queue anyway) keeps the sleeping bit and does
// not schedule the owner. process.cpp decides which kinds are lazy.
//
// Operations:
//   push (any thread)        CAS head from h to s (s->next = h's pointer).
//                             Refused if h == kClosed. An urgent push clears
//                             the sleeping bit and, if it was set, the
//                             pusher, and only it, wakes the owner; a lazy
//                             push keeps the bit.
//   take_all (owner)         exchange head with kEmpty; reverse the chain to
//                             get arrival order.
//   try_sleep (worker, after the owner's context is saved)
//                             CAS head from kEmpty to kSleeping.
//   close (owner, on exit)   exchange head with kClosed; the returned chain
//                             is what arrived before the close.
//
// Correctness:
// - No lost wake-up: the owner goes to sleep only by the CAS kEmpty ->
//   kSleeping, which fails if any signal is pending. The sleeping bit then
//   stays set through lazy pushes until the first urgent push clears it;
//   exactly one pusher observes the bit and clears it, and that one makes the
//   owner runnable. Going to sleep and becoming ready are each one atomic
//   step on the same word.
// - Order: pushes are linearised by their CAS on head; take_all reverses the
//   chain, so the owner sees signals in push order. One sender's pushes are
//   sequential, hence its signals arrive in the order it sent them.
// - No ABA: a pushed signal is owned by the queue until take_all removes it
//   and only the owner frees signals; head only ever changes from a value a
//   pusher read to a fresh signal that pusher owns, so a reused address
//   cannot be mistaken for a stale head (the CAS compares the whole chain's
//   newest element, which no one frees while it is in the queue).
// - Memory order: push is release (the signal's contents happen-before the
//   consumer's acquire exchange); try_sleep/push on kSleeping are acq_rel
//   so the waker sees the owner's saved state.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/proc/signal.h"

namespace snow::rt {

class SignalQueue {
 public:
  static constexpr uintptr_t kEmpty = 0;
  static constexpr uintptr_t kSleeping = 1;
  static constexpr uintptr_t kClosed = 3;

  enum class Push { Queued, WokeOwner, Closed };

  Push push(Signal* s, bool urgent = true) {
    uintptr_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      if (h == kClosed) return Push::Closed;
      uintptr_t sleeping = h & kSleeping;
      s->next = reinterpret_cast<Signal*>(h & ~kSleeping);
      uintptr_t next = reinterpret_cast<uintptr_t>(s) | (urgent ? 0 : sleeping);
      if (head_.compare_exchange_weak(h, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return sleeping && urgent ? Push::WokeOwner : Push::Queued;
    }
  }

  // Owner only. Returns the pending signals oldest first (nullptr if none).
  Signal* take_all() {
    if (!has_pending()) return nullptr;
    uintptr_t h = head_.exchange(kEmpty, std::memory_order_acq_rel);
    return reverse(h);
  }

  bool try_sleep() {
    uintptr_t expect = kEmpty;
    return head_.compare_exchange_strong(expect, kSleeping, std::memory_order_acq_rel, std::memory_order_acquire);
  }

  // Undo a sleep the owner gave up on (a thread task whose wait timed out).
  // Returns false if a pusher already woke it (the wake is then owed).
  bool cancel_sleep() {
    uintptr_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      if (!(h & kSleeping) || h == kClosed) return false;
      if (head_.compare_exchange_weak(h, h & ~kSleeping, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
  }

  Signal* close() {
    uintptr_t h = head_.exchange(kClosed, std::memory_order_acq_rel);
    return h == kClosed ? nullptr : reverse(h & ~kSleeping);
  }

  // Reopen a recycled queue for a new process incarnation (no pushes can
  // be pending: it was closed).
  void open() { head_.store(kEmpty, std::memory_order_release); }

  // Owner only (a running owner never has the sleeping bit set).
  bool has_pending() const {
    uintptr_t h = head_.load(std::memory_order_acquire);
    return h != kEmpty && h != kSleeping && h != kClosed;
  }
  bool closed() const { return head_.load(std::memory_order_acquire) == kClosed; }

 private:
  static Signal* reverse(uintptr_t h) {
    h &= ~kSleeping;
    if (h == kEmpty || h == (kClosed & ~kSleeping)) return nullptr;
    Signal* cur = reinterpret_cast<Signal*>(h);
    Signal* prev = nullptr;
    while (cur) {
      Signal* n = cur->next;
      cur->next = prev;
      prev = cur;
      cur = n;
    }
    return prev;
  }

  std::atomic<uintptr_t> head_{kClosed};
};

}  // namespace snow::rt
