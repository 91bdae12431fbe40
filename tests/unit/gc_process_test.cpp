// The collected heap wired into processes (runtime/proc/gc.h, ABI.md
// section 6): what a running process's collection keeps (its stack, its
// registers, interior pointers, what those reach, the message it handles)
// and frees, values carried by messages after their sender exits, and that
// collections lose no message. Scenarios run as real processes through the
// public ABI (snow_gc_alloc_actor, snow_gc_collect); whether an object is
// still allocated is read from the heap's bitmaps (heap_find_object).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <initializer_list>
#include <thread>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/heap/heap.h"
#include "tests/unit/heap_test_util.h"

#if defined(SNOW_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#endif

using namespace snow::rt;
using heap_test::alive;

namespace {

// The runtime for one test case; the test body runs as the main process.
struct Runtime {
  Runtime() {
    snow_rt_init();
    REQUIRE(snow_rt_init_actor(2) == 0);
  }
  ~Runtime() {
    snow_rt_halt(0);
    snow_rt_run_scheduler();
    // Every process has exited: what they shared is unreachable now and is
    // reclaimed, so other tests find the shared region empty.
    shared_collect();
  }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
};

// What a scenario process found, read by the test after it reported.
struct Outcome {
  std::atomic<int> kept{-1};
  std::atomic<int> freed{-1};
  std::atomic<int> poisoned{-1};
  std::atomic<uint64_t> count{0};
};
Outcome g_out;

void reset_outcome() {
  g_out.kept = -1;
  g_out.freed = -1;
  g_out.poisoned = -1;
  g_out.count = 0;
}

// An address the collector does not take for a pointer.
uintptr_t hide(const void* p) { return ~reinterpret_cast<uintptr_t>(p); }
const void* unhide(uintptr_t h) { return reinterpret_cast<const void*>(~h); }

// Whether the object whose address is hidden in `h` was freed. Out of line,
// so that the optimiser cannot compute the address before a collection and
// keep it in a callee-saved register across it (which would keep the object
// alive, conservatively, as documented).
__attribute__((noinline)) bool was_freed(uintptr_t h) {
  uintptr_t a = ~h;
  asm volatile("" : "+r"(a));
  return !alive(reinterpret_cast<const void*>(a));
}

// Allocates in a frame that is gone by the time the caller collects, and
// returns the object's address hidden.
__attribute__((noinline)) uintptr_t alloc_hidden(uint64_t size) {
  auto* p = static_cast<uint8_t*>(snow_gc_alloc_actor(size, 16));
  if (!p) abort();  // runs in a process: no Catch assertion there
  std::memset(p, 0xAB, size_t(size));
  return hide(p);
}

// Overwrites the stack below the caller, where dead frames may still hold
// addresses the collector would take for live ones (the frames of the
// collection's own calls later cover that area, and their padding is
// scanned). Not instrumented: ASan's redzones around the buffer would be
// left unwritten.
__attribute__((noinline, no_sanitize("address"))) void scrub_stack() {
  volatile char buf[16384];
  for (char& c : const_cast<char(&)[16384]>(buf)) c = 0;
  asm volatile("" : : "r"(buf) : "memory");
}

bool poisoned(const void* p) {
#if defined(SNOW_SANITIZE_ADDRESS)
  return __asan_address_is_poisoned(p) != 0;
#else
  (void)p;
  return true;
#endif
}

// Spawns fn with the main process's pid as its argument and waits for its
// report (any message).
void run_scenario(void (*fn)(const uint8_t*)) {
  reset_outcome();
  snow_pid_t self = snow_actor_self();
  REQUIRE(snow_actor_spawn(fn, reinterpret_cast<const uint8_t*>(&self), sizeof self, SNOW_PRIO_NORMAL) != 0);
  REQUIRE(snow_actor_receive(20000) != nullptr);
}

void report(const uint8_t* args) {
  snow_pid_t main_pid;
  std::memcpy(&main_pid, args, sizeof main_pid);
  uint64_t done = 1;
  snow_actor_send(main_pid, reinterpret_cast<const uint8_t*>(&done), sizeof done);
}

struct Node {
  Node* next;
  Node* child;
  uint64_t value;
};

void stack_word_scenario(const uint8_t* args) {
  auto* volatile kept = static_cast<uint64_t*>(snow_gc_alloc_actor(64, 16));
  kept[0] = 42;
  uintptr_t dropped = alloc_hidden(64);
  scrub_stack();
  snow_gc_collect();
  g_out.kept = alive(kept) && kept[0] == 42;
  g_out.freed = was_freed(dropped);
  g_out.poisoned = poisoned(unhide(dropped));
  report(args);
}

void register_scenario(const uint8_t* args) {
#if defined(__x86_64__)
  uintptr_t hidden = alloc_hidden(64);
  // The only reference lives in a callee-saved register across the call
  // (or wherever the compiler spills it, which is on the stack too).
  register uintptr_t r12 asm("r12") = ~hidden;
  asm volatile("" : "+r"(r12));
  hidden = 0;
  scrub_stack();
  snow_gc_collect();
  asm volatile("" : "+r"(r12));
  g_out.kept = alive(reinterpret_cast<const void*>(r12));
#else
  g_out.kept = 1;
#endif
  report(args);
}

// The keep phase of a scenario runs in a frame of its own that is gone
// (and scrubbed) before the scenario checks that the object was freed: an
// address left in a dead temporary of the scenario's own frame would keep
// it (conservatively, as documented), whatever the compiler's frame layout.
__attribute__((noinline)) uintptr_t keep_through_interior_pointer() {
  auto* base = static_cast<uint8_t*>(snow_gc_alloc_actor(256, 16));
  base[0] = 7;
  uint8_t* volatile inner = base + 200;
  uintptr_t hidden_base = hide(base);
  base = nullptr;
  scrub_stack();
  snow_gc_collect();
  g_out.kept = alive(unhide(hidden_base)) && inner[-200] == 7;
  inner = nullptr;
  return hidden_base;
}

void interior_pointer_scenario(const uint8_t* args) {
  uintptr_t hidden_base = keep_through_interior_pointer();
  scrub_stack();
  snow_gc_collect();
  g_out.freed = was_freed(hidden_base);
  report(args);
}

// A ring of n nodes, each with a child object; returns node 0.
__attribute__((noinline)) Node* make_ring(size_t n) {
  Node* first = nullptr;
  Node* prev = nullptr;
  for (size_t i = 0; i < n; ++i) {
    auto* node = static_cast<Node*>(snow_gc_alloc_actor(sizeof(Node), 16));
    node->child = static_cast<Node*>(snow_gc_alloc_actor(sizeof(Node), 16));
    node->value = i;
    node->child->value = i * 3;
    if (prev) prev->next = node;
    else first = node;
    prev = node;
  }
  prev->next = first;
  return first;
}

// The hidden addresses of the n nodes of the ring through `handle` and
// their children.
__attribute__((noinline)) std::vector<uintptr_t> hide_ring(Node* handle, size_t n) {
  std::vector<uintptr_t> hidden;
  for (Node* node = handle; hidden.size() < 2 * n; node = node->next) {
    hidden.push_back(hide(node));
    hidden.push_back(hide(node->child));
  }
  return hidden;
}

__attribute__((noinline)) bool ring_intact(Node* handle, size_t n) {
  bool all = true;
  Node* node = handle;
  for (size_t i = 0; i < n; ++i, node = node->next)
    all = all && alive(node) && alive(node->child) && node->child->value == node->value * 3;
  return all;
}

__attribute__((noinline)) Node* ring_middle(Node* first, size_t n) {
  for (size_t i = 0; i < n / 2; ++i) first = first->next;
  return first;
}

constexpr size_t kRingNodes = 2000;

__attribute__((noinline)) std::vector<uintptr_t> keep_ring_through_one_node() {
  Node* volatile handle = ring_middle(make_ring(kRingNodes), kRingNodes);  // only a node in the middle is kept
  std::vector<uintptr_t> hidden = hide_ring(handle, kRingNodes);
  scrub_stack();
  snow_gc_collect();
  g_out.kept = ring_intact(handle, kRingNodes);
  handle = nullptr;
  return hidden;
}

void nested_cycle_scenario(const uint8_t* args) {
  std::vector<uintptr_t> hidden = keep_ring_through_one_node();
  scrub_stack();
  snow_gc_collect();
  bool none = true;
  for (uintptr_t h : hidden) none = none && was_freed(h);
  g_out.freed = none;
  report(args);
}

// Sends its parent (args: pid) one message carrying the address of a new
// 64-byte string of 'S', then exits.
void string_sender(const uint8_t* args) {
  snow_pid_t to;
  std::memcpy(&to, args, sizeof to);
  auto* s = static_cast<uint8_t*>(snow_gc_alloc_actor(64, 16));
  std::memset(s, 'S', 64);
  snow_actor_send(to, reinterpret_cast<const uint8_t*>(&s), sizeof s);
}

int is_down(const snow_msg* m, void*) { return snow_msg_kind(m) == SNOW_MSG_DOWN; }

__attribute__((noinline)) bool string_intact(const snow_msg* m) {
  const uint8_t* s;
  std::memcpy(&s, m->data, sizeof s);
  for (int i = 0; i < 64; ++i)
    if (s[i] != 'S') return false;
  return alive(s);
}

__attribute__((noinline)) uintptr_t hidden_address_in(const snow_msg* m) {
  uintptr_t a;
  std::memcpy(&a, m->data, sizeof a);
  return ~a;
}

// Receives the sender's string and checks that the collections keep it
// while the message is being handled; returns its address hidden, or 0
// when nothing arrived.
__attribute__((noinline)) uintptr_t keep_through_received_message() {
  snow_pid_t self = snow_actor_self();
  snow_pid_t sender = snow_actor_spawn(string_sender, reinterpret_cast<const uint8_t*>(&self), sizeof self, 1);
  snow_process_monitor(sender);
  const snow_msg* m = nullptr;
  if (!snow_actor_receive_match(is_down, nullptr, 10000) || !(m = snow_actor_receive(10000))) return 0;
  uintptr_t hidden = hidden_address_in(m);
  // The address is only in the message being handled: our collections
  // (garbage allocated, then an explicit one) and shared collections keep it.
  for (int i = 0; i < 2000; ++i) (void)alloc_hidden(128);
  scrub_stack();
  snow_gc_collect();
  shared_collect();
  shared_collect();
  g_out.kept = string_intact(m);
  return hidden;
}

void received_message_scenario(const uint8_t* args) {
  uintptr_t hidden = keep_through_received_message();
  if (hidden) {
    // Once the message is released and our stack forgets it, it is reclaimed.
    (void)snow_actor_receive(0);
    scrub_stack();
    snow_gc_collect();
    shared_collect();
    shared_collect();
    g_out.freed = was_freed(hidden);
  }
  report(args);
}

constexpr int kSenders = 4;
constexpr uint64_t kPerSender = 2000;

// Sends [sequence][address of a 48-byte object holding the sequence] to
// its parent kPerSender times, allocating garbage as it goes.
void numbered_sender(const uint8_t* args) {
  snow_pid_t to;
  std::memcpy(&to, args, sizeof to);
  for (uint64_t i = 0; i < kPerSender; ++i) {
    auto* v = static_cast<uint64_t*>(snow_gc_alloc_actor(48, 16));
    for (int k = 0; k < 6; ++k) v[k] = i;
    (void)alloc_hidden(256);
    uint64_t msg[2] = {i, reinterpret_cast<uint64_t>(v)};
    snow_actor_send(to, reinterpret_cast<const uint8_t*>(msg), sizeof msg);
    snow_reduction_check();
  }
}

void many_messages_scenario(const uint8_t* args) {
  snow_pid_t self = snow_actor_self();
  for (int i = 0; i < kSenders; ++i)
    (void)snow_actor_spawn(numbered_sender, reinterpret_cast<const uint8_t*>(&self), sizeof self, 1);
  uint64_t intact = 0;
  for (uint64_t n = 0; n < kSenders * kPerSender; ++n) {
    const snow_msg* m = snow_actor_receive(20000);
    if (!m) break;
    uint64_t seq, addr;
    std::memcpy(&seq, m->data, 8);
    std::memcpy(&addr, m->data + 8, 8);
    const auto* v = reinterpret_cast<const uint64_t*>(addr);
    bool ok = true;
    for (int k = 0; k < 6; ++k) ok = ok && v[k] == seq;
    intact += ok;
    for (int k = 0; k < 8; ++k) (void)alloc_hidden(200);  // collections between receives
  }
  g_out.count = intact;
  report(args);
}

// ---- Supervisor child arguments: a value the args carry is pinned by the
// supervisor for as long as it keeps the child's spec.

constexpr uint64_t kOwnerReady = 0x5A0001;     // [tag][supervisor or child pid][value, hidden]
constexpr uint64_t kReaderStarted = 0x5A0002;  // [tag][reader pid][1: value intact]
constexpr uint64_t kReaderCrash = 0x5A0003;    // to a reader: exit with an error
constexpr uint64_t kReaderReturn = 0x5A0004;   // to a reader: return (exit normal)
constexpr uint8_t kValueFill = 0x5A;
constexpr uint8_t kNestedFill = 0xA5;
constexpr size_t kNestedSize = 32;

// The value a child's args point to: another object hangs off it, so the
// whole graph the args reach must be kept, not only the object they name.
struct ArgValue {
  uint8_t* nested;   // kNestedSize bytes of kNestedFill
  uint8_t fill[56];  // kValueFill
};

__attribute__((noinline)) ArgValue* make_arg_value() {
  auto* v = static_cast<ArgValue*>(snow_gc_alloc_actor(sizeof(ArgValue), 16));
  if (!v) abort();
  v->nested = static_cast<uint8_t*>(snow_gc_alloc_actor(kNestedSize, 16));
  if (!v->nested) abort();
  std::memset(v->nested, kNestedFill, kNestedSize);
  std::memset(v->fill, kValueFill, sizeof v->fill);
  return v;
}

// Reads the value's own bytes first, so that a freed value is reported by
// ASan (poisoned) and seen in a plain build (contents reused or not alive).
__attribute__((noinline)) bool arg_value_intact(const ArgValue* v) {
  bool ok = true;
  for (uint8_t b : v->fill) ok = ok && b == kValueFill;
  if (!ok || !alive(v) || !alive(v->nested)) return false;
  for (size_t i = 0; i < kNestedSize; ++i) ok = ok && v->nested[i] == kNestedFill;
  return ok;
}

uint64_t word_at(const snow_msg* m, size_t i) {
  uint64_t w = 0;
  if (m->len >= (i + 1) * 8) std::memcpy(&w, m->data + i * 8, 8);
  return w;
}

void send_words(snow_pid_t to, std::initializer_list<uint64_t> words) {
  std::vector<uint64_t> w(words);
  snow_actor_send(to, reinterpret_cast<const uint8_t*>(w.data()), w.size() * 8);
}

// A supervisor's child: args [value][test's pid]. Tells the test whether
// the value is intact, then crashes or returns as told.
void arg_reader(const uint8_t* args) {
  const ArgValue* v;
  snow_pid_t main_pid;
  std::memcpy(&v, args, sizeof v);
  std::memcpy(&main_pid, args + 8, sizeof main_pid);
  send_words(main_pid, {kReaderStarted, snow_actor_self(), uint64_t(arg_value_intact(v))});
  const snow_msg* m = snow_actor_receive(-1);
  if (m && word_at(m, 0) == kReaderReturn) return;
  static const uint8_t crash[9] = {SNOW_REASON_ERROR};  // error, empty message
  snow_actor_exit_self(crash, sizeof crash);
}

// A supervisor of one child (or template) that restarts it up to 1000 times.
snow_sup_spec one_child_supervisor(uint8_t strategy, const snow_child_spec* child) {
  snow_sup_spec s{};
  s.strategy = strategy;
  s.max_restarts = 1000;
  s.period_ms = 60000;
  s.children = child;
  s.child_count = 1;
  return s;
}

// [test's pid][strategy][restart type]: allocates a value, starts a
// supervisor with one arg_reader child whose args carry it, reports
// [kOwnerReady][supervisor][value hidden] and exits: from then on, nothing
// but the supervisor (and a child it runs) refers to the value.
void supervisor_owner(const uint8_t* args) {
  snow_pid_t main_pid;
  std::memcpy(&main_pid, args, sizeof main_pid);
  ArgValue* v = make_arg_value();
  uint64_t child_args[2] = {reinterpret_cast<uint64_t>(v), main_pid};
  snow_child_spec c{};
  c.start = arg_reader;
  c.args = reinterpret_cast<const uint8_t*>(child_args);
  c.args_size = sizeof child_args;
  c.restart = args[9];
  c.shutdown_ms = SNOW_SHUTDOWN_BRUTAL_KILL;
  snow_sup_spec s = one_child_supervisor(args[8], &c);
  send_words(main_pid, {kOwnerReady, snow_supervisor_start(&s), hide(v)});
}

// [test's pid][supervisor]: the same through snow_supervisor_start_child on
// a simple_one_for_one supervisor; reports [kOwnerReady][child][value hidden].
void start_child_owner(const uint8_t* args) {
  snow_pid_t main_pid, sup;
  std::memcpy(&main_pid, args, sizeof main_pid);
  std::memcpy(&sup, args + 8, sizeof sup);
  ArgValue* v = make_arg_value();
  uint64_t child_args[2] = {reinterpret_cast<uint64_t>(v), main_pid};
  snow_child_spec c{};
  c.args = reinterpret_cast<const uint8_t*>(child_args);
  c.args_size = sizeof child_args;
  send_words(main_pid, {kOwnerReady, snow_supervisor_start_child(sup, &c), hide(v)});
}

int is_word0(const snow_msg* m, void* tag) {
  return snow_msg_kind(m) == SNOW_MSG_USER && word_at(m, 0) == *static_cast<uint64_t*>(tag);
}

const snow_msg* wait_word0(uint64_t tag) { return snow_actor_receive_match(is_word0, &tag, 20000); }

struct Owned {
  snow_pid_t pid = 0;   // the supervisor, or the child started
  uintptr_t value = 0;  // hidden
};

// Runs `fn` with args [test's pid][extra] and waits for its report and its
// exit.
Owned run_owner(void (*fn)(const uint8_t*), uint64_t extra) {
  uint64_t args[2] = {snow_actor_self(), extra};
  snow_spawn_opts o{};
  o.monitor = 1;
  REQUIRE(snow_actor_spawn_opts(fn, reinterpret_cast<const uint8_t*>(args), sizeof args, &o) != 0);
  const snow_msg* m = wait_word0(kOwnerReady);
  REQUIRE(m != nullptr);
  Owned r{word_at(m, 1), uintptr_t(word_at(m, 2))};
  REQUIRE(r.pid != 0);
  REQUIRE(snow_actor_receive_match(is_down, nullptr, 20000) != nullptr);
  return r;
}

uint64_t owner_mode(uint8_t strategy, uint8_t restart) { return uint64_t(strategy) | uint64_t(restart) << 8; }

// Garbage in the test's heap (freed memory gets reused) and shared
// collections: a value nothing pins would be reclaimed here.
void churn_and_collect() {
  for (int i = 0; i < 4096; ++i) (void)alloc_hidden(1024);
  scrub_stack();
  snow_gc_collect();
  shared_collect();
  shared_collect();
}

// Waits for a reader's report; returns its pid (0 when none came) and
// whether it found the value intact.
snow_pid_t wait_reader(bool* intact) {
  const snow_msg* m = wait_word0(kReaderStarted);
  if (!m) return 0;
  *intact = word_at(m, 2) == 1;
  return word_at(m, 1);
}

// Four rounds: a reader reports the value intact, garbage and shared
// collections run while only the supervisor and that reader refer to it,
// and the reader crashes (the supervisor starts another).
void crash_and_check_restarts(const Owned& o) {
  for (int round = 0; round < 4; ++round) {
    bool intact = false;
    snow_pid_t child = wait_reader(&intact);
    REQUIRE(child != 0);
    CHECK(intact);
    churn_and_collect();
    CHECK(alive(unhide(o.value)));
    send_words(child, {kReaderCrash});
  }
}

// The value is reclaimed within the deadline (an exiting process destroys
// its heap after its DOWN is sent, so this polls).
bool freed_eventually(uintptr_t hidden) {
  for (int i = 0; i < 5000; ++i) {
    shared_collect();
    shared_collect();
    if (was_freed(hidden)) return true;
    snow_timer_sleep(2);
  }
  return false;
}
}  // namespace

