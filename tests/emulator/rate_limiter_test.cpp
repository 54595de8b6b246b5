// SPDX-License-Identifier: Apache-2.0
// The rate limiter's two modes at instants the test chooses: the fixed one-minute window and the
// token bucket (its burst, its refill rate, what the X-RateLimit headers and Retry-After say).
#include "rate_limiter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace instasent::emulator {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;

// 2027-01-15T08:00:00Z, the start of a minute.
constexpr std::int64_t kStart = 1'800'000'000 - 1'800'000'000 % 60;
const Clock::time_point kT0{seconds(kStart)};

TEST(RateLimiterWindow, CountsInClockMinutes) {
  RateLimiter limiter(3);
  for (long i = 0; i < 3; ++i) {
    const RateDecision rate = limiter.check("k", kT0 + seconds(10 * i));
    EXPECT_TRUE(rate.allowed);
    EXPECT_EQ(rate.limit, 3);
    EXPECT_EQ(rate.remaining, 2 - i);
    EXPECT_EQ(rate.reset, kStart + 60);
  }
  const RateDecision refused = limiter.check("k", kT0 + milliseconds(59'999));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after, 0);  // the window mode sends no Retry-After
  const RateDecision next_minute = limiter.check("k", kT0 + seconds(60));
  EXPECT_TRUE(next_minute.allowed);
  EXPECT_EQ(next_minute.remaining, 2);
  EXPECT_EQ(next_minute.reset, kStart + 120);
}

TEST(RateLimiterBucket, AFullBucketAllowsItsBurstAtOnce) {
  RateLimiter limiter(60, RateLimitMode::bucket, 5);  // one request a second, five at once
  for (long i = 0; i < 5; ++i) {
    const RateDecision rate = limiter.check("k", kT0);
    EXPECT_TRUE(rate.allowed) << i;
    EXPECT_EQ(rate.limit, 5);
    EXPECT_EQ(rate.remaining, 4 - i);
    EXPECT_EQ(rate.reset, kStart + i + 1);  // full again once the i + 1 taken have refilled
    EXPECT_EQ(rate.retry_after, 0);
  }
  const RateDecision refused = limiter.check("k", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 5);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.reset, kStart + 5);
  EXPECT_EQ(refused.retry_after, 1);
}

TEST(RateLimiterBucket, TheBurstIsThePerMinuteLimitByDefault) {
  RateLimiter limiter(3, RateLimitMode::bucket);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("k", kT0).allowed) << i;
  const RateDecision refused = limiter.check("k", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 3);
  EXPECT_EQ(refused.reset, kStart + 60);  // three requests of 20 s each to refill
  EXPECT_EQ(refused.retry_after, 20);     // the first of them
}

TEST(RateLimiterBucket, RefillsOneRequestPerSixtiethOfTheRatePerSecond) {
  RateLimiter limiter(120, RateLimitMode::bucket, 2);  // one request every 500 ms
  ASSERT_TRUE(limiter.check("k", kT0).allowed);
  ASSERT_TRUE(limiter.check("k", kT0).allowed);
  EXPECT_FALSE(limiter.check("k", kT0 + milliseconds(499)).allowed);
  // Exactly one request has come back after 500 ms, and one more each 500 ms after that.
  const RateDecision refilled = limiter.check("k", kT0 + milliseconds(500));
  EXPECT_TRUE(refilled.allowed);
  EXPECT_EQ(refilled.remaining, 0);
  EXPECT_FALSE(limiter.check("k", kT0 + milliseconds(999)).allowed);
  EXPECT_TRUE(limiter.check("k", kT0 + milliseconds(1000)).allowed);
  // A long pause fills the bucket, never beyond its size.
  const RateDecision after_pause = limiter.check("k", kT0 + seconds(3600));
  EXPECT_TRUE(after_pause.allowed);
  EXPECT_EQ(after_pause.remaining, 1);
  EXPECT_TRUE(limiter.check("k", kT0 + seconds(3600)).allowed);
  EXPECT_FALSE(limiter.check("k", kT0 + seconds(3600)).allowed);
}

TEST(RateLimiterBucket, SustainedRateIsTheLimitPerMinute) {
  RateLimiter limiter(600, RateLimitMode::bucket, 10);  // ten a second
  // A client asking every millisecond for two minutes gets the burst plus 600 a minute.
  long allowed = 0;
  for (long ms = 0; ms < 120'000; ++ms) {
    if (limiter.check("k", kT0 + milliseconds(ms)).allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 10 + 1200 - 1);  // the last refill lands at 120 000 ms, just outside
}

TEST(RateLimiterBucket, ResetIsWhenTheBucketIsFullAndRetryAfterWhenOneIsBack) {
  RateLimiter limiter(60, RateLimitMode::bucket, 4);
  const Clock::time_point mid_second = kT0 + milliseconds(300);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.check("k", mid_second).allowed);
  const RateDecision refused = limiter.check("k", mid_second + milliseconds(200));
  EXPECT_FALSE(refused.allowed);
  // Full again 4 s after 0.3 s (rounded up to whole Unix seconds); one request back after 1 s,
  // 0.8 s from the refused request, rounded up.
  EXPECT_EQ(refused.reset, kStart + 5);
  EXPECT_EQ(refused.retry_after, 1);
  // Waiting Retry-After is enough.
  EXPECT_TRUE(limiter.check("k", mid_second + milliseconds(200) + seconds(1)).allowed);
}

TEST(RateLimiterBucket, RetryAfterIsNeverZero) {
  RateLimiter limiter(60, RateLimitMode::bucket, 1);
  ASSERT_TRUE(limiter.check("k", kT0).allowed);
  const RateDecision refused = limiter.check("k", kT0 + nanoseconds(999'999'999));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1);
}

TEST(RateLimiterBucket, EachKeyHasItsOwnBucket) {
  RateLimiter limiter(60, RateLimitMode::bucket, 2);
  for (const char* key : {"proj/ds_a POST /stream/contacts", "proj/ds_a POST /stream/events",
                          "proj/ds_b POST /stream/contacts"}) {
    EXPECT_TRUE(limiter.check(key, kT0).allowed) << key;
    EXPECT_TRUE(limiter.check(key, kT0).allowed) << key;
    EXPECT_FALSE(limiter.check(key, kT0).allowed) << key;
  }
}

TEST(RateLimiterBucket, ResetFillsEveryBucket) {
  RateLimiter limiter(60, RateLimitMode::bucket, 1);
  ASSERT_TRUE(limiter.check("k", kT0).allowed);
  ASSERT_FALSE(limiter.check("k", kT0).allowed);
  limiter.reset();
  EXPECT_TRUE(limiter.check("k", kT0).allowed);
}

TEST(RateLimiterBucket, OffMeansUnlimitedWithHeaders) {
  RateLimiter limiter(0, RateLimitMode::bucket, 5);
  for (int i = 0; i < 100; ++i) {
    const RateDecision rate = limiter.check("k", kT0);
    ASSERT_TRUE(rate.allowed);
    EXPECT_EQ(rate.limit, RateLimiter::kUnlimited);
    EXPECT_EQ(rate.remaining, RateLimiter::kUnlimited);
  }
}

}  // namespace
}  // namespace instasent::emulator
