// The per-process signal queue: many producers, one consumer (the owner),
// and the owner's sleep/wake state and a backlog count in the same atomic
// word.
//
// The word `head` (one std::atomic<uintptr_t>):
//   bit 0      S  the owner is asleep: the push that clears S wakes it
//   bits 1-3   B  backlog: how many signals wait behind the newest one,
//                 saturating at kBacklogMax (7); 0 when none is pending
//   bits 4-63  P  the newest pending signal (older ones follow through
//                 next), or 0. Signals are at least 16-byte aligned (the
//                 static_assert below), so their low four bits are free.
// States:
//   kEmpty      0        no pending signals, owner not asleep
//   kSleeping   S        no pending signals, owner asleep
//   kClosed     3        the owner has exited: pushes are refused (P = 0
//                        with B != 0 occurs in no other state)
//   P | B       pending signals, owner not asleep (running, or runnable
//               and not yet running)
//   P | B | S   pending *lazy* signals only, owner asleep, B < kBacklogMax
//
// Urgent and lazy signals: most signals must wake a sleeping owner; a lazy
// one (bookkeeping that matters only when the owner next runs or exits,
// when it drains its queue anyway) keeps S and does not schedule the owner,
// until the backlog is full: the lazy push that makes kLazyLimit signals
// pending (B' == kBacklogMax) clears S and wakes the owner like an urgent
// one. signals.cpp (wakes_owner) decides which kinds are lazy.
//
// Operations:
//   push (any thread)        CAS head from h to s | B' | S', with s->next =
//                             P(h), B' = P(h) ? min(B(h) + 1, kBacklogMax)
//                             : 0. Refused if h == kClosed. The push clears S
//                             when it is urgent or B' == kBacklogMax; if S was
//                             set, that pusher, and only it, wakes the owner.
//                             Otherwise S' = S(h).
//   take_all (owner)         exchange head with kEmpty (B restarts at 0);
//                             reverse the chain to get arrival order.
//   try_sleep (worker, after the owner's context is saved)
//                             CAS head from kEmpty to kSleeping.
//   cancel_sleep (a thread owner whose wait timed out)
//                             CAS clearing S, keeping P and B; fails if S is
//                             already clear (a pusher owns the wake).
//   close (owner, on exit)   exchange head with kClosed; the returned chain
//                             is what arrived before the close.
//
// Correctness:
// - No lost wake-up: the owner goes to sleep only by the CAS kEmpty ->
//   kSleeping, which fails if any signal is pending. S then stays set
//   through lazy pushes until a push clears it (an urgent one, or the lazy
//   one that fills the backlog); exactly one pusher observes S and clears it,
//   and that one makes the owner runnable. Going to sleep and becoming ready
//   are each one atomic step on the same word.
// - Bounded backlog while asleep: S is set only while fewer than kLazyLimit
//   signals are pending, since the push that would make kLazyLimit clears
//   it. B is exact below the cap because it changes only with P, in the same
//   CAS (push adds one, take_all and close reset both), so it never drifts
//   from the chain. Once the owner is runnable, its queue is bounded by how
//   soon a worker runs it (docs/design/scheduler.md, "Watching busy
//   workers"), not by this word.
// - Order: pushes are linearised by their CAS on head; take_all reverses the
//   chain, so the owner sees signals in push order, lazy and urgent alike.
//   One sender's pushes are sequential, hence its signals arrive in the
//   order it sent them.
// - No ABA: the consumer only ever exchanges the whole word (take_all,
//   close), never pops one element, so a push whose CAS succeeds found head
//   still equal to the value h it read, and s->next = P(h) and B' are right
//   whatever happened in between (even if the signal at P(h) was taken,
//   freed and a new one pushed at the same address, it is then the current
//   newest signal, and B(h) counts the chain behind it).
// - Memory order: push is release (the signal's contents happen-before the
//   consumer's acquire exchange); try_sleep and the push that clears S are
//   acq_rel, so the waker sees the owner's saved state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/proc/signal.h"

namespace snow::rt {

// head keeps S and B in the low four bits of the newest signal's address,
// which must be zero: malloc aligns any block of 16 bytes or more for
// max_align_t, and so does mimalloc, and a signal is larger than that.
static_assert(alignof(std::max_align_t) >= 16 && sizeof(Signal) >= 16,
              "signal addresses must leave four low bits for the queue word");

class SignalQueue {
 public:
  static constexpr uintptr_t kEmpty = 0;
  static constexpr uintptr_t kSleeping = 1;
  static constexpr uintptr_t kClosed = 3;
  static constexpr uintptr_t kBacklogMax = 7;
  // Signals that may wait for a sleeping owner before the one pushing the
  // last of them wakes it: kBacklogMax behind the newest, plus the newest.
  static constexpr uintptr_t kLazyLimit = kBacklogMax + 1;

  enum class Push { Queued, WokeOwner, Closed };

  Push push(Signal* s, bool urgent = true) {
    uintptr_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      if (h == kClosed) return Push::Closed;
      uintptr_t older = h & kPointerMask;
      uintptr_t backlog = older ? backlog_of(h) + (backlog_of(h) < kBacklogMax) : 0;
      bool sleeping = h & kSleeping;
      bool wake = sleeping && (urgent || backlog == kBacklogMax);
      s->next = reinterpret_cast<Signal*>(older);
      uintptr_t next = reinterpret_cast<uintptr_t>(s) | backlog << kBacklogShift | (sleeping && !wake ? kSleeping : 0);
      if (head_.compare_exchange_weak(h, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return wake ? Push::WokeOwner : Push::Queued;
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
    return h == kClosed ? nullptr : reverse(h);
  }

  // Reopen a recycled queue for a new process incarnation (no pushes can
  // be pending: it was closed).
  void open() { head_.store(kEmpty, std::memory_order_release); }

  // Owner only (a running owner never has the sleeping bit set).
  bool has_pending() const { return (head_.load(std::memory_order_acquire) & kPointerMask) != 0; }
  bool closed() const { return head_.load(std::memory_order_acquire) == kClosed; }

 private:
  static constexpr unsigned kBacklogShift = 1;
  static constexpr uintptr_t kPointerMask = ~uintptr_t(15);

  static uintptr_t backlog_of(uintptr_t h) { return (h >> kBacklogShift) & kBacklogMax; }

  static Signal* reverse(uintptr_t h) {
    Signal* cur = reinterpret_cast<Signal*>(h & kPointerMask);
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
