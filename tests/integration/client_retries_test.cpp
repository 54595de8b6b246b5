// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client against the in-process TestServer: waits on 429 (reset,
// Retry-After, the cap), retries of server errors with backoff, and the statuses never retried.
// Retry waits go through a fake clock, so they cost no real time.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "integration/client_fixture.hpp"

namespace instasent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Rate limiting

// What the server's clock shows in these tests: years ahead of the client's (fake) clock, so that
// only the Date header makes a reset meaningful.
const system_clock::time_point kServerNow(seconds(1935748800));

// A 429 dated kServerNow.
CannedResponse RateLimitedAtServerNow() {
  return CannedResponse::empty(429).header("Date", TestServer::http_date(kServerNow));
}

// A 429 dated kServerNow that says no request is left until `reset_in` after it.
CannedResponse NoneLeftUntil(seconds reset_in) {
  return RateLimitedAtServerNow()
      .header("X-RateLimit-Remaining", "0")
      .header("X-RateLimit-Reset",
              std::to_string(TestServer::unix_seconds(kServerNow) + reset_in.count()));
}

TEST_F(ClientTest, RateLimited429WaitsUntilResetMeasuredAgainstDateHeader) {
  server_.set_server_time(kServerNow);
  server_.enqueue(NoneLeftUntil(seconds(7))
                      .header("X-RateLimit-Limit", "60")
                      .header("X-Request-Id", "req-429"));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(MakeContacts(2));

  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GE(sleeps[0], milliseconds(7'000));
  EXPECT_LE(sleeps[0], milliseconds(8'000));
  // Both attempts carried the same batch.
  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].json_body(), posts[1].json_body());
}

TEST_F(ClientTest, RateLimited429HonoursRetryAfter) {
  server_.set_server_time(kServerNow);
  server_.enqueue(NoneLeftUntil(seconds(30)).header("Retry-After", "3"));
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_EQ(info.raw, TestServer::stream_info_body());
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(clock_->sleeps(), std::vector<milliseconds>{milliseconds(3'000)});
}

TEST_F(ClientTest, RateLimitWaitIsCappedByMaxRateLimitWait) {
  server_.set_server_time(kServerNow);
  server_.enqueue(NoneLeftUntil(seconds(3600)));
  Client client =
      MakeClient([](ClientOptions& o) { o.retry.max_rate_limit_wait = milliseconds(5'000); });
  BatchResult result = client.upsert_contacts(MakeContacts(1));
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GT(sleeps[0], milliseconds(0));
  EXPECT_LE(sleeps[0], milliseconds(5'000));
}

TEST_F(ClientTest, RateLimited429HonoursRetryAfterAsHttpDate) {
  server_.enqueue(RateLimitedAtServerNow().header("Retry-After",
                                                  TestServer::http_date(kServerNow + seconds(5))));
  Client client = MakeClient();
  client.stream_info();
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(clock_->sleeps(), std::vector<milliseconds>{milliseconds(5'000)});
}

TEST_F(ClientTest, RateLimitResetInThePastFallsBackToBackoffNotATightLoop) {
  server_.enqueue(NoneLeftUntil(seconds(-10)));
  Client client = MakeClient();
  client.stream_info();
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GE(sleeps[0], milliseconds(100));  // half of initial_backoff at least
  EXPECT_LE(sleeps[0], milliseconds(200));
}

TEST_F(ClientTest, RateLimitedUntilMaxAttemptsThrowsRateLimitedError) {
  for (int i = 1; i <= 3; ++i) {
    server_.enqueue(CannedResponse::empty(429)
                        .header("Retry-After", "1")
                        .header("X-Request-Id", "req-429-" + std::to_string(i)));
  }
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 3; });
  std::vector<Contact> contacts = MarkedContacts(2);
  auto error = Catch<RateLimitedError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::rate_limited);
  EXPECT_EQ(error->http_status(), 429);
  EXPECT_EQ(error->request_id(), "req-429-3");
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(clock_->sleeps(),
            (std::vector<milliseconds>{milliseconds(1'000), milliseconds(1'000)}));
  if (const BatchResult* partial = error->partial_result()) {
    ASSERT_EQ(partial->size(), 2u);
    EXPECT_EQ(partial->count(ItemStatus::not_sent), 2u);
  }
}

TEST_F(ClientTest, RateLimitReflectsTheLatestHeaders) {
  Client client = MakeClient();
  Client copy = client;
  RateLimit before = client.rate_limit();
  EXPECT_FALSE(before.limit.has_value());
  EXPECT_FALSE(before.remaining.has_value());
  EXPECT_FALSE(before.reset.has_value());

  server_.enqueue(CannedResponse::json(200, TestServer::stream_info_body())
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "119")
                      .header("X-RateLimit-Reset", "1900000000"));
  client.stream_info();
  RateLimit first = client.rate_limit();
  EXPECT_EQ(first.limit, std::optional<long>(120));
  EXPECT_EQ(first.remaining, std::optional<long>(119));
  EXPECT_EQ(first.reset,
            std::optional<system_clock::time_point>(system_clock::time_point(seconds(1900000000))));

  // A copy shares what it sees; a 429 followed by a success leaves the success's values.
  server_.enqueue(CannedResponse::empty(429)
                      .header("Retry-After", "1")
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "0")
                      .header("X-RateLimit-Reset", "1900000030"));
  server_.enqueue(CannedResponse::json(200, TestServer::stream_info_body())
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "118")
                      .header("X-RateLimit-Reset", "1900000060"));
  copy.stream_info();
  for (const Client* c : {&client, &copy}) {
    RateLimit latest = c->rate_limit();
    EXPECT_EQ(latest.limit, std::optional<long>(120));
    EXPECT_EQ(latest.remaining, std::optional<long>(118));
    EXPECT_EQ(latest.reset, std::optional<system_clock::time_point>(
                                system_clock::time_point(seconds(1900000060))));
  }
}

// ---------------------------------------------------------------------------------------------
// Server errors and retries

TEST_F(ClientTest, ServerErrorsAreRetriedWithExponentialBackoff) {
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal error"}}));
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal error"}}));
  Client client = MakeClient();
  std::vector<Contact> contacts = MakeContacts(3);
  BatchResult result = client.upsert_contacts(contacts);

  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 3u);
  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 3u);
  for (const RecordedRequest& r : posts) EXPECT_EQ(r.json_body(), ExpectedBody(contacts));
  // Equal jitter: [half, full] of 200 ms, then of 400 ms.
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], milliseconds(100));
  EXPECT_LE(sleeps[0], milliseconds(200));
  EXPECT_GE(sleeps[1], milliseconds(200));
  EXPECT_LE(sleeps[1], milliseconds(400));
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  EXPECT_EQ(result.requests()[0].request_id, posts[2].response_request_id);
}

TEST_F(ClientTest, ServerErrorUntilMaxAttemptsThrowsServerError) {
  for (int i = 1; i <= 3; ++i) {
    server_.enqueue(CannedResponse::json(503, {{"message", "Unavailable"}})
                        .header("X-Request-Id", "req-503-" + std::to_string(i)));
  }
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 3; });
  auto error = Catch<ServerError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::server_error);
  EXPECT_EQ(error->http_status(), 503);
  EXPECT_EQ(error->request_id(), "req-503-3");
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(clock_->sleeps().size(), 2u);
}

