// Node monitors: the registry of processes watching a node (NODEUP and
// NODEDOWN messages) or every node (monitor_all), and the reports the loop
// sends them when a node comes up or goes down. The registry is guarded by
// nm_mu (a leaf); messages are delivered after it is released. The
// registry calls run on the calling process (dist_node_monitor and the
// like, dist.cpp); reports and first reports on the loop.
#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

void notify_node(const std::string& node, bool up) {
  std::vector<std::pair<uint64_t, uint32_t>> sends;
  {
    std::lock_guard<std::mutex> lk(D.nm_mu);
    for (auto& [id, nm] : D.node_mons) {
      if (nm.node != node) continue;
      int want = up ? 1 : 2;
      if (nm.state == want) continue;
      nm.state = want;
      sends.push_back({nm.watcher, up ? SNOW_MSG_NODEUP : SNOW_MSG_NODEDOWN});
    }
    for (uint64_t w : D.monitor_all) sends.push_back({w, up ? SNOW_MSG_NODEUP : SNOW_MSG_NODEDOWN});
  }
  for (auto& [watcher, kind] : sends)
    deliver_or_die(watcher,
                   signal_message(watcher, 0, kind, kind == SNOW_MSG_NODEUP ? SNOW_TAG_NODEUP : SNOW_TAG_NODEDOWN,
                                  node.data(), node.size()));
}

void node_monitor_add(uint64_t watcher, int64_t id, const std::string& node, int state) {
  std::lock_guard<std::mutex> lk(D.nm_mu);
  D.node_mons[id] = NodeMon{watcher, node, state};
}

// The loop's first look at a new monitor: a node already up counts as
// reported up; otherwise a connection attempt starts, whose failure
// reports NODEDOWN and whose success NODEUP.
void node_monitor_first_report(int64_t id, const std::string& node) {
  auto it = D.peers.find(node);
  bool up = it != D.peers.end() && it->second.up;
  bool report_down = false;
  {
    std::lock_guard<std::mutex> lk(D.nm_mu);
    auto nm = D.node_mons.find(id);
    if (nm != D.node_mons.end() && nm->second.state == 0 && up) nm->second.state = 1;
    report_down = nm != D.node_mons.end() && nm->second.state == 0;
  }
  if (report_down) start_outgoing(node);
}

void report_nodedown(uint64_t watcher, std::string_view node) {
  deliver_or_die(watcher, signal_message(watcher, 0, SNOW_MSG_NODEDOWN, SNOW_TAG_NODEDOWN, node.data(), node.size()));
}

void node_monitor_remove(int64_t id) {
  std::lock_guard<std::mutex> lk(D.nm_mu);
  D.node_mons.erase(id);
}

void monitor_all_set(uint64_t watcher, bool on) {
  std::lock_guard<std::mutex> lk(D.nm_mu);
  if (on) D.monitor_all.insert(watcher);
  else D.monitor_all.erase(watcher);
}

}  // namespace snow::rt::dist
