// SPDX-License-Identifier: Apache-2.0
#include "offset_tracker.hpp"

namespace instasent::cli {

void OffsetTracker::read(std::int64_t offset) {
  if (offset <= last_read_) return;  // read again (a seek back): already tracked
  last_read_ = offset;
  if (!first_read_) first_read_ = offset;
  messages_.emplace(offset, State::pending);
  ++pending_;
}

void OffsetTracker::finished(std::int64_t offset, bool confirmed) {
  const auto message = messages_.find(offset);
  if (message == messages_.end() || message->second != State::pending) return;
  --pending_;
  if (!confirmed) {
    messages_.erase(message);
    if (!blocked_ || offset < blocked_at_) blocked_at_ = offset;
    blocked_ = true;
    advance();
    return;
  }
  message->second = State::confirmed;
  advance();
}

void OffsetTracker::advance() {
  while (!messages_.empty()) {
    const auto first = messages_.begin();
    if (first->second != State::confirmed) return;
    if (blocked_ && first->first > blocked_at_) return;
    commit_offset_ = first->first + 1;
    ++confirmed_;
    messages_.erase(first);
  }
}

}  // namespace instasent::cli
