// SPDX-License-Identifier: Apache-2.0
// A set of sequence numbers added in increasing order and removed in any order: the Ingestor's
// items without a final state. One bit per number, from the oldest still in the set to the
// newest; no allocation per number. An item that stays unfinished keeps the bits of every item
// added after it (128 KiB a million), until it is final; retries and close bound how long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace instasent::detail {

class SeqSet {
 public:
  /// Adds `seq`, which must be larger than every number added before.
  void insert(std::uint64_t seq) {
    if (words_.empty()) base_ = seq - seq % 64;
    const std::uint64_t word = (seq - base_) / 64;
    while (words_.size() <= word) words_.push_back(0);
    words_[word] |= std::uint64_t{1} << (seq % 64);
    ++size_;
  }

  /// Removes `seq`; false when it was not in the set.
  bool erase(std::uint64_t seq) {
    if (!contains(seq)) return false;
    words_[(seq - base_) / 64] &= ~(std::uint64_t{1} << (seq % 64));
    --size_;
    // The front word stays non-zero: words wholly in the past are let go.
    while (!words_.empty() && words_.front() == 0) {
      words_.pop_front();
      base_ += 64;
    }
    return true;
  }

  bool contains(std::uint64_t seq) const {
    if (seq < base_ || (seq - base_) / 64 >= words_.size()) return false;
    return (words_[(seq - base_) / 64] >> (seq % 64) & 1) != 0;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  /// The smallest number in the set; only when it is not empty.
  std::uint64_t front() const {
    const std::uint64_t word = words_.front();
    std::uint64_t bit = 0;
    while ((word >> bit & 1) == 0) ++bit;
    return base_ + bit;
  }

  void clear() {
    words_.clear();
    size_ = 0;
  }

 private:
  std::deque<std::uint64_t> words_;  // bit b of words_[w] is number base_ + 64 w + b
  std::uint64_t base_ = 0;           // a multiple of 64
  std::size_t size_ = 0;
};

}  // namespace instasent::detail
