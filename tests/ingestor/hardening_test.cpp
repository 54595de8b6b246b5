// SPDX-License-Identifier: Apache-2.0
// The Ingestor against what could sink it: one bad item in a batch the server refuses as a whole,
// failed items holding back healthy ones, failures no retry can mend, hostile answers, a transport
// that runs out of memory, and options or ids that cannot work.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ingestor/ingestor_support.hpp"
#include "support/raw_server.hpp"

namespace instasent::ingestor_testing {
namespace {

using testing::RawConnection;
using testing::RawServer;
using testing::refuse_batches_with_bad_items;

// --- One bad item cannot sink its batch ----------------------------------------------------------

TEST(IngestorHardening, AnItemOverTheServersBodyLimitIsRejectedAloneNotItsBatch) {
  Config config = test_config();
  config.max_body_bytes = 16u << 10;  // the server refuses bodies over 16 KiB with 413
  RunningEmulator server(config);
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.flush_interval = milliseconds(3'600'000);  // one batch of 100, sent by flush
  {
    Ingestor ingestor(client_for(server.port()), options);
    for (int i = 0; i < 100; ++i) {
      Contact contact("U" + std::to_string(i));
      if (i == 37) contact.attribute("note", std::string(20'000, 'x'));  // alone over the limit
      ASSERT_TRUE(ingestor.add(std::move(contact)));
    }
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
    const IngestorStats stats = ingestor.stats();
    EXPECT_EQ(stats.delivered, 99u);
    EXPECT_EQ(stats.rejected, 1u);
    // Halving down to the culprit: about 2 log2(100) requests, never one per item.
    EXPECT_LE(stats.requests, 16u);
    EXPECT_EQ(stats.retries, 0u);  // a split is not a retry: nothing failed
  }
  std::lock_guard<std::mutex> lock(seen.mutex);
  const ItemOutcome& culprit = seen.by_key.at("c:U37").at(0);
  EXPECT_EQ(culprit.state, FinalState::rejected);
  EXPECT_EQ(culprit.http_status, 413);
  EXPECT_NE(culprit.errors.at("").at(0).find("413"), std::string::npos);
  EXPECT_EQ(server.state()["contacts"].size(), 99u);
}

TEST(IngestorHardening, BadItemsARefused400IsolatesAreRejectedAndTheRestDelivered) {
  std::atomic<int> batches{0};
  RawServer server(refuse_batches_with_bad_items(&batches));
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.flush_interval = milliseconds(3'600'000);
  options.retry.max_attempts = 1;  // splitting must not spend attempts
  Ingestor ingestor(client_for(server.port()), options);
  for (int i = 0; i < 100; ++i) {
    const bool bad = i == 3 || i == 64 || i == 99;
    ASSERT_TRUE(ingestor.add(Contact((bad ? "BAD" : "U") + std::to_string(i))));
  }
  ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  const IngestorStats stats = ingestor.stats();
  EXPECT_EQ(stats.delivered, 97u);
  EXPECT_EQ(stats.rejected, 3u);
  EXPECT_EQ(stats.dropped_retries_exhausted, 0u);
  EXPECT_LE(batches.load(), 45);  // three culprits: at most 3 paths of halvings
  std::lock_guard<std::mutex> lock(seen.mutex);
  for (const char* key : {"c:BAD3", "c:BAD64", "c:BAD99"}) {
    const ItemOutcome& outcome = seen.by_key.at(key).at(0);
    EXPECT_EQ(outcome.state, FinalState::rejected) << key;
    EXPECT_EQ(outcome.http_status, 400) << key;
    EXPECT_NE(outcome.errors.at("").at(0).find("Malformed item"), std::string::npos) << key;
  }
}

// A 422 speaks of each item: the ones it accepts are delivered, only the ones it refuses are
// rejected, each with its own errors.
TEST(IngestorHardening, A422RejectsOnlyTheItemsItRefuses) {
  RawServer server([](RawConnection& connection) {
    const std::string& request = connection.request();
    const json items = json::parse(request.substr(request.find("\r\n\r\n") + 4), nullptr, false);
    json answer = {{"entity", {{"items", json::array()}}}};
    for (const json& item : items) {
      const std::string id = item.value("_user_id", "");
      if (id.rfind("BAD", 0) == 0) {
        answer["entity"]["items"].push_back(
            {{"status", "error"}, {"_user_id", id}, {"errors", {{"email", {"is invalid"}}}}});
      } else {
        answer["entity"]["items"].push_back({{"status", "success"}, {"_user_id", id}});
      }
    }
    connection.write(RawServer::answer(422, answer.dump()));
  });
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.flush_interval = milliseconds(3'600'000);
  {
    Ingestor ingestor(client_for(server.port()), options);
    for (const char* id : {"U1", "BAD2", "U3", "BAD4"}) ASSERT_TRUE(ingestor.add(Contact(id)));
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
    EXPECT_EQ(ingestor.stats().delivered, 2u);
    EXPECT_EQ(ingestor.stats().rejected, 2u);
    EXPECT_EQ(ingestor.stats().requests, 1u);
  }
  std::lock_guard<std::mutex> lock(seen.mutex);
  for (const char* key : {"c:U1", "c:U3"}) {
    EXPECT_EQ(seen.by_key.at(key).at(0).state, FinalState::delivered) << key;
  }
  for (const char* key : {"c:BAD2", "c:BAD4"}) {
    const ItemOutcome& outcome = seen.by_key.at(key).at(0);
    EXPECT_EQ(outcome.state, FinalState::rejected) << key;
    EXPECT_EQ(outcome.http_status, 422) << key;
    EXPECT_EQ(outcome.errors.at("email"), std::vector<std::string>{"is invalid"}) << key;
  }
}

// An item fits when "[" + item + "]" fits batch.max_bytes: exactly that size is sent, one byte
// more is refused at add, naming the limit.
TEST(IngestorHardening, AnItemOfExactlyTheLargestSizeIsSentAndOneByteMoreIsRefused) {
  RunningEmulator server(test_config());
  IngestorOptions options;
  options.batch.max_bytes = 1'000;
  const auto contact_of_size = [](const std::string& id, std::size_t size) {
    Contact contact(id);
    contact.attribute("note", "");
    const std::size_t bare = contact.to_json().size();
    contact.attribute("note", std::string(size - bare, 'x'));
    EXPECT_EQ(contact.to_json().size(), size);
    return contact;
  };
  Ingestor ingestor(client_for(server.port()), options);
  EXPECT_TRUE(ingestor.add(contact_of_size("FITS", 998)));
  const AddResult too_large = ingestor.add(contact_of_size("OVER", 999));
  EXPECT_EQ(too_large.status, AddStatus::invalid);
  EXPECT_NE(too_large.reason.find("batch.max_bytes"), std::string::npos) << too_large.reason;
  ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  EXPECT_EQ(ingestor.stats().delivered, 1u);
  EXPECT_EQ(ingestor.stats().bytes_sent, 1'000u) << "the one request's body filled max_bytes";
  EXPECT_EQ(server.state()["contacts"].size(), 1u);
}

// --- Failed items wait alone ---------------------------------------------------------------------

TEST(IngestorHardening, AFailedBatchBacksOffAloneWhileNewItemsFlow) {
  Config config = test_config();
  config.faults.script = {emulator::Fault::server_error};  // the first request gets a 500
  RunningEmulator server(config);
  std::mutex mutex;
  std::vector<std::string> delivered_in_order;
  IngestorOptions options;
  options.retry.initial_backoff = milliseconds(60'000);  // the failed batch waits 30-60 s
  options.retry.max_backoff = milliseconds(60'000);
  options.batch.max_items = 10;
  options.on_outcome = [&](const ItemOutcome& outcome) {
    std::lock_guard<std::mutex> lock(mutex);
    if (outcome.state == FinalState::delivered) delivered_in_order.push_back(outcome.user_id);
  };
  Ingestor ingestor(client_for(server.port()), options);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ingestor.add(Contact("first" + std::to_string(i))));
  // The first batch fails; these, added after, are delivered while it waits.
  while (ingestor.stats().requests == 0 || ingestor.stats().in_flight > 0) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(ingestor.add(Contact("later" + std::to_string(i))));
  const auto deadline = steady_clock::now() + milliseconds(20'000);
  while (ingestor.stats().delivered < 50 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  const IngestorStats stats = ingestor.stats();
  EXPECT_EQ(stats.delivered, 50u);
  EXPECT_EQ(stats.queued, 10u);  // the failed batch, in its backoff
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const std::string& user : delivered_in_order) EXPECT_EQ(user.rfind("later", 0), 0u);
  }
  EXPECT_EQ(ingestor.close(milliseconds(0)).size(), 10u);
}

TEST(IngestorHardening, AServerThatIsDownGetsFewRetriesWithinTheBudget) {
  const emulator::testing::RefusingPort down;
  IngestorOptions options;
  options.retry.initial_backoff = milliseconds(1);
  options.retry.max_backoff = milliseconds(1);  // no backoff to speak of: only the budget limits
  options.retry.max_attempts = 1'000;
  options.retry_budget = 0;
  options.batch.max_items = 1;
  Ingestor ingestor(client_for(down.port()), options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
  std::this_thread::sleep_for(milliseconds(1'000));
  const IngestorStats stats = ingestor.stats();
  // 10 to start with, then 10 a second: a budget, not a storm (each attempt fails in well under
  // a millisecond, so without it there would be thousands).
  EXPECT_GE(stats.retries, 10u);
  EXPECT_LE(stats.retries, 30u);
  EXPECT_EQ(stats.requests, stats.retries + 5);
  ingestor.close(milliseconds(0));
}

// --- Failures no retry can mend ------------------------------------------------------------------

TEST(IngestorHardening, AnAnswerThatIsNotHttpDropsTheItemsAtTheFirstAttempt) {
  RawServer server([](RawConnection& connection) { connection.write("SSH-2.0-OpenSSH_9.2\r\n"); });
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.retry.max_attempts = 10;
  Ingestor ingestor(client_for(server.port()), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  ASSERT_TRUE(ingestor.add(Event("U1", "E1", "purchase")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  EXPECT_EQ(ingestor.stats().dropped_unrecoverable, 2u);
  EXPECT_EQ(ingestor.stats().requests, 2u);  // one each, no retry
  std::lock_guard<std::mutex> lock(seen.mutex);
  const ItemOutcome& outcome = seen.by_key.at("c:U1").at(0);
  EXPECT_EQ(outcome.drop_reason, DropReason::unrecoverable);
  EXPECT_NE(outcome.message.find("not valid HTTP"), std::string::npos) << outcome.message;
}

TEST(IngestorHardening, AnAnswerOverTheSizeLimitDropsTheItemsAtTheFirstAttempt) {
  RawServer server([](RawConnection& connection) {
    connection.write("HTTP/1.1 202 Accepted\r\nContent-Length: 100000000000\r\n\r\n");
  });
  IngestorOptions options;
  options.retry.max_attempts = 10;
  Ingestor ingestor(client_for(server.port()), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  EXPECT_EQ(ingestor.stats().dropped_unrecoverable, 1u);
  EXPECT_EQ(ingestor.stats().requests, 1u);
}

// --- Hostile answers and memory ------------------------------------------------------------------

TEST(IngestorHardening, ADeeplyNestedAnswerLeavesItemsUnsettledNeverCrashes) {
  RawServer server([](RawConnection& connection) {
    connection.write(RawServer::answer(202, std::string(2'000'000, '[')));
  });
  IngestorOptions options;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = options.retry.max_backoff = milliseconds(1);
  Ingestor ingestor(client_for(server.port()), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  EXPECT_EQ(ingestor.stats().dropped_retries_exhausted, 1u);
  EXPECT_EQ(server.requests(), 2u);
}

// A transport that runs out of memory on every exchange (as libcurl's buffers could).
class OutOfMemoryTransport final : public Transport {
 public:
  HttpResponse send(const HttpRequest&) override {
    ++calls;
    throw std::bad_alloc();
  }
  std::atomic<int> calls{0};
};

TEST(IngestorHardening, OutOfMemoryInATransportNeverTakesASenderDown) {
  const emulator::testing::RefusingPort unused;
  auto transport = std::make_shared<OutOfMemoryTransport>();
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = options.retry.max_backoff = milliseconds(1);
  Ingestor ingestor(client_for(unused.port(), transport), options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  EXPECT_EQ(ingestor.stats().dropped_retries_exhausted, 3u);
  EXPECT_GE(transport->calls.load(), 3);
  EXPECT_TRUE(ingestor.add(Contact("still-alive")));
}

TEST(IngestorHardening, OutOfMemoryInATransportIsATransportErrorForTheClient) {
  ClientOptions options;
  options.project = "p";
  options.datasource = "d";
  options.token = "t";
  options.transport = std::make_shared<OutOfMemoryTransport>();
  options.retry.max_attempts = 1;
  const Client client(options);
  try {
    client.stream_info();
    ADD_FAILURE() << "nothing thrown";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.failure(), TransportFailure::other);
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
}

// --- Ids and options -----------------------------------------------------------------------------

TEST(IngestorHardening, DeletesOfIdsThatCannotBeAPathAreRefusedAtAdd) {
  const emulator::testing::RefusingPort unused;
  Ingestor ingestor(client_for(unused.port()), IngestorOptions{});
  for (const std::string& id : {std::string("."), std::string(".."), std::string(),
                                std::string(kMaxIdBytes + 1, 'u'), std::string("\xFF")}) {
    const AddResult result = ingestor.delete_contact(id);
    EXPECT_EQ(result.status, AddStatus::invalid) << id.size();
    EXPECT_EQ(result.reason.rfind("user id ", 0), 0u) << result.reason;
  }
  EXPECT_EQ(ingestor.stats().dropped_invalid, 5u);
  EXPECT_EQ(ingestor.stats().requests, 0u);
}

TEST(IngestorHardening, OptionsThatCannotWorkAreRefusedNamingTheOption) {
  const emulator::testing::RefusingPort unused;
  const Client client = client_for(unused.port());
  struct Case {
    const char* field;
    std::function<void(IngestorOptions&)> spoil;
  };
  const std::vector<Case> cases = {
      {"queue.max_items", [](IngestorOptions& o) { o.queue.max_items = 0; }},
      {"queue.max_bytes", [](IngestorOptions& o) { o.queue.max_bytes = 10; }},
      {"queue.block_timeout", [](IngestorOptions& o) { o.queue.block_timeout = milliseconds(-1); }},
      {"batch.max_items", [](IngestorOptions& o) { o.batch.max_items = 0; }},
      {"batch.max_items", [](IngestorOptions& o) { o.batch.max_items = 101; }},
      {"batch.max_bytes", [](IngestorOptions& o) { o.batch.max_bytes = 10; }},
      {"flush_interval", [](IngestorOptions& o) { o.flush_interval = milliseconds(-1); }},
      {"max_in_flight", [](IngestorOptions& o) { o.max_in_flight = 0; }},
      {"max_in_flight", [](IngestorOptions& o) { o.max_in_flight = 65; }},
      {"retry.max_attempts", [](IngestorOptions& o) { o.retry.max_attempts = 0; }},
      {"retry.initial_backoff",
       [](IngestorOptions& o) { o.retry.initial_backoff = milliseconds(-1); }},
      {"retry.max_backoff", [](IngestorOptions& o) { o.retry.max_backoff = milliseconds(1); }},
      {"retry.multiplier", [](IngestorOptions& o) { o.retry.multiplier = 0.5; }},
      {"retry.max_rate_limit_wait",
       [](IngestorOptions& o) { o.retry.max_rate_limit_wait = milliseconds(-1); }},
      {"retry_budget", [](IngestorOptions& o) { o.retry_budget = -0.1; }},
      {"retry_budget", [](IngestorOptions& o) { o.retry_budget = std::nan(""); }},
      {"shutdown_deadline", [](IngestorOptions& o) { o.shutdown_deadline = milliseconds(-1); }},
      {"spool.max_bytes",
       [](IngestorOptions& o) {
         o.spool.directory = "/nonexistent/never-created";
         o.spool.max_bytes = 1000;
       }},
  };
  for (const Case& c : cases) {
    IngestorOptions options;
    c.spoil(options);
    try {
      Ingestor ingestor(client, options);
      ADD_FAILURE() << c.field << " was accepted";
    } catch (const InvalidInputError& e) {
      EXPECT_EQ(e.field(), c.field);
    }
  }
}

}  // namespace
}  // namespace instasent::ingestor_testing
