// SPDX-License-Identifier: Apache-2.0
// What an Ingestor logs through ClientOptions::on_log: a retry with its items and wait, the stop
// after a 401 once, each dropped item, and the items recovered from a spool.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "ingestor/ingestor_support.hpp"
#include "support/log_recorder.hpp"
#include "support/raw_server.hpp"
#include "support/scratch_dir.hpp"

namespace instasent::ingestor_testing {
namespace {

using instasent::testing::Logged;
using instasent::testing::LogRecorder;
using instasent::testing::RawConnection;
using instasent::testing::RawServer;

TEST(IngestorLog, ARetryIsLoggedWithItsItemsAndWait) {
  std::atomic<int> requests{0};
  const auto accept = instasent::testing::refuse_batches_with_bad_items();
  RawServer server([&](RawConnection& connection) {
    if (requests++ == 0) {
      connection.write(RawServer::answer(503, R"({"message":"busy"})"));
    } else {
      accept(connection);
    }
  });
  LogRecorder log;
  IngestorOptions options;
  options.retry.initial_backoff = milliseconds(50);
  options.retry.max_backoff = milliseconds(50);
  options.max_in_flight = 1;
  options.flush_interval = milliseconds(3'600'000);  // one batch, at flush
  Ingestor ingestor(client_with(server.port(),
                                [&](ClientOptions& o) {
                                  o.base_url = server.base_url();
                                  o.on_log = log.handler();
                                }),
                    options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
  ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  EXPECT_EQ(ingestor.stats().delivered, 5u);
  const std::vector<Logged> records = log.records();
  ASSERT_EQ(records.size(), 1u) << "info: only the retry";
  EXPECT_EQ(records[0].event, LogEvent::retry_scheduled);
  EXPECT_EQ(records[0].level, LogLevel::info);
  EXPECT_EQ(records[0].operation, "upsert_contact");
  EXPECT_EQ(records[0].http_status, 503);
  EXPECT_EQ(records[0].attempt, 1);
  EXPECT_EQ(records[0].items, 5u);
  EXPECT_LE(records[0].wait, milliseconds(50));
  // The stats count the same wait.
  const IngestorStats stats = ingestor.stats();
  EXPECT_GE(stats.retry_wait, records[0].wait);
  EXPECT_LE(stats.retry_wait, milliseconds(50));
  EXPECT_EQ(stats.rate_limit_wait, milliseconds(0));
}

// A wrong token: one error record for the stop, a warning for each item dropped; the next
// ingestor on the spool logs what it recovered.
TEST(IngestorLog, TheStopAfterA401EachDropAndTheSpoolRecovery) {
  RunningEmulator server;
  test_support::ScratchDir spool("instasent-log");
  LogRecorder refused;
  IngestorOptions options;
  options.spool.directory = spool.path();
  options.flush_interval = milliseconds(3'600'000);
  {
    Ingestor ingestor(client_with(server.port(),
                                  [&](ClientOptions& o) {
                                    o.token = "wrong";
                                    o.on_log = refused.handler();
                                    o.log_level = LogLevel::warning;
                                  }),
                      options);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  }
  const std::vector<Logged> stops = refused.of(LogEvent::sending_stopped);
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].level, LogLevel::error);
  EXPECT_EQ(stops[0].http_status, 401);
  const std::vector<Logged> drops = refused.of(LogEvent::item_dropped);
  ASSERT_EQ(drops.size(), 3u);
  for (const Logged& drop : drops) {
    EXPECT_EQ(drop.level, LogLevel::warning);
    EXPECT_EQ(drop.items, 1u);
    EXPECT_EQ(drop.message.rfind("unauthorized: ", 0), 0u) << drop.message;
  }
  EXPECT_EQ(refused.records().size(), 4u);

  LogRecorder recovered;
  Ingestor again(
      client_with(server.port(), [&](ClientOptions& o) { o.on_log = recovered.handler(); }),
      options);
  ASSERT_TRUE(again.flush(milliseconds(20'000)));
  const std::vector<Logged> records = recovered.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].event, LogEvent::spool_recovered);
  EXPECT_EQ(records[0].items, 3u);
  EXPECT_TRUE(records[0].message.empty()) << "nothing was damaged";
}

}  // namespace
}  // namespace instasent::ingestor_testing
