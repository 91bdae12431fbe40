// libFuzzer target for the term codec (runtime/etf) and the wire layer's
// reading of control messages and exit reasons (runtime/dist/wire). The
// input is taken both as a term (optional version byte) and as a frame body
// (pass-through byte, control tuple, payload).
//
// Checks:
// - What a peer's bytes go through (validate, view_of, read_control,
//   read_payload, read_leading_pid, term_to_reason) allocates at most a
//   small multiple of the input (issue 9, finding 4).
// - validate agrees with view_of, and a valid term's every subterm reads
//   with the reader its tag calls for; elements tile their container.
// - What is read re-encodes (Writer) to bytes that validate and read back
//   equal; atoms read as UTF-8 Erlang accepts (finding 5).
// - read_leading_pid agrees with the term's first pid (finding 8).
// - An exit reason mapped from a term is a valid ABI reason with UTF-8
//   text, maps back to a term that validates, and round-trips.
#include <string>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/wire.h"
#include "runtime/etf/etf.h"
#include "runtime/proc/reason.h"
#include "tests/fuzz/fuzz_util.h"

using namespace snow::rt;

namespace {

etf::View must_view(const std::vector<uint8_t>& b) {
  etf::View v;
  FUZZ_CHECK(etf::view_of(b.data(), b.size(), &v));
  return v;
}

bool is_atom_tag(uint8_t t) {
  return t == etf::kAtom || t == etf::kSmallAtom || t == etf::kAtomUtf8 || t == etf::kSmallAtomUtf8;
}

void check_atom(etf::View v) {
  std::string s;
  FUZZ_CHECK(etf::read_atom(v, &s));
  FUZZ_CHECK(etf::atom_text_ok(s));
  FUZZ_CHECK(etf::atom_is(v, s));
  FUZZ_CHECK(!etf::atom_is(v, s + "x"));
  etf::Writer w;
  w.atom(s);
  std::string again;
  FUZZ_CHECK(etf::read_atom(must_view(w.buf), &again) && again == s);
  // A UTF-8 atom is written back as the same bytes.
  if ((v.tag() == etf::kSmallAtomUtf8 && s.size() < 256) || (v.tag() == etf::kAtomUtf8 && s.size() >= 256))
    FUZZ_CHECK(w.buf == std::vector<uint8_t>(v.data, v.data + v.size));
}

void check_pid(etf::View v) {
  etf::Pid p;
  FUZZ_CHECK(etf::read_pid(v, &p));
  FUZZ_CHECK(etf::atom_text_ok(p.node));
  etf::Writer w;
  w.pid(p);
  etf::Pid again;
  FUZZ_CHECK(etf::read_pid(must_view(w.buf), &again) && again == p);
}

void check_ref(etf::View v) {
  etf::Ref r;
  FUZZ_CHECK(etf::read_ref(v, &r));
  FUZZ_CHECK(etf::atom_text_ok(r.node) && r.ids.size() <= etf::kMaxRefWords);
  etf::Writer w;
  w.ref(r);
  etf::Ref again;
  FUZZ_CHECK(etf::read_ref(must_view(w.buf), &again) && again == r);
}

void check_integer(etf::View v) {
  int64_t i;
  if (etf::read_int(v, &i)) {
    etf::Writer w;
    w.integer(i);
    int64_t again;
    FUZZ_CHECK(etf::read_int(must_view(w.buf), &again) && again == i);
  }
  uint64_t u;
  if (etf::read_u64(v, &u)) {
    etf::Writer w;
    w.unsigned_integer(u);
    uint64_t again;
    FUZZ_CHECK(etf::read_u64(must_view(w.buf), &again) && again == u);
  }
  // Small and 32-bit integers always fit.
  if (v.tag() == etf::kSmallInteger || v.tag() == etf::kInteger) FUZZ_CHECK(etf::read_int(v, &i));
}

void check_binary(etf::View v) {
  std::string_view b;
  FUZZ_CHECK(etf::read_binary(v, &b));
  etf::Writer w;
  w.binary(b.data(), b.size());
  FUZZ_CHECK(w.buf == std::vector<uint8_t>(v.data, v.data + v.size));
}

// Elements of a tuple or list: they tile the container's bytes after its
// header, and (for small containers: rebuilding every level of a deep term
// would take time quadratic in its size) the container rebuilt from them
// reads the same.
void check_elements(etf::View v, std::vector<etf::View>* todo) {
  constexpr size_t kRebuildMax = 1024;
  etf::Elements items(v);
  FUZZ_CHECK(items.ok());
  bool rebuild = v.size <= kRebuildMax && v.tag() != etf::kNil;
  bool has_tail = items.is_list() && v.tag() == etf::kList;
  etf::Writer w;
  if (rebuild) {
    if (has_tail) w.list(items.count());
    else w.tuple(items.count());
  }
  etf::View e;
  uint64_t n = 0;
  const uint8_t* end = nullptr;
  while (items.next(&e)) {
    FUZZ_CHECK(!end || e.data == end);
    end = e.data + e.size;
    if (rebuild) w.verbatim(e);
    todo->push_back(e);
    ++n;
  }
  FUZZ_CHECK(items.ok() && n == items.count());
  if (has_tail) {
    FUZZ_CHECK(items.tail().size > 0 && (!end || items.tail().data == end));
    end = items.tail().data + items.tail().size;
    if (rebuild) w.verbatim(items.tail());
    todo->push_back(items.tail());
  }
  if (end) FUZZ_CHECK(end == v.data + v.size);
  if (!rebuild) return;
  etf::Elements again(must_view(w.buf));
  FUZZ_CHECK(again.count() == items.count());
}

bool is_integer_tag(uint8_t t) {
  return t == etf::kSmallInteger || t == etf::kInteger || t == etf::kSmallBig || t == etf::kLargeBig;
}
bool is_container_tag(uint8_t t) {
  return t == etf::kSmallTuple || t == etf::kLargeTuple || t == etf::kList || t == etf::kNil;
}

// On a valid term, exactly the reader its tag calls for succeeds.
void check_readers_agree(etf::View v) {
  uint8_t tag = v.tag();
  std::string s;
  etf::Pid p;
  etf::Ref r;
  std::string_view b;
  int64_t i;
  uint64_t u;
  FUZZ_CHECK(etf::read_atom(v, &s) == is_atom_tag(tag));
  FUZZ_CHECK(etf::read_pid(v, &p) == v.is_pid());
  FUZZ_CHECK(etf::read_ref(v, &r) == v.is_ref());
  FUZZ_CHECK(etf::read_binary(v, &b) == (tag == etf::kBinary));
  FUZZ_CHECK(etf::Elements(v).ok() == is_container_tag(tag));
  if (etf::read_int(v, &i) || etf::read_u64(v, &u)) FUZZ_CHECK(is_integer_tag(tag));
}

// Every subterm, iteratively (inputs nest as deep as their bytes allow).
// Opening each level of a deep term checks its elements again, so walking
// every level costs size x depth: the walk stops after it has covered 4
// times the term's bytes (a flat term of any size is covered whole).
void check_subterms(etf::View top) {
  std::vector<etf::View> todo{top};
  size_t budget = 4 * top.size + 4096;
  while (!todo.empty() && budget >= todo.back().size) {
    etf::View v = todo.back();
    todo.pop_back();
    budget -= v.size;
    uint8_t tag = v.tag();
    check_readers_agree(v);
    if (is_atom_tag(tag)) {
      check_atom(v);
    } else if (v.is_pid()) {
      check_pid(v);
    } else if (v.is_ref()) {
      check_ref(v);
    } else if (is_integer_tag(tag)) {
      check_integer(v);
    } else if (tag == etf::kBinary) {
      check_binary(v);
    } else if (is_container_tag(tag)) {
      check_elements(v, &todo);
    }
  }
}

void check_reason(etf::View v, const std::vector<uint8_t>& reason) {
  FUZZ_CHECK(reason_validate(reason.data(), reason.size()) == int64_t(reason.size()));
  if (reason[0] == SNOW_REASON_ERROR || reason[0] == SNOW_REASON_CUSTOM)
    FUZZ_CHECK(utf8_count(reason.data() + 9, reason.size() - 9) >= 0);
  if (reason[0] == SNOW_REASON_TERM)
    FUZZ_CHECK(std::vector<uint8_t>(reason.begin() + 10, reason.end()) ==
               std::vector<uint8_t>(v.data, v.data + v.size));
  // What we would send for it is a term a peer accepts, and reads back the same.
  etf::Writer w;
  wire::reason_to_term(w, reason.data(), reason.size(), false);
  bool kill;
  FUZZ_CHECK(wire::term_to_reason(must_view(w.buf), &kill) == reason);
}

void check_leading_pid(const uint8_t* data, size_t size, etf::View v) {
  etf::Pid lead;
  bool has = etf::read_leading_pid(data, size, &lead);
  etf::View first = v;
  if (v.tag() == etf::kSmallTuple || v.tag() == etf::kLargeTuple) {
    etf::Elements items(v);
    if (!items.next(&first)) first = etf::View{};
  }
  etf::Pid p;
  bool is = etf::read_pid(first, &p);
  FUZZ_CHECK(has == is);
  if (has) FUZZ_CHECK(lead == p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  etf::View term;
  bool valid;
  wire::Control ctl;
  bool control;
  etf::View payload;
  bool has_payload = false;
  std::vector<uint8_t> reason;
  {
    // What the runtime does with a peer's bytes: bounded by the input.
    snow::fuzz::HeapMeter heap;
    valid = etf::view_of(data, size, &term);
    FUZZ_CHECK(valid == etf::validate(data, size));
    etf::Pid pid;
    etf::read_leading_pid(data, size, &pid);
    control = wire::read_control(data, size, &ctl);
    if (control) has_payload = wire::read_payload(ctl, &payload);
    bool kill;
    if (valid) reason = wire::term_to_reason(term, &kill);
    FUZZ_CHECK(heap.peak() <= 2 * size + 4096);
  }
  if (valid) {
    check_subterms(term);
    check_reason(term, reason);
    check_leading_pid(data, size, term);
  }
  {
    // The same bytes after a distribution header: read in place and
    // rewritten to pass-through form, which must read as the same control
    // message (views at the same places).
    std::vector<uint8_t> hf{etf::kVersion, wire::kDistHeader, 0};
    hf.insert(hf.end(), data, data + size);
    wire::Control hc;
    size_t hn = 0;
    if (wire::read_header_form(hf.data(), hf.size(), &hc, &hn)) {
      wire::Control again;
      FUZZ_CHECK(hn <= hf.size() && wire::read_control(hf.data(), hn, &again));
      FUZZ_CHECK(again.op == hc.op && again.arity == hc.arity && again.rest == hc.rest &&
                 again.rest_size == hc.rest_size);
      for (size_t i = 0; i < wire::Control::kKeptItems; ++i)
        FUZZ_CHECK(again.item[i].data == hc.item[i].data && again.item[i].size == hc.item[i].size);
    }
  }
  if (control) {
    FUZZ_CHECK(ctl.arity > 0 && ctl.rest >= data && ctl.rest + ctl.rest_size == data + size);
    for (const etf::View& item : ctl.item)
      FUZZ_CHECK(!item.data || (item.data > data && item.data + item.size <= ctl.rest));
    if (has_payload) check_subterms(payload);
  }
  return 0;
}
