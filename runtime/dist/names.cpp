// Node names and identities on the wire: the syntax of a node name (what a
// peer may send, what a user may pass to connect), and our pids and
// references converted between their local form and their wire form. Any
// thread; the node table's own locks only.
#include <cctype>

#include "runtime/dist/dist_internal.h"
#include "runtime/proc/process.h"

namespace snow::rt::dist {

// A node name as it may appear on the wire (a pid's node, a handshake
// name): "alive@host" with the alive part and the host made of letters,
// digits, '_', '-' and (host only) '.'. Stricter than what a user may pass
// to connect (no ":port"), so nothing a peer sends can point us at a port
// or at a name that parse_node would read differently.
bool valid_wire_node(std::string_view n) {
  if (n.empty() || n.size() > 255) return false;
  size_t at = n.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= n.size()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(n[i]);
    bool ok = isalnum(c) || c == '_' || c == '-' || (i > at && c == '.');
    if (!ok && i != at) return false;
  }
  return true;
}

// Splits "name@host[:port]" (what a user may pass to connect) into the
// node name and the port (0: none). The name must be a valid wire node
// name (valid_wire_node).
bool parse_node(std::string_view full, std::string* name, std::string* host, int* port) {
  int p = 0;
  size_t at = full.find('@');
  size_t colon = full.rfind(':');
  if (at != std::string_view::npos && colon != std::string_view::npos && colon > at) {
    std::string_view ps = full.substr(colon + 1);
    if (ps.empty() || ps.size() > 5) return false;
    for (char c : ps) {
      if (c < '0' || c > '9') return false;
      p = p * 10 + (c - '0');
    }
    if (p <= 0 || p > 65535) return false;
    full = full.substr(0, colon);
  }
  if (!valid_wire_node(full)) return false;
  *name = std::string(full);
  *host = std::string(full.substr(at + 1));
  *port = p;
  return true;
}

// A peer-chosen name made safe to print: bytes outside printable ASCII
// become '?', and it is cut at 64 characters.
std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) out.push_back(ch >= 0x20 && ch < 0x7f ? ch : '?');
  if (s.size() > 64) out += "...";
  return out;
}

// A pid from a term user code decoded (snow_term_decode_pid), as a local
// pid or a remote handle, which user code now holds (node_table.h); 0 when
// the pid names no valid node or the node table is full. Our own pids of
// another creation are processes of an earlier incarnation: handles that
// behave as dead processes. (Pids in control messages are resolved against
// their connection instead: peer_pid, local_target.)
uint64_t pid_from_wire(const etf::Pid& p, PidUse use) {
  if (p.node == D.name && p.creation == D.creation) return local_pid_make(p.id, p.serial);
  if (!valid_wire_node(p.node)) return 0;
  bool ours = p.node == D.name;
  NodeEntry* e = entry_get(p.node, p.creation, false, ours);
  if (!e) return 0;
  uint64_t h = handle_get(e, p.id, p.serial, ours ? PidUse::Dead : use);
  entry_unpin(e);
  return h;
}

// The wire form of a local pid or a known handle.
bool pid_to_wire(uint64_t pid, etf::Pid* out) {
  if (!pid_is_remote(pid)) {
    *out = etf::Pid{D.name, local_pid_id(pid), local_pid_serial(pid), D.creation};
    return true;
  }
  RemoteIdentity r;
  if (!handle_read(pid, &r)) return false;
  *out = etf::Pid{std::move(r.node), r.id, r.serial, r.creation};
  return true;
}

void write_pid(Writer& w, uint64_t pid) {
  if (!pid_is_remote(pid)) {
    w.pid(D.name, local_pid_id(pid), local_pid_serial(pid), D.creation);
    return;
  }
  etf::Pid p;
  if (!pid_to_wire(pid, &p)) p = etf::Pid{D.name, 0, 0, D.creation};
  w.pid(p);
}

// A pid to put where Erlang needs one but the sender is not a process.
void write_null_pid(Writer& w) { w.pid(D.name, 0, 0, D.creation); }

void write_our_ref(Writer& w, uint64_t ref) {
  w.ref(etf::Ref{D.name, D.creation, {uint32_t(ref), uint32_t(ref >> 32), 0}});
}

bool our_ref_from_wire(etf::View t, uint64_t* out) {
  etf::Ref r;
  if (!etf::read_ref(t, &r) || r.node != D.name || r.ids.size() < 2) return false;
  *out = uint64_t(r.ids[0]) | uint64_t(r.ids[1]) << 32;
  return true;
}

}  // namespace snow::rt::dist