TEST_CASE("a process keeps an object its stack refers to and frees one it dropped", "[gc]") {
  Runtime rt;
  run_scenario(stack_word_scenario);
  CHECK(g_out.kept == 1);
  CHECK(g_out.freed == 1);
}

TEST_CASE("a freed object of a process is poisoned for ASan", "[gc]") {
  Runtime rt;
  run_scenario(stack_word_scenario);
  CHECK(g_out.freed == 1);
  CHECK(g_out.poisoned == 1);
}

TEST_CASE("an object referred to only from a callee-saved register survives", "[gc]") {
  Runtime rt;
  run_scenario(register_scenario);
  CHECK(g_out.kept == 1);
}

TEST_CASE("a pointer into the middle of an object keeps it, and it is freed once that pointer is gone", "[gc]") {
  Runtime rt;
  run_scenario(interior_pointer_scenario);
  CHECK(g_out.kept == 1);
  CHECK(g_out.freed == 1);
}

TEST_CASE("a cycle of nested objects is kept through one member and freed as a whole", "[gc]") {
  Runtime rt;
  run_scenario(nested_cycle_scenario);
  CHECK(g_out.kept == 1);
  CHECK(g_out.freed == 1);
}

TEST_CASE("a value in the message being handled outlives its exited sender, then is reclaimed", "[gc]") {
  Runtime rt;
  run_scenario(received_message_scenario);
  CHECK(g_out.kept == 1);
  CHECK(g_out.freed == 1);
}

