// libFuzzer target: the distribution connection reader, in every state a
// peer can reach it, with live processes behind it.
//
// Input: [start][chunk][bytes...]. `start` % 3 picks where the connection
// begins (an incoming connection awaiting the peer's name, our outgoing
// connection awaiting the peer's status, or a connection already up after
// the handshake of a peer that knows the cookie); bit 7 runs the node
// table sweep afterwards. `chunk` is how many bytes each read delivers (0:
// all at once), so frames split across reads are covered. The rest is what
// the peer sends.
//
// Pids in the input whose node is this node's name ("fz@h", as
// NEW_PID_EXT with a SMALL_ATOM_UTF8_EXT node) are pointed at live
// processes before the input is fed: their creation becomes ours and their
// id selects one of the live processes (by id modulo their number). So
// LINK, MONITOR_P, EXIT and SEND reach real processes; a few are
// registered by name (REG_SEND, MONITOR_P by name), some trap exits. Dead
// ones are replaced between inputs.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/dist/dist.h"

using namespace snow::rt;

namespace {

constexpr const char* kNodeName = "fz@h";
constexpr int kLive = 4;
snow_pid_t g_live[kLive];
uint8_t g_live_wire[kLive][12];  // id, serial, creation as on the wire
const char* const kNames[kLive] = {"reg", "trapper", nullptr, nullptr};

void idle(const uint8_t* args) {
  if (args && args[0]) snow_actor_set_trap_exit(true);
  if (args && args[1] < kLive && kNames[args[1]]) {
    const char* n = kNames[args[1]];
    snow_actor_register(n, strlen(n));
  }
  for (;;) snow_actor_receive(-1);
}

void spawn_live(int i) {
  uint8_t args[2] = {uint8_t(i % 2), uint8_t(i)};
  g_live[i] = snow_actor_spawn(idle, args, sizeof args, 1);
  uint8_t buf[64];
  int64_t n = snow_term_encode_pid(g_live[i], buf, sizeof buf);
  // 131, 88, 119, len, name..., id:4, serial:4, creation:4
  if (n >= 12) std::memcpy(g_live_wire[i], buf + n - 12, 12);
}

// Points pids of this node at live processes (in place: same sizes).
void aim_pids(std::vector<uint8_t>& b) {
  const size_t name_len = strlen(kNodeName);
  for (size_t i = 0; i + 3 + name_len + 12 <= b.size(); ++i) {
    if (b[i] != 88 || b[i + 1] != 119 || b[i + 2] != name_len) continue;
    if (std::memcmp(&b[i + 3], kNodeName, name_len) != 0) continue;
    uint8_t* fields = &b[i + 3 + name_len];
    int which = fields[3] % kLive;
    std::memcpy(fields, g_live_wire[which], 12);
  }
}

int is_down_for(const snow_msg* m, void* ref) {
  return snow_msg_kind(m) == SNOW_MSG_DOWN && std::memcmp(m->data, ref, 8) == 0;
}

// A monitor of a dead local process reports DOWN noproc at once, on this
// process's own queue.
void replace_dead() {
  for (int i = 0; i < kLive; ++i) {
    snow_ref_t ref = snow_process_monitor(g_live[i]);
    if (snow_actor_receive_match(is_down_for, &ref, 0)) {
      spawn_live(i);
    } else {
      snow_process_demonitor_flush(ref);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  snow_rt_init();
  if (snow_rt_init_actor(2) != 0) abort();
  if (snow_node_start(kNodeName, strlen(kNodeName), "cookie", 6) != 0) abort();
  for (int i = 0; i < kLive; ++i) spawn_live(i);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::vector<uint8_t> bytes(data + 2, data + size);
  aim_pids(bytes);
  TestFeed f;
  f.start = TestConnStart(data[0] % 3);
  f.sweep = (data[0] & 0x80) != 0;
  f.chunk = data[1];
  f.bytes = bytes.data();
  f.n = bytes.size();
  f.peer = "peer@h";
  f.peer_creation = 7;
  if (dist_test_feed(f) != 0) abort();
  replace_dead();
  return 0;
}
