// SPDX-License-Identifier: Apache-2.0
// BlockQueue against std::deque: the same items in the same order after every step, each item
// constructed once and destroyed once, across block boundaries at both ends.
#include "block_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace instasent::detail {
namespace {

// An item that counts the live ones, so that a slot destroyed twice or never shows.
struct Tracked {
  explicit Tracked(std::uint64_t v) : value(std::to_string(v)) { ++live; }
  Tracked(Tracked&& other) noexcept : value(std::move(other.value)) { ++live; }
  Tracked& operator=(Tracked&&) = delete;
  Tracked(const Tracked&) = delete;
  ~Tracked() { --live; }

  std::string value;
  static inline long live = 0;
};

template <std::size_t Items>
void ExpectSame(const BlockQueue<Tracked, Items>& queue, const std::deque<std::string>& model) {
  ASSERT_EQ(queue.size(), model.size());
  ASSERT_EQ(queue.empty(), model.empty());
  if (!model.empty()) {
    ASSERT_EQ(queue.front().value, model.front());
  }
  std::vector<std::string> seen;
  for (const Tracked& item : queue) seen.push_back(item.value);
  ASSERT_EQ(seen, std::vector<std::string>(model.begin(), model.end()));
}

TEST(BlockQueue, HoldsWhatADequeHoldsThroughRandomSteps) {
  std::uint64_t state = 0x2545F4914F6CDD1Dull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  {
    BlockQueue<Tracked, 4> queue;  // small blocks: every few steps crosses one
    std::deque<std::string> model;
    std::uint64_t counter = 0;
    for (int step = 0; step < 200'000; ++step) {
      const std::uint64_t dice = next() % 100;
      // Runs of growth and of shrinking, so that the queue empties and refills many times.
      const bool growing = (step / 500) % 2 == 0;
      if (dice < (growing ? 45u : 20u)) {
        queue.push_back(Tracked(++counter));
        model.push_back(std::to_string(counter));
      } else if (dice < (growing ? 60u : 30u)) {
        queue.push_front(Tracked(++counter));
        model.push_front(std::to_string(counter));
      } else if (dice < 99u) {
        if (!model.empty()) {
          queue.pop_front();
          model.pop_front();
        }
      } else {
        queue.clear();
        model.clear();
      }
      ASSERT_EQ(Tracked::live, static_cast<long>(model.size())) << "step " << step;
      if (step % 97 == 0) ExpectSame(queue, model);
    }
    ExpectSame(queue, model);
  }
  EXPECT_EQ(Tracked::live, 0) << "items left undestroyed by the queue's destructor";
}

TEST(BlockQueue, SwapsAndIteratesToChangeItems) {
  BlockQueue<Tracked, 8> a;
  BlockQueue<Tracked, 8> b;
  for (std::uint64_t i = 1; i <= 20; ++i) a.push_back(Tracked(i));
  for (std::uint64_t i = 1; i <= 3; ++i) b.push_front(Tracked(100 + i));
  for (Tracked& item : a) item.value += "!";
  a.swap(b);
  ExpectSame(a, {"103", "102", "101"});
  std::deque<std::string> twenty;
  for (std::uint64_t i = 1; i <= 20; ++i) twenty.push_back(std::to_string(i) + "!");
  ExpectSame(b, twenty);
  EXPECT_EQ(std::count_if(b.begin(), b.end(), [](const Tracked& t) { return t.value.size() == 2; }),
            9);
  a.clear();
  b.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(Tracked::live, 0);
  a.push_front(Tracked(7));  // usable again after a clear, from either end
  a.push_back(Tracked(8));
  ExpectSame(a, {"7", "8"});
}

}  // namespace
}  // namespace instasent::detail
