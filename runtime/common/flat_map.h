// FlatMap64: an open-addressing hash map from non-zero uint64 keys to
// uint64 values, for the per-process link and monitor tables.
//
// Why not std::unordered_map: every insert there allocates a node, and a
// monitor + demonitor pair inserts and erases on both processes; here an
// insert into a table with room allocates nothing. Key 0 is reserved (the
// empty slot; pids and refs are never 0); key UINT64_MAX marks deleted slots
// in the table, so it is kept aside in its own field (a caller may pass it as
// a bogus pid).
//
// Single-threaded: owned by one process. Linear probing, power-of-two
// capacity, grows at 70% load counting deleted slots, so probes stay short.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "runtime/common/common.h"

namespace snow::rt {

class FlatMap64 {
 public:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kDeleted = UINT64_MAX;

  FlatMap64() = default;
  FlatMap64(const FlatMap64&) = delete;
  FlatMap64& operator=(const FlatMap64&) = delete;
  ~FlatMap64() { std::free(slots_); }

  size_t size() const { return size_ + (has_max_ ? 1 : 0); }
  bool empty() const { return size() == 0; }

  // Pointer to the value for key, or nullptr.
  uint64_t* find(uint64_t key) {
    if (key == kDeleted) return has_max_ ? &max_value_ : nullptr;
    if (!slots_ || key == kEmpty) return nullptr;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

  // Inserts key -> value if absent. Returns {value slot, inserted}.
  std::pair<uint64_t*, bool> emplace(uint64_t key, uint64_t value) {
    if (key == kEmpty) {  // reserved: never stored
      scratch_ = value;
      return {&scratch_, false};
    }
    if (key == kDeleted) {
      if (has_max_) return {&max_value_, false};
      has_max_ = true;
      max_value_ = value;
      return {&max_value_, true};
    }
    if (uint64_t* v = find(key)) return {v, false};
    if ((used_ + 1) * 10 > cap_ * 7) grow();
    size_t i = hash(key) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != kDeleted) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) ++used_;
    slots_[i] = Slot{key, value};
    ++size_;
    return {&slots_[i].value, true};
  }

  uint64_t& operator[](uint64_t key) { return *emplace(key, 0).first; }

  bool erase(uint64_t key) {
    if (key == kDeleted) {
      bool had = has_max_;
      has_max_ = false;
      return had;
    }
    uint64_t* v = find(key);
    if (!v) return false;
    Slot* s = reinterpret_cast<Slot*>(reinterpret_cast<char*>(v) - offsetof(Slot, value));
    s->key = kDeleted;
    --size_;
    if (size_ == 0) clear_slots();
    return true;
  }

  template <class F>
  void for_each(F&& f) const {
    if (has_max_) f(kDeleted, max_value_);
    for (size_t i = 0; i < cap_; ++i)
      if (slots_[i].key != kEmpty && slots_[i].key != kDeleted) f(slots_[i].key, slots_[i].value);
  }

 private:
  struct Slot {
    uint64_t key;
    uint64_t value;
  };

  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return size_t(k);
  }

  void clear_slots() {
    if (slots_) std::memset(slots_, 0, cap_ * sizeof(Slot));
    used_ = 0;
  }

  void grow() {
    size_t ncap = cap_ ? cap_ * 2 : 8;
    if (size_ * 10 < cap_ * 3) ncap = cap_;  // mostly deleted slots: rehash in place size
    Slot* old = slots_;
    size_t ocap = cap_;
    slots_ = static_cast<Slot*>(std::calloc(ncap, sizeof(Slot)));
    if (!slots_) fatal_oom("growing a table");
    cap_ = ncap;
    mask_ = ncap - 1;
    used_ = 0;
    size_ = 0;
    for (size_t i = 0; i < ocap; ++i)
      if (old[i].key != kEmpty && old[i].key != kDeleted) emplace(old[i].key, old[i].value);
    std::free(old);
  }

  Slot* slots_ = nullptr;
  uint64_t scratch_ = 0;
  uint64_t max_value_ = 0;
  bool has_max_ = false;
  size_t cap_ = 0, mask_ = 0, size_ = 0, used_ = 0;
};

}  // namespace snow::rt
