// The signal queue: order, sleep/wake hand-off, the lazy backlog, close.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <thread>
#include <vector>

#include "runtime/proc/signal_queue.h"

using namespace snow::rt;

namespace {
Signal* sig(uint64_t from, uint64_t ref) {
  Signal* s = signal_alloc(SigKind::Message, 1, from, 0);
  s->ref = ref;
  return s;
}
void free_chain(Signal* s) {
  while (s) {
    Signal* n = s->next;
    signal_free(s);
    s = n;
  }
}
// Frees a chain and returns its length.
size_t free_counted(Signal* s) {
  size_t n = 0;
  for (Signal* c = s; c; c = c->next) ++n;
  free_chain(s);
  return n;
}
}  // namespace

TEST_CASE("take_all returns signals in push order", "[signal_queue]") {
  SignalQueue q;
  q.open();
  for (uint64_t i = 0; i < 10; ++i) REQUIRE(q.push(sig(1, i)) == SignalQueue::Push::Queued);
  Signal* s = q.take_all();
  uint64_t expect = 0;
  for (Signal* c = s; c; c = c->next) REQUIRE(c->ref == expect++);
  REQUIRE(expect == 10);
  free_chain(s);
  REQUIRE(q.take_all() == nullptr);
}

TEST_CASE("try_sleep fails while signals are pending", "[signal_queue]") {
  SignalQueue q;
  q.open();
  q.push(sig(1, 0));
  REQUIRE_FALSE(q.try_sleep());
  free_chain(q.take_all());
  REQUIRE(q.try_sleep());
}

TEST_CASE("exactly the first push after sleep wakes the owner", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  REQUIRE(q.push(sig(1, 0)) == SignalQueue::Push::WokeOwner);
  REQUIRE(q.push(sig(1, 1)) == SignalQueue::Push::Queued);
  free_chain(q.take_all());
}

TEST_CASE("cancel_sleep fails once a pusher has claimed the wake", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  REQUIRE(q.cancel_sleep());
  REQUIRE(q.try_sleep());
  REQUIRE(q.push(sig(1, 0)) == SignalQueue::Push::WokeOwner);
  REQUIRE_FALSE(q.cancel_sleep());
  free_chain(q.take_all());
}

TEST_CASE("close refuses later pushes and returns what was pending", "[signal_queue]") {
  SignalQueue q;
  q.open();
  q.push(sig(1, 7));
  Signal* rest = q.close();
  REQUIRE(rest != nullptr);
  REQUIRE(rest->ref == 7);
  free_chain(rest);
  Signal* late = sig(1, 8);
  REQUIRE(q.push(late) == SignalQueue::Push::Closed);
  signal_free(late);
}

TEST_CASE("concurrent producers keep per-producer order and lose nothing", "[signal_queue]") {
  SignalQueue q;
  q.open();
  constexpr int kProducers = 4, kEach = 20000;
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&q, p] {
      for (int i = 0; i < kEach; ++i) q.push(sig(uint64_t(p), uint64_t(i)));
    });
  std::vector<int64_t> last(kProducers, -1);
  int got = 0;
  while (got < kProducers * kEach) {
    Signal* s = q.take_all();
    for (Signal* c = s; c; c = c->next) {
      REQUIRE(int64_t(c->ref) == last[c->from] + 1);
      last[c->from] = int64_t(c->ref);
      ++got;
    }
    free_chain(s);
  }
  for (auto& t : ts) t.join();
  REQUIRE(q.take_all() == nullptr);
}

TEST_CASE("lazy pushes keep the owner asleep; the first urgent push wakes it", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  REQUIRE(q.push(sig(1, 0), false) == SignalQueue::Push::Queued);
  REQUIRE(q.push(sig(1, 1), false) == SignalQueue::Push::Queued);
  REQUIRE(q.push(sig(1, 2), true) == SignalQueue::Push::WokeOwner);
  REQUIRE(q.push(sig(1, 3), true) == SignalQueue::Push::Queued);
  Signal* s = q.take_all();
  uint64_t expect = 0;
  for (Signal* c = s; c; c = c->next) REQUIRE(c->ref == expect++);
  REQUIRE(expect == 4);
  free_chain(s);
}

