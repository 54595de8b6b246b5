// SPDX-License-Identifier: Apache-2.0
// The Ingestor's pacing, under a fake clock: no test here waits.
#include "pacer.hpp"

#include <gtest/gtest.h>

#include "support/fake_clock.hpp"

namespace instasent::detail {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

constexpr std::size_t kUpserts = 0;
constexpr std::size_t kEvents = 1;

RetryPolicy retry(milliseconds max_rate_limit_wait) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.max_backoff = milliseconds(10'000);
  policy.max_rate_limit_wait = max_rate_limit_wait;
  policy.jitter_seed = 42;
  return policy;
}

class PacerTest : public ::testing::Test {
 protected:
  Pacer make(double budget = 0.2, milliseconds max_rate_limit_wait = milliseconds(60'000)) {
    return Pacer(retry(max_rate_limit_wait), budget, clock.steady_now());
  }

  FakeClock clock;
  const RequestEnd failed{true, std::nullopt, false, std::nullopt};
  const RequestEnd answered{false, std::nullopt, false, std::nullopt};
};

TEST_F(PacerTest, GrantsTenRetriesBeforeAnyAreEarned) {
  Pacer pacer = make(0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(pacer.may_retry()) << "retry " << i;
    pacer.on_send(kUpserts, true);
  }
  EXPECT_FALSE(pacer.may_retry());
}

TEST_F(PacerTest, NewRequestsEarnTheBudgetUpToAHundredRetries) {
  Pacer pacer = make(0.5);
  for (int i = 0; i < 10; ++i) pacer.on_send(kUpserts, true);
  pacer.on_send(kUpserts, false);
  EXPECT_FALSE(pacer.may_retry()) << "half a token";
  pacer.on_send(kUpserts, false);
  EXPECT_TRUE(pacer.may_retry());
  for (int i = 0; i < 1000; ++i) pacer.on_send(kUpserts, false);
  EXPECT_DOUBLE_EQ(pacer.retry_tokens(), kMaxRetryTokens);
}

TEST_F(PacerTest, PastTheBudgetTimeEarnsTenRetriesASecond) {
  Pacer pacer = make(0);
  for (int i = 0; i < 10; ++i) pacer.on_send(kUpserts, true);
  const auto now = clock.steady_now();
  // The next token is 100 ms away (plus the millisecond that rounds it up).
  EXPECT_EQ(pacer.next_retry_token(now), now + milliseconds(101));
  clock.advance(milliseconds(99));
  pacer.refill(clock.steady_now());
  EXPECT_FALSE(pacer.may_retry());
  clock.advance(milliseconds(1));
  pacer.refill(clock.steady_now());
  EXPECT_TRUE(pacer.may_retry());
  clock.advance(milliseconds(60'000));  // time alone earns no more than the first ten
  pacer.refill(clock.steady_now());
  EXPECT_DOUBLE_EQ(pacer.retry_tokens(), kInitialRetryTokens);
}

TEST_F(PacerTest, ARetryThatGetsAnAnswerGivesItsTokenBack) {
  Pacer pacer = make(0);
  pacer.on_send(kUpserts, true);
  EXPECT_DOUBLE_EQ(pacer.retry_tokens(), kInitialRetryTokens - 1);
  pacer.on_end(kUpserts, clock.steady_now(), {false, std::nullopt, true, std::nullopt});
  EXPECT_DOUBLE_EQ(pacer.retry_tokens(), kInitialRetryTokens);
  pacer.on_send(kUpserts, true);
  pacer.on_end(kUpserts, clock.steady_now(), {true, std::nullopt, true, std::nullopt});
  EXPECT_DOUBLE_EQ(pacer.retry_tokens(), kInitialRetryTokens - 1) << "a failed retry keeps it";
}

TEST_F(PacerTest, A429HoldsEveryQueueForAtMostMaxRateLimitWait) {
  Pacer pacer = make(0.2, milliseconds(500));
  const auto now = clock.steady_now();
  const RetrySchedule schedule =
      pacer.on_end(kEvents, now, {true, milliseconds(30'000), false, std::nullopt});
  for (std::size_t queue = 0; queue < kQueues; ++queue) {
    EXPECT_EQ(pacer.ready_at(queue), now + milliseconds(500)) << "queue " << queue;
  }
  // The gate is the wait: the items themselves may go as soon as it opens.
  EXPECT_TRUE(schedule.gated);
  EXPECT_EQ(schedule.retry_at(5), now);
}

// The time 429s held sending back: pauses that overlap count once, a pause is counted to its
// (capped) end.
TEST_F(PacerTest, PausesAreSummedOverlapsOnce) {
  Pacer pacer = make(0.2, milliseconds(5'000));
  const auto now = clock.steady_now();
  EXPECT_EQ(pacer.paused(), milliseconds(0));
  pacer.on_end(kEvents, now, {true, milliseconds(1'000), false, std::nullopt});
  EXPECT_EQ(pacer.paused(), milliseconds(1'000));
  pacer.on_end(kUpserts, now + milliseconds(500), {true, milliseconds(1'000), false, std::nullopt});
  EXPECT_EQ(pacer.paused(), milliseconds(1'500)) << "the second pause overlaps the first";
  EXPECT_EQ(pacer.gate(), now + milliseconds(1'500));
  pacer.on_end(kEvents, now + milliseconds(600), {true, milliseconds(100), false, std::nullopt});
  EXPECT_EQ(pacer.paused(), milliseconds(1'500)) << "within the pause under way";
  pacer.on_end(kEvents, now + milliseconds(10'000),
               {true, milliseconds(60'000), false, std::nullopt});
  EXPECT_EQ(pacer.paused(), milliseconds(6'500)) << "capped at max_rate_limit_wait";
  pacer.on_end(kEvents, now + milliseconds(20'000), failed);
  EXPECT_EQ(pacer.paused(), milliseconds(6'500)) << "a failure without a 429 is not a pause";
}

// The allowance an answer announces (X-RateLimit-Remaining and -Reset) is spent by each request
// sent; once it is used up, that queue waits for the renewal, so that it gets no 429. Requests
// in flight when the answer came count against it; other queues go on.
TEST_F(PacerTest, AnAnnouncedAllowanceHoldsItsQueueOnceUsedUp) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  RequestEnd with_allowance = answered;
  with_allowance.allowance = Allowance{4, milliseconds(2'000), 100};
  pacer.on_send(kUpserts, false);
  pacer.on_send(kUpserts, false);
  pacer.on_end(kUpserts, now, with_allowance);  // 4 left, and one request still in flight
  EXPECT_LE(pacer.ready_at(kUpserts), now);
  pacer.on_send(kUpserts, false);
  pacer.on_send(kUpserts, false);
  EXPECT_LE(pacer.ready_at(kUpserts), now) << "one of the 4 is left";
  pacer.on_send(kUpserts, false);
  EXPECT_EQ(pacer.ready_at(kUpserts), now + milliseconds(2'000));
  EXPECT_LE(pacer.ready_at(kEvents), now) << "another queue has its own allowance";
  EXPECT_EQ(pacer.rate_limited_until(), now + milliseconds(2'000));
  EXPECT_EQ(pacer.gate(), Pacer::time_point{}) << "no 429: no gate";
  EXPECT_EQ(pacer.paused(), milliseconds(0));
  // A later answer renews it.
  with_allowance.allowance = Allowance{10, milliseconds(60'000), 160};
  pacer.on_end(kUpserts, now + milliseconds(2'100), with_allowance);
  EXPECT_LE(pacer.ready_at(kUpserts), now + milliseconds(2'100));
}

// Answers of one period (the same Reset) may come out of order: the lowest count stands. An
// answer of the next period replaces it.
TEST_F(PacerTest, AnEarlierAnswerOfThePeriodDoesNotRaiseTheAllowance) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  const auto answer = [](std::int64_t remaining, std::int64_t reset) {
    RequestEnd end{false, std::nullopt, false, Allowance{remaining, milliseconds(1'000), reset}};
    return end;
  };
  pacer.on_send(kEvents, false);               // A
  pacer.on_send(kEvents, false);               // B, counted after A by the server
  pacer.on_end(kEvents, now, answer(1, 500));  // B's answer: 1 left, A still in flight
  EXPECT_EQ(pacer.ready_at(kEvents), now + milliseconds(1'000)) << "A may take the last one";
  pacer.on_end(kEvents, now, answer(2, 500));  // A's answer, late: no more than before
  EXPECT_EQ(pacer.ready_at(kEvents), now + milliseconds(1'000));
  pacer.on_send(kEvents, false);
  pacer.on_end(kEvents, now + milliseconds(1'000), answer(7, 501));  // the next period
  EXPECT_LE(pacer.ready_at(kEvents), now + milliseconds(1'000));
}

TEST_F(PacerTest, AnAllowanceRenewedLaterThanMaxRateLimitWaitIsWaitedForThatLongAtMost) {
  Pacer pacer = make(0.2, milliseconds(5'000));
  const auto now = clock.steady_now();
  RequestEnd spent = answered;
  spent.allowance = Allowance{0, milliseconds(3'600'000), 3'700};
  pacer.on_send(kEvents, false);
  pacer.on_end(kEvents, now, spent);
  EXPECT_EQ(pacer.ready_at(kEvents), now + milliseconds(5'000));
  // Renewed now (a reset in the past): no wait, even with nothing left.
  spent.allowance = Allowance{0, milliseconds(0), 50};
  pacer.on_send(kEvents, false);
  pacer.on_end(kEvents, now + milliseconds(10), spent);
  EXPECT_LE(pacer.ready_at(kEvents), now + milliseconds(10));
}

TEST_F(PacerTest, A429WithoutATimeLeavesTheItemsTheirBackoff) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  const RetrySchedule schedule =
      pacer.on_end(kUpserts, now, {true, milliseconds(0), false, std::nullopt});
  EXPECT_LE(pacer.ready_at(kUpserts), now);
  EXPECT_FALSE(schedule.gated);
  EXPECT_GE(schedule.retry_at(1), now + milliseconds(50));
  EXPECT_LE(schedule.retry_at(1), now + milliseconds(100));
}

TEST_F(PacerTest, AHealthyQueueRetriesAfterTheInitialBackoffHoweverOftenItFailed) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  for (int i = 0; i < 3; ++i) pacer.on_end(kUpserts, now, answered);
  const RetrySchedule schedule = pacer.on_end(kUpserts, now, failed);  // 1 failure in 4
  EXPECT_TRUE(schedule.healthy);
  EXPECT_LE(schedule.retry_at(9), now + milliseconds(100));
}

TEST_F(PacerTest, AnUnhealthyQueueBacksOffExponentiallyWithTheAttempts) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  pacer.on_end(kUpserts, now, answered);
  const RetrySchedule schedule = pacer.on_end(kUpserts, now, failed);  // 1 failure in 2
  EXPECT_FALSE(schedule.healthy);
  // Attempt n waits within [half, full] of 100 ms * 2^(n-1), capped at max_backoff.
  EXPECT_GE(schedule.retry_at(4), now + milliseconds(400));
  EXPECT_LE(schedule.retry_at(4), now + milliseconds(800));
  EXPECT_GE(schedule.retry_at(30), now + milliseconds(5'000));
  EXPECT_LE(schedule.retry_at(30), now + milliseconds(10'000));
}

TEST_F(PacerTest, EightFailuresInARowHoldTheWholeQueueUntilASuccess) {
  Pacer pacer = make();
  const auto now = clock.steady_now();
  for (int i = 1; i < kOutageThreshold; ++i) pacer.on_end(kUpserts, now, failed);
  EXPECT_LE(pacer.ready_at(kUpserts), now) << "seven failures are not an outage";
  pacer.on_end(kUpserts, now, failed);
  EXPECT_GE(pacer.ready_at(kUpserts), now + milliseconds(50));
  EXPECT_LE(pacer.ready_at(kEvents), now) << "only the failing queue waits";
  pacer.on_end(kUpserts, now, answered);
  EXPECT_LE(pacer.ready_at(kUpserts), now);
}

TEST_F(PacerTest, TheSameSeedGivesTheSameSchedule) {
  Pacer first = make();
  Pacer second = make();
  const auto now = clock.steady_now();
  for (int i = 0; i < 12; ++i) {
    const auto a = first.on_end(kEvents, now, failed).retry_at(i + 1);
    const auto b = second.on_end(kEvents, now, failed).retry_at(i + 1);
    EXPECT_EQ(a, b) << "request " << i;
  }
  EXPECT_EQ(first.ready_at(kEvents), second.ready_at(kEvents));
}

}  // namespace
}  // namespace instasent::detail
