// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "instasent/client.hpp"
#include "instasent/error.hpp"
#include "retry_logic.hpp"
#include "unit/fakes.hpp"

namespace instasent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;
using testing::FakeClock;
using testing::ScriptedTransport;

const char* const kAccepted =
    R"({"entity":{"successful":1,"failed":0,"items":[{"status":"success","_user_id":"U1"}]}})";

TEST(HttpDate, ParsesImfFixdate) {
  const auto t = detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, 784111777);
  EXPECT_EQ(detail::parse_http_date("Sat, 28 Nov 2026 10:00:00 GMT"), 1795860000);
}

TEST(HttpDate, FarYearsAreSecondsNotAnOverflow) {
  EXPECT_EQ(detail::parse_http_date("Wed, 01 Jan 3000 00:00:00 GMT"), 32503680000);
  EXPECT_EQ(detail::parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
  EXPECT_EQ(detail::parse_http_date("Sat, 01 Jan 0000 00:00:00 GMT"), -62167219200);
}

TEST(WholeSeconds, SaturatesInsteadOfOverflowing) {
  EXPECT_EQ(detail::parse_whole_seconds("0"), 0);
  EXPECT_EQ(detail::parse_whole_seconds(" 42 "), 42);
  EXPECT_EQ(detail::parse_whole_seconds("99999999999999999999"), detail::kMaxWholeSeconds);
  EXPECT_EQ(detail::parse_whole_seconds(std::string(5000, '9')), detail::kMaxWholeSeconds);
  for (const char* bad : {"", " ", "-1", "+1", "1.5", "1e9", "0x10", "12abc", "\xEF\xBC\x91"}) {
    EXPECT_FALSE(detail::parse_whole_seconds(bad)) << bad;
  }
}

TEST(UnixTime, RefusesTimesASystemClockCannotHold) {
  EXPECT_EQ(detail::unix_time(0), system_clock::time_point());
  EXPECT_EQ(detail::unix_time(1795860000)->time_since_epoch(), seconds(1795860000));
  EXPECT_FALSE(detail::unix_time(-1));
  EXPECT_FALSE(detail::unix_time(32503680000));  // year 3000
  EXPECT_TRUE(detail::unix_time(detail::kLatestUnixTime));
  EXPECT_FALSE(detail::unix_time(detail::kLatestUnixTime + 1));
}

TEST(HttpDate, RefusesOtherText) {
  EXPECT_FALSE(detail::parse_http_date(""));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(detail::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 23:60:00 GMT"));
  EXPECT_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 23:59:61 GMT"));
  EXPECT_TRUE(detail::parse_http_date("Sun, 06 Nov 1994 23:59:60 GMT")) << "a leap second";
}

TEST(Backoff, GrowsExponentiallyWithinJitterAndCap) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.multiplier = 2;
  policy.max_backoff = milliseconds(1000);
  EXPECT_EQ(detail::backoff_delay(policy, 1, 0), milliseconds(50));
  EXPECT_LE(detail::backoff_delay(policy, 1, ~std::uint64_t{0}), milliseconds(100));
  EXPECT_EQ(detail::backoff_delay(policy, 3, 0), milliseconds(200));
  EXPECT_EQ(detail::backoff_delay(policy, 10, 0), milliseconds(500));  // capped at 1000, halved
  EXPECT_LE(detail::backoff_delay(policy, 10, ~std::uint64_t{0}), milliseconds(1000));
}

TEST(RateLimitDelay, UsesResetAgainstServerDate) {
  Headers headers;
  headers.add("Date", "Sat, 28 Nov 2026 10:00:00 GMT");
  headers.add("X-RateLimit-Reset", "1795860007");
  // The local clock is an hour off; the server's Date keeps the wait right.
  const auto local = system_clock::time_point(seconds(1795860000 + 3600));
  EXPECT_EQ(detail::rate_limit_delay(headers, local), milliseconds(7000));
}

TEST(RateLimitDelay, FallsBackToLocalClockWithoutDate) {
  Headers headers;
  headers.add("x-ratelimit-reset", "1795860005");
  const auto local = system_clock::time_point(seconds(1795860000));
  EXPECT_EQ(detail::rate_limit_delay(headers, local), milliseconds(5000));
  EXPECT_FALSE(detail::rate_limit_delay(headers, local + seconds(10)));  // already passed
}

TEST(RateLimitDelay, RetryAfterWinsInSecondsOrAsDate) {
  const auto local = system_clock::time_point(seconds(1795860000));
  Headers seconds_form;
  seconds_form.add("X-RateLimit-Reset", "1795860050");
  seconds_form.add("Retry-After", "3");
  EXPECT_EQ(detail::rate_limit_delay(seconds_form, local), milliseconds(3000));
  Headers date_form;
  date_form.add("Date", "Sat, 28 Nov 2026 10:00:00 GMT");
  date_form.add("Retry-After", "Sat, 28 Nov 2026 10:00:12 GMT");
  EXPECT_EQ(detail::rate_limit_delay(date_form, local), milliseconds(12000));
  Headers nothing;
  EXPECT_FALSE(detail::rate_limit_delay(nothing, local));
}

// Within a second of the local clock, a Date (whole seconds) only says the clocks agree: the local
// clock's milliseconds measure the wait.
TEST(RateLimitDelay, ADateWithinASecondOfTheLocalClockLeavesItsMilliseconds) {
  Headers headers;
  headers.add("Date", "Sat, 28 Nov 2026 10:00:00 GMT");
  headers.add("X-RateLimit-Reset", "1795860002");
  const auto local = system_clock::time_point(seconds(1795860000) + milliseconds(700));
  EXPECT_EQ(detail::rate_limit_delay(headers, local), milliseconds(1300));
  EXPECT_EQ(detail::rate_limit_delay(headers, local + seconds(1)), milliseconds(2000))
      << "a second apart: the Date's time";
}

TEST(RateLimitAllowance, ReadsRemainingAndTheTimeToTheReset) {
  const auto local = system_clock::time_point(seconds(1795860000));
  Headers headers;
  headers.add("X-RateLimit-Limit", "1200");
  headers.add("X-RateLimit-Remaining", "17");
  headers.add("X-RateLimit-Reset", "1795860030");
  const auto allowance = detail::rate_limit_allowance(headers, local);
  ASSERT_TRUE(allowance);
  EXPECT_EQ(allowance->remaining, 17);
  EXPECT_EQ(allowance->renewed_in, milliseconds(30'000));
  // Measured against the server's Date when the clocks disagree.
  headers.add("Date", "Sat, 28 Nov 2026 10:00:20 GMT");
  EXPECT_EQ(detail::rate_limit_allowance(headers, local + seconds(3600))->renewed_in,
            milliseconds(10'000));
}

TEST(RateLimitAllowance, NothingUnlessBothAreWholeNumbersAndNeverAnOverflow) {
  const auto local = system_clock::time_point(seconds(1795860000));
  const auto with = [&](const char* remaining, const char* reset) {
    Headers headers;
    if (remaining != nullptr) headers.add("X-RateLimit-Remaining", remaining);
    if (reset != nullptr) headers.add("X-RateLimit-Reset", reset);
    return detail::rate_limit_allowance(headers, local);
  };
  EXPECT_FALSE(with(nullptr, "1795860030"));
  EXPECT_FALSE(with("5", nullptr));
  EXPECT_FALSE(with("-1", "1795860030"));
  EXPECT_FALSE(with("five", "1795860030"));
  EXPECT_FALSE(with("5", "soon"));
  EXPECT_EQ(with("5", "1795859000")->renewed_in, milliseconds(0)) << "a reset in the past";
  const std::string nines(400, '9');
  const auto far = with(nines.c_str(), nines.c_str());
  ASSERT_TRUE(far);
  EXPECT_GT(far->remaining, 0);
  EXPECT_EQ(far->renewed_in, detail::kMaxRateLimitDelay);
}

// A wait of zero is no wait from the headers at all, so that the retry policy's backoff applies:
// a server that says "now" again and again must not get a tight loop of retries.
TEST(RateLimitDelay, AResetThatIsNowOrRetryAfterZeroGivesNoPause) {
  const auto local = system_clock::time_point(seconds(1795860000));
  Headers reset_now;
  reset_now.add("Date", "Sat, 28 Nov 2026 10:00:00 GMT");
  reset_now.add("X-RateLimit-Reset", "1795860000");
  EXPECT_EQ(detail::rate_limit_delay(reset_now, local), std::nullopt);
  Headers retry_after_zero;
  retry_after_zero.add("Retry-After", "0");
  EXPECT_EQ(detail::rate_limit_delay(retry_after_zero, local), std::nullopt);
  Headers one_second;
  one_second.add("Retry-After", "1");
  EXPECT_EQ(detail::rate_limit_delay(one_second, local), milliseconds(1000));
}

// Each header a hostile or broken server could send: the wait is a bounded, positive number or
// nothing, never an overflow that reads as "now".
struct HostileRateLimit {
  const char* name;
  std::vector<std::pair<const char*, const char*>> headers;
  std::optional<milliseconds> expected;
};

TEST(RateLimitDelay, HostileHeadersGiveBoundedWaits) {
  const auto local = system_clock::time_point(seconds(1795860000));
  const milliseconds year = detail::kMaxRateLimitDelay;
  const std::string nines(400, '9');
  const std::vector<HostileRateLimit> cases = {
      {"reset in the year 3000", {{"X-RateLimit-Reset", "32503680000"}}, year},
      {"reset of 20 digits", {{"X-RateLimit-Reset", "99999999999999999999"}}, year},
      {"reset of 400 digits", {{"X-RateLimit-Reset", nines.c_str()}}, year},
      {"negative reset", {{"X-RateLimit-Reset", "-5"}}, std::nullopt},
      {"reset with a fraction", {{"X-RateLimit-Reset", "1795860005.5"}}, std::nullopt},
      {"reset zero", {{"X-RateLimit-Reset", "0"}}, std::nullopt},
      {"empty reset", {{"X-RateLimit-Reset", ""}}, std::nullopt},
      {"Retry-After of 20 digits", {{"Retry-After", "99999999999999999999"}}, year},
      {"Retry-After in the year 3000", {{"Retry-After", "Wed, 01 Jan 3000 00:00:00 GMT"}}, year},
      {"Retry-After negative", {{"Retry-After", "-3"}}, std::nullopt},
      {"Retry-After garbage", {{"Retry-After", "soon"}}, std::nullopt},
      {"Retry-After in the past", {{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}, std::nullopt},
      {"Date in the year 3000, reset now",
       {{"Date", "Wed, 01 Jan 3000 00:00:00 GMT"}, {"X-RateLimit-Reset", "1795860005"}},
       std::nullopt},
      {"Date in the year 0, reset now",
       {{"Date", "Sat, 01 Jan 0000 00:00:00 GMT"}, {"X-RateLimit-Reset", "1795860005"}},
       year},
      {"garbage Date falls back to the local clock",
       {{"Date", "yesterday"}, {"X-RateLimit-Reset", "1795860005"}},
       milliseconds(5000)},
  };
  for (const auto& c : cases) {
    Headers headers;
    for (const auto& [name, value] : c.headers) headers.add(name, value);
    EXPECT_EQ(detail::rate_limit_delay(headers, local), c.expected) << c.name;
  }
}

class RetryLoop : public ::testing::Test {
 protected:
  ClientOptions options(int max_attempts = 4) {
    ClientOptions options;
    options.project = "p";
    options.datasource = "d";
    options.token = "tok";
    options.transport = transport;
    options.clock = clock;
    options.retry.max_attempts = max_attempts;
    options.retry.jitter_seed = 42;
    return options;
  }
  Client make_client(int max_attempts = 4) { return Client(options(max_attempts)); }
  std::vector<Contact> one_contact() { return {Contact("U1")}; }

  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
};

TEST_F(RetryLoop, RetriesServerErrorsAndTransportFailuresThenSucceeds) {
  transport->then_status(500);
  transport->then_failure(TransportFailure::connect);
  transport->then_status(503);
  transport->then_status(202, kAccepted);
  const auto result = make_client().upsert_contacts(one_contact());
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(transport->requests.size(), 4u);
  ASSERT_EQ(clock->sleeps().size(), 3u);
  EXPECT_LT(clock->sleeps()[0], clock->sleeps()[2]);  // 200 ms step, then 800 ms step
}

TEST_F(RetryLoop, NeverRetriesFinalStatuses) {
  for (const int status : {400, 401, 404, 422}) {
    transport->requests.clear();
    transport->then_status(status, R"({"message":"no"})");
    try {
      make_client().upsert_contacts(one_contact());
    } catch (const Error&) {
    }
    EXPECT_EQ(transport->requests.size(), 1u) << status;
  }
  EXPECT_TRUE(clock->sleeps().empty());
}

TEST_F(RetryLoop, GivesUpAfterMaxAttemptsWithTheRightKind) {
  for (int i = 0; i < 3; ++i) transport->then_status(503);
  EXPECT_THROW(make_client(3).stream_info(), ServerError);
  EXPECT_EQ(transport->requests.size(), 3u);

  for (int i = 0; i < 3; ++i) transport->then_status(429);
  EXPECT_THROW(make_client(3).stream_info(), RateLimitedError);

  for (int i = 0; i < 3; ++i) transport->then_failure(TransportFailure::timeout);
  try {
    make_client(3).stream_info();
    FAIL() << "expected a TransportError";
  } catch (const TransportError& error) {
    EXPECT_EQ(error.failure(), TransportFailure::timeout);
    EXPECT_NE(std::string(error.what()).find("stream_info"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("3 attempts"), std::string::npos);
  }
}

TEST_F(RetryLoop, RateLimitWaitIsCapped) {
  Headers headers;
  headers.add("Retry-After", "3600");
  transport->then_status(429, "", headers);
  transport->then_status(202, kAccepted);
  auto client = make_client();
  EXPECT_TRUE(client.upsert_contacts(one_contact()).all_accepted());
  ASSERT_EQ(clock->sleeps().size(), 1u);
  EXPECT_EQ(clock->sleeps()[0], RetryPolicy().max_rate_limit_wait);
}

TEST_F(RetryLoop, DeadlineStopsRetriesEarly) {
  ClientOptions limited = options(100);
  limited.retry.deadline = milliseconds(1000);
  for (int i = 0; i < 100; ++i) transport->then_status(500);
  EXPECT_THROW(Client(limited).stream_info(), ServerError);
  EXPECT_LT(transport->requests.size(), 10u);
  milliseconds slept{0};
  for (const auto s : clock->sleeps()) slept += s;
  EXPECT_LE(slept, milliseconds(1000));
}

TEST_F(RetryLoop, RecordsLatestRateLimitHeaders) {
  Headers headers;
  headers.add("X-RateLimit-Limit", "600");
  headers.add("X-RateLimit-Remaining", "599");
  headers.add("X-RateLimit-Reset", "1795860060");
  transport->then_status(200, R"({"organization":{},"project":{},"datasource":{},"stream":{}})",
                         headers);
  auto client = make_client();
  EXPECT_FALSE(client.rate_limit().limit.has_value());
  client.stream_info();
  const RateLimit limit = client.rate_limit();
  EXPECT_EQ(limit.limit, 600);
  EXPECT_EQ(limit.remaining, 599);
  EXPECT_EQ(limit.reset, system_clock::time_point(seconds(1795860060)));
}

TEST_F(RetryLoop, ServerErrorOnLaterRequestReportsEveryItem) {
  std::string first_answer = R"({"entity":{"items":[)";
  for (int i = 0; i < 100; ++i) {
    first_answer += (i ? "," : "") + std::string(R"({"status":"success","_user_id":"U)") +
                    std::to_string(i) + "\"}";
  }
  first_answer += "]}}";
  transport->then_status(202, first_answer);
  transport->then_status(500);
  std::vector<Contact> contacts;
  for (int i = 0; i < 250; ++i) contacts.emplace_back("U" + std::to_string(i));
  try {
    make_client(1).upsert_contacts(contacts);
    FAIL() << "expected a ServerError";
  } catch (const ServerError& error) {
    const BatchResult* partial = error.partial_result();
    ASSERT_NE(partial, nullptr);
    ASSERT_EQ(partial->size(), 250u);
    EXPECT_EQ(partial->count(ItemStatus::accepted), 100u);
    EXPECT_EQ(partial->count(ItemStatus::unknown), 100u);  // sent; the server may have them
    EXPECT_EQ(partial->count(ItemStatus::not_sent), 50u);  // never sent
    EXPECT_EQ((*partial)[249].id, "U249");
    EXPECT_EQ((*partial)[150].status, ItemStatus::unknown);
  }
}

TEST_F(RetryLoop, ConnectFailureMarksItemsNotSent) {
  transport->then_failure(TransportFailure::connect);
  try {
    make_client(1).upsert_contacts(one_contact());
    FAIL() << "expected a TransportError";
  } catch (const TransportError& error) {
    ASSERT_NE(error.partial_result(), nullptr);
    EXPECT_EQ((*error.partial_result())[0].status, ItemStatus::not_sent);
  }
}

}  // namespace
}  // namespace instasent