TEST_CASE("collections in senders and receiver lose no message and no carried value", "[gc]") {
  Runtime rt;
  run_scenario(many_messages_scenario);
  CHECK(g_out.count == kSenders * kPerSender);
}

TEST_CASE("the main process collects its own thread's stack", "[gc]") {
  Runtime rt;
  auto* volatile kept = static_cast<uint64_t*>(snow_gc_alloc_actor(64, 16));
  kept[0] = 5;
  uintptr_t dropped = alloc_hidden(64);
  scrub_stack();
  snow_gc_collect();
  CHECK(alive(kept));
  CHECK(kept[0] == 5);
  CHECK(was_freed(dropped));
}

TEST_CASE("a thread outside any process allocates from the process-wide heap, which is never collected", "[gc]") {
  Runtime rt;
  bool zeroed = false;
  std::thread t([&] {
    auto* p = static_cast<uint8_t*>(snow_gc_alloc_actor(128, 16));
    snow_gc_collect();  // no process: no effect
    zeroed = p != nullptr;
    for (int i = 0; p && i < 128; ++i) zeroed = zeroed && p[i] == 0;
  });
  t.join();
  CHECK(zeroed);
}

TEST_CASE("a value a supervisor's child args carry is intact for every restart after its owner exited",
          "[gc][supervisor]") {
  Runtime rt;
  Owned o = run_owner(supervisor_owner, owner_mode(SNOW_SUP_ONE_FOR_ONE, SNOW_RESTART_PERMANENT));
  crash_and_check_restarts(o);
}

