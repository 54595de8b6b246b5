// SPDX-License-Identifier: Apache-2.0
// SeqSet: the Ingestor's set of items without a final state, against std::set as a model.
#include "seq_set.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace instasent::detail {
namespace {

TEST(SeqSet, AddsInOrderRemovesInAnyOrderAndKnowsItsOldest) {
  SeqSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.erase(1));
  for (std::uint64_t seq : {1, 2, 63, 64, 65, 200}) set.insert(seq);
  EXPECT_EQ(set.size(), 6u);
  EXPECT_EQ(set.front(), 1u);
  EXPECT_TRUE(set.erase(1));
  EXPECT_FALSE(set.erase(1)) << "removed once";
  EXPECT_FALSE(set.contains(1));
  EXPECT_EQ(set.front(), 2u);
  EXPECT_TRUE(set.erase(2));
  EXPECT_TRUE(set.erase(63));
  EXPECT_EQ(set.front(), 64u) << "across a word";
  EXPECT_TRUE(set.erase(65));
  EXPECT_TRUE(set.erase(64));
  EXPECT_EQ(set.front(), 200u) << "past an empty word";
  EXPECT_FALSE(set.contains(3));
  EXPECT_FALSE(set.contains(100));
  EXPECT_FALSE(set.contains(1'000'000));
  EXPECT_TRUE(set.erase(200));
  EXPECT_TRUE(set.empty());
  set.insert(5'000'000'000);  // far from anything before
  EXPECT_EQ(set.front(), 5'000'000'000u);
  EXPECT_FALSE(set.contains(200));
  set.clear();
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.contains(5'000'000'000));
}

TEST(SeqSet, AgreesWithAnOrderedSetUnderRandomUse) {
  std::mt19937_64 random(7);
  SeqSet set;
  std::set<std::uint64_t> model;
  std::uint64_t next = 1;
  for (int step = 0; step < 200'000; ++step) {
    if (model.empty() || random() % 100 < 52) {
      next += 1 + random() % (random() % 10 == 0 ? 300 : 3);
      set.insert(next);
      model.insert(next);
    } else {
      // Mostly an item that is present (old or new), sometimes one that is not.
      std::uint64_t seq = *model.begin() + random() % (next - *model.begin() + 1);
      if (random() % 4 != 0) {
        const auto at = model.lower_bound(seq);
        seq = at == model.end() ? *model.begin() : *at;
      }
      ASSERT_EQ(set.erase(seq), model.erase(seq) == 1) << seq;
    }
    ASSERT_EQ(set.size(), model.size());
    ASSERT_EQ(set.empty(), model.empty());
    if (!model.empty()) {
      ASSERT_EQ(set.front(), *model.begin());
    }
    const std::uint64_t probe = random() % (next + 2);
    ASSERT_EQ(set.contains(probe), model.count(probe) == 1) << probe;
  }
}

}  // namespace
}  // namespace instasent::detail