TEST_F(ClientTest, MaxAttemptsOneDisablesRetries) {
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 1; });
  auto error = Catch<ServerError>([&] { client.upsert_contacts(MakeContacts(1)); });
  ASSERT_TRUE(error);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, OtherClientErrorsAreBadRequestErrorsAndNotRetried) {
  for (int status : {405, 409, 413}) {
    SCOPED_TRACE(status);
    server_.clear_requests();
    server_.enqueue(CannedResponse::json(status, {{"message", "nope"}}));
    Client client = MakeClient();
    auto error = Catch<BadRequestError>([&] { client.upsert_contacts(MakeContacts(1)); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::bad_request);
    EXPECT_EQ(error->http_status(), status);
    EXPECT_EQ(server_.request_count(), 1u);
  }
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, RetriesStopAtTheDeadline) {
  server_.set_handler([](const RecordedRequest&) {
    return std::optional<CannedResponse>(CannedResponse::json(500, {{"message", "down"}}));
  });
  Client client = MakeClient([](ClientOptions& o) {
    o.retry.max_attempts = 50;
    o.retry.initial_backoff = milliseconds(400);
    o.retry.deadline = milliseconds(1'000);
  });
  auto error = Catch<ServerError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 500);
  EXPECT_LE(clock_->total_slept(), milliseconds(1'000));
  EXPECT_LT(server_.request_count(), 50u);
  EXPECT_GE(server_.request_count(), 2u);
}

TEST_F(ClientTest, NonRetryableStatusesAreSentOnce) {
  Client client = MakeClient();
  for (int status : {400, 401, 404, 422}) {
    SCOPED_TRACE("status " + std::to_string(status));
    server_.clear_requests();
    clock_->clear_sleeps();
    json body = status == 422 ? EntityBody({{{"status", "error"},
                                             {"_user_id", "user-000"},
                                             {"errors", {{"_email", {"Invalid format"}}}}}})
                              : json{{"message", "refused"}};
    server_.enqueue(CannedResponse::json(status, body));
    // Should the client retry, the retry would get the default 202 and not throw.
    try {
      BatchResult result = client.upsert_contacts(MakeContacts(1));
      EXPECT_EQ(status, 422) << "no error thrown";
      EXPECT_EQ(result.count(ItemStatus::rejected), 1u);
    } catch (const Error& e) {
      ExpectNoSecrets(e);
      EXPECT_NE(status, 422) << "422 must be returned, not thrown: " << e.what();
      EXPECT_EQ(e.http_status(), status);
    }
    EXPECT_EQ(server_.request_count(), 1u);
    EXPECT_TRUE(clock_->sleeps().empty());
    EXPECT_EQ(server_.pending_responses(), 0u);

    if (status != 422) {
      server_.clear_requests();
      server_.enqueue(CannedResponse::json(status, {{"message", "refused"}}));
      try {
        client.stream_info();
        ADD_FAILURE() << "stream_info did not throw";
      } catch (const Error& e) {
        ExpectNoSecrets(e);
        EXPECT_EQ(e.http_status(), status);
      }
      EXPECT_EQ(server_.request_count(), 1u);
      EXPECT_TRUE(clock_->sleeps().empty());
    }
  }
}

}  // namespace
}  // namespace instasent::testing
