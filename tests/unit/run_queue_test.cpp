// The worker's run-queue ring: order, a full ring, and every task taken exactly
// once while thieves steal and the owner pushes and pops.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/sched/run_queue.h"
#include "runtime/sched/scheduler.h"

using namespace snow::rt;

TEST_CASE("the owner pops its ring oldest first", "[run_queue]") {
  TaskRing ring;
  std::vector<Task> tasks(10);
  for (Task& t : tasks) REQUIRE(ring.push(&t));
  REQUIRE(ring.size() == 10);
  for (Task& t : tasks) REQUIRE(ring.pop() == &t);
  REQUIRE(ring.pop() == nullptr);
  REQUIRE(ring.size() == 0);
}

TEST_CASE("a thief takes the older half, rounded up, in order", "[run_queue]") {
  TaskRing ring;
  std::vector<Task> tasks(5);
  for (Task& t : tasks) REQUIRE(ring.push(&t));
  Task* got[TaskRing::kCapacity];
  REQUIRE(ring.steal(got, TaskRing::kCapacity) == 3);
  for (size_t i = 0; i < 3; ++i) REQUIRE(got[i] == &tasks[i]);
  REQUIRE(ring.pop() == &tasks[3]);
  REQUIRE(ring.steal(got, TaskRing::kCapacity) == 1);
  REQUIRE(got[0] == &tasks[4]);
  REQUIRE(ring.steal(got, TaskRing::kCapacity) == 0);
}

TEST_CASE("a full ring refuses a push until a task is taken", "[run_queue]") {
  TaskRing ring;
  std::vector<Task> tasks(TaskRing::kCapacity);
  for (Task& t : tasks) REQUIRE(ring.push(&t));
  Task extra;
  REQUIRE_FALSE(ring.push(&extra));
  REQUIRE(ring.pop() == &tasks[0]);
  REQUIRE(ring.push(&extra));
}

TEST_CASE("with thieves racing the owner every task is taken exactly once", "[run_queue]") {
  constexpr size_t kTasks = 100000;
  constexpr int kThieves = 2;
  TaskRing ring;
  std::unique_ptr<Task[]> tasks(new Task[kTasks]);
  std::unique_ptr<std::atomic<int>[]> taken(new std::atomic<int>[kTasks]);
  for (size_t i = 0; i < kTasks; ++i) taken[i].store(0);
  std::atomic<size_t> total{0};
  std::atomic<size_t> out_of_order{0};  // Catch2 v2 asserts on the main thread only
  std::atomic<bool> done{false};
  auto take = [&](Task* t) {
    taken[size_t(t - tasks.get())].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::thread> thieves;
  for (int k = 0; k < kThieves; ++k)
    thieves.emplace_back([&] {
      Task* got[TaskRing::kCapacity / 2];
      while (!done.load(std::memory_order_acquire) || ring.size() > 0) {
        size_t n = ring.steal(got, TaskRing::kCapacity / 2);
        for (size_t i = 0; i < n; ++i) {
          // A batch comes out in queue order.
          if (i > 0 && got[i] <= got[i - 1]) out_of_order.fetch_add(1, std::memory_order_relaxed);
          take(got[i]);
        }
      }
    });
  size_t next = 0;
  while (next < kTasks) {
    // Bursts of pushes and some pops; a push into a full ring is refused.
    for (int i = 0; i < 7 && next < kTasks; ++i) {
      Task* t = &tasks[next++];
      if (!ring.push(t)) take(t);  // full: the owner keeps it
    }
    if (Task* t = ring.pop()) take(t);
  }
  while (Task* t = ring.pop()) take(t);
  done.store(true, std::memory_order_release);
  for (auto& th : thieves) th.join();
  REQUIRE(out_of_order.load() == 0);
  REQUIRE(total.load() == kTasks);
  size_t not_once = 0;
  for (size_t i = 0; i < kTasks; ++i) not_once += taken[i].load() != 1;
  REQUIRE(not_once == 0);
}
