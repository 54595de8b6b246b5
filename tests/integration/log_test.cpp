// SPDX-License-Identifier: Apache-2.0
// ClientOptions::on_log: what a call logs at each level (every request and answer at debug,
// retries at info, rate-limit pauses and failed exchanges at warning), that nothing is built below
// the level, and that no record holds the token or a request's body.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "integration/client_fixture.hpp"
#include "support/log_recorder.hpp"

namespace instasent::testing {
namespace {

using std::chrono::milliseconds;

class Log : public ClientTest {
 protected:
  Client LoggingClient(LogLevel level, int max_attempts = 5) {
    return MakeClient([&](ClientOptions& o) {
      o.on_log = log_.handler();
      o.log_level = level;
      o.retry.max_attempts = max_attempts;
    });
  }
  LogRecorder log_;
};

TEST_F(Log, AtDebugEveryRequestAndItsAnswerWithTheRequestId) {
  const Client client = LoggingClient(LogLevel::debug);
  client.stream_info();
  const std::vector<Logged> records = log_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event, LogEvent::request_sent);
  EXPECT_EQ(records[0].level, LogLevel::debug);
  EXPECT_EQ(records[0].operation, "stream_info");
  EXPECT_EQ(records[0].attempt, 1);
  EXPECT_EQ(records[1].event, LogEvent::request_answered);
  EXPECT_EQ(records[1].http_status, 200);
  EXPECT_EQ(records[1].request_id, server_.last_request().response_request_id);
  EXPECT_FALSE(records[1].request_id.empty());
  EXPECT_EQ(records[1].line.rfind("debug request_answered operation=stream_info status=200 "
                                  "attempt=1",
                                  0),
            0u)
      << records[1].line;

  // A batch write says how many items each request holds.
  client.upsert_contacts({Contact("U1"), Contact("U2"), Contact("U3")});
  EXPECT_EQ(log_.records()[2].items, 3u);
  EXPECT_EQ(log_.records()[2].operation, "upsert_contacts");
}

TEST_F(Log, AtInfoASuccessfulCallLogsNothingAndARetryIsLoggedWithItsWait) {
  const Client client = LoggingClient(LogLevel::info);
  client.stream_info();
  EXPECT_TRUE(log_.records().empty());

  server_.enqueue(CannedResponse::json(503, {{"message", "busy"}}));
  server_.enqueue(CannedResponse::json(429, {{"message", "slow down"}}).header("Retry-After", "7"));
  client.stream_info();
  const std::vector<Logged> records = log_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event, LogEvent::retry_scheduled);
  EXPECT_EQ(records[0].level, LogLevel::info);
  EXPECT_EQ(records[0].http_status, 503);
  EXPECT_EQ(records[0].attempt, 1);
  EXPECT_EQ(records[1].event, LogEvent::rate_limited);
  EXPECT_EQ(records[1].level, LogLevel::warning);
  EXPECT_EQ(records[1].http_status, 429);
  EXPECT_EQ(records[1].attempt, 2);
  EXPECT_EQ(records[1].wait, milliseconds(7'000));
  // The waits logged are the waits slept.
  const std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(records[0].wait, sleeps[0]);
  EXPECT_EQ(records[1].wait, sleeps[1]);
}

TEST_F(Log, AtWarningOnlyPausesAndFailedExchanges) {
  const ClosedPort closed;
  const Client client = MakeClient([&](ClientOptions& o) {
    o.base_url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/v1";
    o.retry.max_attempts = 2;
    o.on_log = log_.handler();
    o.log_level = LogLevel::warning;
  });
  EXPECT_THROW(client.stream_info(), TransportError);
  const std::vector<Logged> records = log_.records();
  ASSERT_EQ(records.size(), 2u);  // two failed attempts; the retry between them is info
  for (const Logged& r : records) {
    EXPECT_EQ(r.event, LogEvent::request_failed);
    EXPECT_EQ(r.level, LogLevel::warning);
    EXPECT_NE(r.message.find("could not connect"), std::string::npos) << r.message;
  }
  EXPECT_EQ(records[1].attempt, 2);
}

TEST_F(Log, NoRecordHoldsTheTokenOrABody) {
  // The server echoes the token in an answer header and an error message; the items carry a
  // marker in their attributes.
  server_.enqueue(CannedResponse::json(503, {{"message", std::string("no ") + kTestToken}})
                      .header("X-Request-Id", std::string("id-") + kTestToken));
  const Client client = LoggingClient(LogLevel::debug);
  client.upsert_contacts({Contact("U1").attribute("note", "BODY-MARKER")});
  ASSERT_GE(log_.records().size(), 4u);
  for (const Logged& r : log_.records()) {
    EXPECT_EQ(r.line.find(kTestToken), std::string::npos) << r.line;
    EXPECT_EQ(r.line.find("BODY-MARKER"), std::string::npos) << r.line;
  }
}

TEST_F(Log, AHandlerThatThrowsDoesNotChangeTheCall) {
  const Client client = MakeClient([](ClientOptions& o) {
    o.log_level = LogLevel::debug;
    o.on_log = [](const LogRecord&) { throw std::runtime_error("log sink broken"); };
  });
  EXPECT_NO_THROW(client.stream_info());
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST(LogFormat, OneLineWithOnlyTheFieldsSet) {
  LogRecord record;
  record.level = LogLevel::warning;
  record.event = LogEvent::rate_limited;
  record.operation = "record_event";
  record.http_status = 429;
  record.attempt = 3;
  record.items = 100;
  record.wait = milliseconds(1'500);
  record.request_id = "r-1";
  record.message = "slow down";
  EXPECT_EQ(format(record),
            "warning rate_limited operation=record_event status=429 attempt=3 items=100 "
            "wait_ms=1500 request_id=r-1: slow down");
  EXPECT_EQ(format(LogRecord{}), "info request_sent");
  EXPECT_STREQ(to_string(LogLevel::error), "error");
  EXPECT_STREQ(to_string(LogEvent::sending_stopped), "sending_stopped");
}

}  // namespace
}  // namespace instasent::testing
