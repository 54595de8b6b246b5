// SPDX-License-Identifier: Apache-2.0
// Each user's last contact operation without a final state, for the Ingestor's per-user order:
// an open-addressing table from a 64-bit hash of the user id to the operation's sequence number.
// No allocation per entry, 16 bytes a slot. Users whose ids hash alike share an entry: an item of
// one may then also wait for an operation of the other. That only delays it, since the other's
// operation itself waits for the one recorded before it; each user's order is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace instasent::detail {

class UserOrder {
 public:
  /// The key of a user id.
  static std::uint64_t key_of(std::string_view user_id) {
    return std::hash<std::string_view>{}(user_id);
  }

  /// The sequence number recorded for `key`; 0 when none is.
  std::uint64_t find(std::uint64_t key) const {
    if (size_ == 0) return 0;
    for (std::size_t at = home(key);; at = next(at)) {
      const Slot& slot = slots_[at];
      if (slot.seq == 0) return 0;
      if (slot.key == key) return slot.seq;
    }
  }

  /// Records `seq` (not 0) for `key`, in place of any number recorded before.
  void set(std::uint64_t key, std::uint64_t seq) {
    if ((size_ + 1) * 2 > slots_.size()) resize(slots_.empty() ? kMinSlots : slots_.size() * 2);
    for (std::size_t at = home(key);; at = next(at)) {
      Slot& slot = slots_[at];
      if (slot.seq == 0) {
        slot = {key, seq};
        ++size_;
        return;
      }
      if (slot.key == key) {
        slot.seq = seq;
        return;
      }
    }
  }

  /// Forgets `key`'s entry when it records `seq` (a later operation of the user keeps its own).
  void erase(std::uint64_t key, std::uint64_t seq) {
    if (size_ == 0) return;
    std::size_t at = home(key);
    for (;; at = next(at)) {
      if (slots_[at].seq == 0) return;
      if (slots_[at].key == key) break;
    }
    if (slots_[at].seq != seq) return;
    // Backward-shift deletion: the entries after it that belong at or before the hole move back
    // into it, so that every entry stays reachable from its home slot without tombstones.
    for (std::size_t from = next(at);; from = next(from)) {
      const Slot& moved = slots_[from];
      if (moved.seq == 0) break;
      const std::size_t moved_home = home(moved.key);
      // Whether `moved`'s home is cyclically outside (at, from]: then it may fill the hole.
      const bool fits = at <= from ? (moved_home <= at || moved_home > from)
                                   : (moved_home <= at && moved_home > from);
      if (fits) {
        slots_[at] = moved;
        at = from;
      }
    }
    slots_[at] = Slot{};
    --size_;
    // A table left mostly empty after a burst gives its memory back.
    if (slots_.size() > kMinSlots && size_ * 8 < slots_.size()) resize(slots_.size() / 2);
  }

  std::size_t size() const { return size_; }

  void clear() {
    slots_.clear();
    size_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint64_t seq = 0;  // 0: empty
  };
  static constexpr std::size_t kMinSlots = 64;  // a power of two, as every size is

  std::size_t home(std::uint64_t key) const {
    // The high bits, mixed: std::hash may be the identity for some types.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & (slots_.size() - 1);
  }
  std::size_t next(std::size_t at) const { return (at + 1) & (slots_.size() - 1); }

  void resize(std::size_t slots) {
    std::vector<Slot> old(slots, Slot{});
    old.swap(slots_);
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.seq != 0) set(slot.key, slot.seq);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace instasent::detail