TEST_CASE("a simple_one_for_one template keeps its args' values while no child runs", "[gc][supervisor]") {
  Runtime rt;
  Owned o = run_owner(supervisor_owner, owner_mode(SNOW_SUP_SIMPLE_ONE_FOR_ONE, SNOW_RESTART_PERMANENT));
  for (int round = 0; round < 3; ++round) {
    churn_and_collect();  // only the template refers to the value now
    CHECK(alive(unhide(o.value)));
    snow_child_spec from_template{};
    REQUIRE(snow_supervisor_start_child(o.pid, &from_template) != 0);
    bool intact = false;
    snow_pid_t child = wait_reader(&intact);
    REQUIRE(child != 0);
    CHECK(intact);
    CHECK(snow_supervisor_terminate_child(o.pid, child) == 0);
  }
}

TEST_CASE("a value passed to snow_supervisor_start_child is intact for every restart after its owner exited",
          "[gc][supervisor]") {
  Runtime rt;
  snow_child_spec templ{};
  templ.start = arg_reader;
  templ.shutdown_ms = SNOW_SHUTDOWN_BRUTAL_KILL;
  snow_sup_spec spec = one_child_supervisor(SNOW_SUP_SIMPLE_ONE_FOR_ONE, &templ);
  snow_pid_t sup = snow_supervisor_start(&spec);
  REQUIRE(sup != 0);
  Owned o = run_owner(start_child_owner, sup);
  crash_and_check_restarts(o);
}

TEST_CASE("a temporary child's args release their value when the child ends", "[gc][supervisor]") {
  Runtime rt;
  Owned o = run_owner(supervisor_owner, owner_mode(SNOW_SUP_ONE_FOR_ONE, SNOW_RESTART_TEMPORARY));
  bool intact = false;
  snow_pid_t child = wait_reader(&intact);
  REQUIRE(child != 0);
  CHECK(intact);
  send_words(child, {kReaderReturn});
  CHECK(freed_eventually(o.value));
  CHECK(snow_supervisor_count_children(o.pid) == 0);
}

TEST_CASE("a supervisor's exit releases the values its children's args carry", "[gc][supervisor]") {
  Runtime rt;
  Owned o = run_owner(supervisor_owner, owner_mode(SNOW_SUP_ONE_FOR_ONE, SNOW_RESTART_PERMANENT));
  bool intact = false;
  REQUIRE(wait_reader(&intact) != 0);
  CHECK(intact);
  CHECK(alive(unhide(o.value)));
  snow_actor_exit(o.pid, SNOW_REASON_SHUTDOWN);
  CHECK(freed_eventually(o.value));
}
