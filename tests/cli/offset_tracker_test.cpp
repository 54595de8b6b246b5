// SPDX-License-Identifier: Apache-2.0
// OffsetTracker: the offset `consume` may commit for a partition never passes a message without
// a confirmed final state.
#include "offset_tracker.hpp"

#include <gtest/gtest.h>

namespace instasent::cli {
namespace {

TEST(OffsetTracker, NothingToCommitBeforeTheFirstMessageIsConfirmed) {
  OffsetTracker tracker;
  EXPECT_FALSE(tracker.commit_offset());
  tracker.read(10);
  tracker.read(11);
  EXPECT_FALSE(tracker.commit_offset());
  EXPECT_EQ(tracker.pending(), 2u);
  EXPECT_EQ(tracker.first_read(), 10);
  tracker.finished(11, true);  // out of order: 10 is still in flight
  EXPECT_FALSE(tracker.commit_offset());
  tracker.finished(10, true);
  EXPECT_EQ(tracker.commit_offset(), 12) << "the next offset to read, as Kafka commits";
  EXPECT_EQ(tracker.confirmed(), 2u);
  EXPECT_EQ(tracker.pending(), 0u);
}

TEST(OffsetTracker, GapsInTheOffsetsAreNoMessages) {
  OffsetTracker tracker;
  for (const std::int64_t offset : {3, 4, 8, 9}) tracker.read(offset);  // 5-7: compacted away
  tracker.finished(3, true);
  tracker.finished(4, true);
  EXPECT_EQ(tracker.commit_offset(), 5);
  tracker.finished(9, true);
  EXPECT_EQ(tracker.commit_offset(), 5) << "8 is not final";
  tracker.finished(8, true);
  EXPECT_EQ(tracker.commit_offset(), 10);
}

TEST(OffsetTracker, AMessageNotConfirmedIsNeverCommittedPast) {
  OffsetTracker tracker;
  for (std::int64_t offset = 0; offset < 5; ++offset) tracker.read(offset);
  tracker.finished(0, true);
  tracker.finished(2, false);  // dropped
  tracker.finished(1, true);
  tracker.finished(3, true);
  tracker.finished(4, true);
  EXPECT_TRUE(tracker.blocked());
  EXPECT_EQ(tracker.commit_offset(), 2) << "up to the dropped message, not past it";
  tracker.read(5);
  tracker.finished(5, true);
  EXPECT_EQ(tracker.commit_offset(), 2);
  EXPECT_EQ(tracker.pending(), 0u);
}

TEST(OffsetTracker, AFirstMessageNotConfirmedLeavesNothingToCommit) {
  OffsetTracker tracker;
  tracker.read(7);
  tracker.read(8);
  tracker.finished(7, false);
  tracker.finished(8, true);
  EXPECT_FALSE(tracker.commit_offset());
}

TEST(OffsetTracker, UnknownAndRepeatedOutcomesAreIgnored) {
  OffsetTracker tracker;
  tracker.read(1);
  tracker.finished(0, true);  // never read
  tracker.finished(1, true);
  tracker.finished(1, false);  // final already
  EXPECT_FALSE(tracker.blocked());
  EXPECT_EQ(tracker.commit_offset(), 2);
  tracker.read(1);  // read again after a seek back: already done
  EXPECT_EQ(tracker.pending(), 0u);
}

}  // namespace
}  // namespace instasent::cli
