// SPDX-License-Identifier: Apache-2.0
// How a batch write is split into requests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client_core.hpp"

namespace instasent::detail {
namespace {

// The ends of items of these sizes, comma-separated as in SerializedBatch.
std::vector<std::size_t> ends_of(const std::vector<std::size_t>& sizes) {
  std::vector<std::size_t> ends;
  std::size_t end = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    end += sizes[i] + (i == 0 ? 0 : 1);
    ends.push_back(end);
  }
  return ends;
}

TEST(PlanRequests, NothingToSendIsNoRequest) { EXPECT_TRUE(plan_requests({}, 100, 1'000).empty()); }

TEST(PlanRequests, AtMostMaxItemsPerRequest) {
  const std::vector<std::size_t> ends = ends_of(std::vector<std::size_t>(250, 10));
  EXPECT_EQ(plan_requests(ends, 100, 1'000'000),
            (std::vector<RequestRange>{{0, 100}, {100, 200}, {200, 250}}));
}

TEST(PlanRequests, ABodyOfExactlyMaxBytesFitsAndOneMoreByteDoesNot) {
  // Two items of 10 bytes: "[" + 10 + "," + 10 + "]" = 23 bytes.
  const std::vector<std::size_t> ends = ends_of({10, 10, 10});
  EXPECT_EQ(plan_requests(ends, 100, 23), (std::vector<RequestRange>{{0, 2}, {2, 3}}));
  EXPECT_EQ(plan_requests(ends, 100, 22), (std::vector<RequestRange>{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(plan_requests(ends, 100, 34), (std::vector<RequestRange>{{0, 3}}));
}

TEST(PlanRequests, ALargeItemGoesAloneAndTheOthersAroundIt) {
  const std::vector<std::size_t> ends = ends_of({5, 5, 90, 5, 5});
  EXPECT_EQ(plan_requests(ends, 100, 92), (std::vector<RequestRange>{{0, 2}, {2, 3}, {3, 5}}));
}

TEST(PlanRequests, EveryItemIsInExactlyOneRequestInOrder) {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 1'000; ++i) sizes.push_back(1 + (i * 7919) % 300);
  const std::vector<std::size_t> ends = ends_of(sizes);
  std::size_t next = 0;
  for (const RequestRange& range : plan_requests(ends, 37, 2'000)) {
    EXPECT_EQ(range.first, next);
    EXPECT_GT(range.last, range.first);
    EXPECT_LE(range.last - range.first, 37u);
    const std::size_t begin = range.first == 0 ? 0 : ends[range.first - 1] + 1;
    EXPECT_LE(ends[range.last - 1] - begin + 2, 2'000u);
    next = range.last;
  }
  EXPECT_EQ(next, sizes.size());
}

}  // namespace
}  // namespace instasent::detail
