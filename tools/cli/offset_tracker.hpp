// SPDX-License-Identifier: Apache-2.0
// `consume`'s bookkeeping for one partition: which messages have their final state, and so which
// offset may be committed without claiming a message that might still be lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace instasent::cli {

/// The messages of one partition handed on and not yet committed past, by offset. A message's
/// final state either confirms it (delivered, or rejected or unreadable and dead-lettered) or
/// does not (dropped: given up, or still in flight at a deadline). The offset to commit is the
/// one after the longest run of confirmed messages from the first one read: one that is not
/// confirmed stops the run for good, so the next owner of the partition reads it again. Offsets
/// need not be contiguous (compaction and transaction markers leave gaps); messages are read in
/// increasing order. Not thread-safe.
class OffsetTracker {
 public:
  /// A message read and handed on; it awaits its final state.
  void read(std::int64_t offset);
  /// The final state of a message read: `confirmed`, or not (never committed past). An offset
  /// not pending (never read, or final already) is ignored.
  void finished(std::int64_t offset, bool confirmed);

  /// The offset to commit (the Kafka convention: the next one to read), once the first message
  /// read is confirmed; nullopt before that.
  std::optional<std::int64_t> commit_offset() const noexcept { return commit_offset_; }
  /// How many messages lie below `commit_offset()`: confirmed and committable.
  std::uint64_t confirmed() const noexcept { return confirmed_; }
  /// Messages read that await their final state.
  std::size_t pending() const noexcept { return pending_; }
  /// A message was not confirmed: the offset to commit stays below it from now on.
  bool blocked() const noexcept { return blocked_; }
  /// The first offset read; nullopt before any.
  std::optional<std::int64_t> first_read() const noexcept { return first_read_; }

 private:
  enum class State { pending, confirmed };
  void advance();

  std::map<std::int64_t, State> messages_;  // after the committable run
  std::optional<std::int64_t> commit_offset_;
  std::optional<std::int64_t> first_read_;
  std::int64_t last_read_ = -1;
  std::uint64_t confirmed_ = 0;
  std::size_t pending_ = 0;
  bool blocked_ = false;
  std::int64_t blocked_at_ = 0;
};

}  // namespace instasent::cli
