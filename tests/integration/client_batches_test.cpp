// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client against the in-process TestServer: how a write is split
// into requests (items and bytes per request), the result of a batch that fails part way, and one
// client used from several threads.
#include <gtest/gtest.h>

#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/client_fixture.hpp"

namespace instasent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Batching

TEST_F(ClientTest, LargeUpsertIsSplitIntoRequestsOf100) {
  std::vector<Contact> contacts = MakeContacts(250);
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);

  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(BodySizes(posts), (std::vector<std::size_t>{100, 100, 50}));
  EXPECT_EQ(posts[0].json_body(), ExpectedBody(contacts, 0, 100));
  EXPECT_EQ(posts[1].json_body(), ExpectedBody(contacts, 100, 100));
  EXPECT_EQ(posts[2].json_body(), ExpectedBody(contacts, 200, 50));
  for (const RecordedRequest& r : posts) ExpectJsonPost(r);

  ASSERT_EQ(result.size(), 250u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < result.size(); ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, UserId(i));
  }
  ASSERT_EQ(result.requests().size(), 3u);
  const std::size_t firsts[] = {0, 100, 200};
  const std::size_t counts[] = {100, 100, 50};
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(result.requests()[k].first_index, firsts[k]);
    EXPECT_EQ(result.requests()[k].item_count, counts[k]);
    EXPECT_EQ(result.requests()[k].http_status, 202);
    EXPECT_EQ(result.requests()[k].request_id, posts[k].response_request_id);
  }
}

TEST_F(ClientTest, LargeEventBatchIsSplitToo) {
  std::vector<Event> events;
  for (std::size_t i = 0; i < 120; ++i) {
    events.push_back(Event(UserId(i), "evt-" + std::to_string(i), "purchase"));
  }
  Client client = MakeClient();
  BatchResult result = client.record_events(events);
  EXPECT_EQ(BodySizes(Posts(server_)), (std::vector<std::size_t>{100, 20}));
  ASSERT_EQ(result.size(), 120u);
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result[119].id, "evt-119");
  EXPECT_EQ(result[119].index, 119u);
}

TEST_F(ClientTest, LaterRequestFailingGivesPartialResult) {
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::json(401, {{"message", "Unauthenticated."}})
                      .header("X-Request-Id", "req-third"));
  std::vector<Contact> contacts = MarkedContacts(250);
  Client client = MakeClient();
  auto error = Catch<UnauthorizedError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 401);
  EXPECT_EQ(error->request_id(), "req-third");
  EXPECT_EQ(server_.request_count(), 3u);

  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->size(), 250u);
  EXPECT_EQ(partial->count(ItemStatus::accepted), 200u);
  EXPECT_EQ(partial->count(ItemStatus::not_sent), 50u);
  for (std::size_t i = 0; i < 250; ++i) {
    const ItemResult& item = (*partial)[i];
    EXPECT_EQ(item.index, i);
    EXPECT_EQ(item.id, UserId(i));
    if (i < 200) {
      EXPECT_EQ(item.status, ItemStatus::accepted) << i;
    } else {
      EXPECT_EQ(item.status, ItemStatus::not_sent) << i;
      EXPECT_EQ(item.errors.count(""), 1u) << "request-level message under \"\" for item " << i;
    }
  }
}

TEST_F(ClientTest, ServerErrorInTheMiddleGivesUnknownThenNotSent) {
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  std::vector<Contact> contacts = MakeContacts(250);
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 2; });
  auto error = Catch<ServerError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 500);
  EXPECT_EQ(server_.request_count(), 3u);  // 1 + 2 attempts; the third batch never sent
  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->size(), 250u);
  for (std::size_t i = 0; i < 250; ++i) {
    ItemStatus expected =
        i < 100 ? ItemStatus::accepted : (i < 200 ? ItemStatus::unknown : ItemStatus::not_sent);
    EXPECT_EQ((*partial)[i].status, expected) << "item " << i;
  }
}

TEST_F(ClientTest, EmptyInputSendsNothing) {
  Client client = MakeClient();
  BatchResult contacts = client.upsert_contacts({});
  BatchResult events = client.record_events({});
  EXPECT_EQ(contacts.size(), 0u);
  EXPECT_EQ(events.size(), 0u);
  EXPECT_TRUE(contacts.requests().empty());
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, MaxBatchItemsOptionIsHonoured) {
  Client client = MakeClient([](ClientOptions& o) { o.batch.max_items = 30; });
  BatchResult result = client.upsert_contacts(MakeContacts(70));
  EXPECT_EQ(BodySizes(Posts(server_)), (std::vector<std::size_t>{30, 30, 10}));
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result.size(), 70u);
}

TEST_F(ClientTest, MaxBatchBytesSplitsIntoMoreRequests) {
  std::vector<Contact> contacts;
  for (std::size_t i = 0; i < 100; ++i) {
    contacts.push_back(Contact(UserId(i)).attribute("note", std::string(100, 'x')));
  }
  std::size_t total = ExpectedBody(contacts).dump().size();
  const std::size_t max_bytes = 2'000;
  Client client = MakeClient([&](ClientOptions& o) { o.batch.max_bytes = max_bytes; });
  BatchResult result = client.upsert_contacts(contacts);

  std::vector<RecordedRequest> posts = Posts(server_);
  EXPECT_GE(posts.size(), total / max_bytes);
  EXPECT_GT(posts.size(), 1u);
  json all = json::array();
  for (const RecordedRequest& r : posts) {
    EXPECT_LE(r.body.size(), max_bytes);
    json body = r.json_body();
    ASSERT_TRUE(body.is_array());
    for (const json& item : body) all.push_back(item);
  }
  EXPECT_EQ(all, ExpectedBody(contacts));
  ASSERT_EQ(result.size(), 100u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, UserId(i));
  }
  EXPECT_EQ(result.requests().size(), posts.size());
}

TEST_F(ClientTest, ItemLargerThanMaxBatchBytesIsRefusedBeforeSending) {
  std::vector<Contact> contacts = MakeContacts(3);
  std::string huge;
  for (int i = 0; i < 200; ++i) huge += kPayloadMarker;
  contacts[1] = Contact(UserId(1)).attribute("blob", huge);
  Client client = MakeClient([](ClientOptions& o) { o.batch.max_bytes = 1'000; });
  auto error = Catch<InvalidInputError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::invalid_input);
  EXPECT_EQ(error->item_index(), 1);
  EXPECT_EQ(server_.request_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_F(ClientTest, OneClientFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  Client client = MakeClient();
  Client copy = client;  // copies share one transport
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Client& c = t % 2 == 0 ? client : copy;
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        try {
          BatchResult result = c.upsert_contacts({Contact(id).attribute("thread", t)});
          if (result.size() != 1 || result[0].status != ItemStatus::accepted ||
              result[0].id != id) {
            std::lock_guard<std::mutex> lock(failures_mutex);
            failures.push_back(id + ": not accepted");
          }
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(failures_mutex);
          failures.push_back(id + ": " + e.what());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();

  std::vector<RecordedRequest> posts = Posts(server_);
  EXPECT_EQ(posts.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> seen;
  for (const RecordedRequest& r : posts) {
    ExpectJsonPost(r);
    json body = r.json_body();
    ASSERT_TRUE(body.is_array() && body.size() == 1) << r.body;
    seen.insert(body[0].value("_user_id", ""));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_TRUE(clock_->sleeps().empty());
}

}  // namespace
}  // namespace instasent::testing
