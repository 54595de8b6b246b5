// SPDX-License-Identifier: Apache-2.0
// UserOrder: each user's last contact operation, against std::unordered_map as a model.
#include "user_order.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>

namespace instasent::detail {
namespace {

TEST(UserOrder, KeepsTheLastOperationAndForgetsItOnlyWhenThatOneEnds) {
  UserOrder order;
  const std::uint64_t ada = UserOrder::key_of("ada");
  const std::uint64_t bob = UserOrder::key_of("bob");
  EXPECT_EQ(order.find(ada), 0u);
  order.erase(ada, 1);  // nothing to forget
  order.set(ada, 1);
  order.set(bob, 2);
  order.set(ada, 3);  // ada's newer operation
  EXPECT_EQ(order.find(ada), 3u);
  EXPECT_EQ(order.find(bob), 2u);
  order.erase(ada, 1);  // the older one ended: ada still waits for 3
  EXPECT_EQ(order.find(ada), 3u);
  order.erase(ada, 3);
  EXPECT_EQ(order.find(ada), 0u);
  EXPECT_EQ(order.find(bob), 2u);
  EXPECT_EQ(order.size(), 1u);
  order.clear();
  EXPECT_EQ(order.find(bob), 0u);
  EXPECT_EQ(order.size(), 0u);
}

// Random use over few keys (long probe runs, wrapping around the table's end, growing and
// shrinking) and over many, checked against a model after every step.
TEST(UserOrder, AgreesWithAMapUnderRandomUse) {
  constexpr std::uint64_t kSpread = 0x100000001;
  for (const std::uint64_t keys : {40u, 5'000u}) {
    std::mt19937_64 random(keys);
    UserOrder order;
    std::unordered_map<std::uint64_t, std::uint64_t> model;
    std::uint64_t seq = 0;
    for (int step = 0; step < 200'000; ++step) {
      // Keys that differ only in their high bits, or not at all, besides random ones.
      const std::uint64_t pick = random() % keys;
      const std::uint64_t key = step % 3 == 0 ? pick << 40 : pick * kSpread;
      if (random() % 100 < (step < 100'000 ? 55 : 35)) {
        order.set(key, ++seq);
        model[key] = seq;
      } else {
        const auto found = model.find(key);
        // Mostly the operation recorded; sometimes an older one, which must change nothing.
        const std::uint64_t ending =
            found == model.end() ? seq : (random() % 4 == 0 ? found->second - 1 : found->second);
        order.erase(key, ending);
        if (found != model.end() && found->second == ending) model.erase(found);
      }
      ASSERT_EQ(order.size(), model.size()) << "step " << step;
      const std::uint64_t probe = random() % keys;
      for (const std::uint64_t other : {probe << 40, probe * kSpread, key}) {
        const auto found = model.find(other);
        ASSERT_EQ(order.find(other), found == model.end() ? 0 : found->second)
            << "step " << step << ", key " << other;
      }
    }
    for (const auto& [key, last] : model) ASSERT_EQ(order.find(key), last);
  }
}

}  // namespace
}  // namespace instasent::detail