TEST_CASE("cancel_sleep succeeds over lazy signals and keeps them", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  q.push(sig(1, 0), false);
  REQUIRE(q.cancel_sleep());
  Signal* s = q.take_all();
  REQUIRE(s != nullptr);
  REQUIRE(s->ref == 0);
  free_chain(s);
}

TEST_CASE("close returns lazy signals pushed while asleep", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  q.push(sig(1, 9), false);
  Signal* s = q.close();
  REQUIRE(s != nullptr);
  REQUIRE(s->ref == 9);
  free_chain(s);
}

TEST_CASE("the lazy push that fills the backlog wakes a sleeping owner", "[signal_queue]") {
  SignalQueue q;
  q.open();
  REQUIRE(q.try_sleep());
  for (uint64_t i = 0; i + 1 < SignalQueue::kLazyLimit; ++i)
    REQUIRE(q.push(sig(1, i), false) == SignalQueue::Push::Queued);
  REQUIRE(q.push(sig(1, SignalQueue::kLazyLimit - 1), false) == SignalQueue::Push::WokeOwner);
  // Runnable now: further lazy pushes only queue, past the backlog too.
  for (uint64_t i = SignalQueue::kLazyLimit; i < 3 * SignalQueue::kLazyLimit; ++i)
    REQUIRE(q.push(sig(1, i), false) == SignalQueue::Push::Queued);
  Signal* s = q.take_all();
  uint64_t expect = 0;
  for (Signal* c = s; c; c = c->next) REQUIRE(c->ref == expect++);
  REQUIRE(expect == 3 * SignalQueue::kLazyLimit);
  free_chain(s);
}

TEST_CASE("the backlog starts again from zero after take_all", "[signal_queue]") {
  SignalQueue q;
  q.open();
  for (uint64_t i = 0; i < 3 * SignalQueue::kLazyLimit; ++i) q.push(sig(1, i), false);
  REQUIRE(free_counted(q.take_all()) == 3 * SignalQueue::kLazyLimit);
  REQUIRE(q.try_sleep());
  for (uint64_t i = 0; i + 1 < SignalQueue::kLazyLimit; ++i)
    REQUIRE(q.push(sig(1, i), false) == SignalQueue::Push::Queued);
  REQUIRE(q.cancel_sleep());
  REQUIRE(free_counted(q.take_all()) == SignalQueue::kLazyLimit - 1);
}

TEST_CASE("concurrent lazy pushers wake a sleeping owner once per sleep and lose nothing", "[signal_queue]") {
  SignalQueue q;
  q.open();
  constexpr int kProducers = 4, kEach = 20000;
  std::counting_semaphore<> wake(0);
  std::atomic<int> wakes{0}, done{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i)
        if (q.push(sig(uint64_t(p), uint64_t(i)), false) == SignalQueue::Push::WokeOwner) {
          wakes.fetch_add(1);
          wake.release();
        }
      done.fetch_add(1);
    });
  std::vector<int64_t> last(kProducers, -1);
  int got = 0, sleeps = 0, cancelled = 0;
  bool after_cancel = false;
  while (got < kProducers * kEach) {
    Signal* s = q.take_all();
    int batch = 0;
    for (Signal* c = s; c; c = c->next, ++batch) {
      REQUIRE(int64_t(c->ref) == last[c->from] + 1);
      last[c->from] = int64_t(c->ref);
    }
    free_chain(s);
    got += batch;
    // A sleep given up once the producers were done: fewer than
    // kLazyLimit signals can have waited, or one of them would have woken us.
    if (after_cancel) REQUIRE(batch < int(SignalQueue::kLazyLimit));
    after_cancel = false;
    if (got == kProducers * kEach || !q.try_sleep()) continue;
    ++sleeps;
    for (;;) {
      if (wake.try_acquire_for(std::chrono::milliseconds(1))) break;
      if (done.load() == kProducers && q.cancel_sleep()) {
        ++cancelled;
        after_cancel = true;
        break;
      }
    }
  }
  for (auto& t : ts) t.join();
  REQUIRE(wakes.load() == sleeps - cancelled);
  REQUIRE(q.take_all() == nullptr);
}
