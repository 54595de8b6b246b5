// SPDX-License-Identifier: Apache-2.0
// Promises of the Ingestor that no other test pinned: deletes by id (the request, its encoding,
// a 404, the order with what follows), a 429 holding back every sender for at most
// max_rate_limit_wait, max_in_flight, a blocked add that goes on once there is room, and no
// callback after close returns.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingestor/ingestor_support.hpp"
#include "support/raw_server.hpp"
#include "support/scratch_dir.hpp"

namespace instasent::ingestor_testing {
namespace {

// Every request through the real libcurl transport, with when it started and when its answer came;
// DELETEs can be held back before they are sent, to make an overtaking event visible.
class RecordingTransport : public Transport {
 public:
  struct Call {
    std::string method;
    std::string url;
    int status = 0;
    steady_clock::time_point started;
    steady_clock::time_point answered;
  };

  explicit RecordingTransport(milliseconds delete_delay = milliseconds(0))
      : inner_(make_curl_transport()), delete_delay_(delete_delay) {}

  HttpResponse send(const HttpRequest& request) override {
    const auto started = steady_clock::now();
    if (request.method == "DELETE") std::this_thread::sleep_for(delete_delay_);
    HttpResponse response = inner_->send(request);
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back({request.method, request.url, response.status, started, steady_clock::now()});
    return response;
  }

  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

 private:
  std::shared_ptr<Transport> inner_;
  milliseconds delete_delay_;
  mutable std::mutex mutex_;
  std::vector<Call> calls_;
};

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(IngestorPromises, DeleteContactSendsTheEncodedIdAndReportsA404AsRejected) {
  RunningEmulator server;
  auto transport = std::make_shared<RecordingTransport>();
  Outcomes seen;
  IngestorOptions options;
  options.flush_interval = milliseconds(5);
  options.on_outcome = seen.callback();
  Ingestor ingestor(client_for(server.port(), transport), options);
  const std::string id = "user/1 \xC3\xA9?#";  // a slash, a blank, UTF-8, a query, a fragment
  ASSERT_TRUE(ingestor.add(Contact(id).email("a@example.com")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  ASSERT_EQ(server.state()["contacts"].count(id), 1u);

  ASSERT_TRUE(ingestor.delete_contact(id, 7));
  ASSERT_TRUE(ingestor.delete_contact("nobody", 8));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));

  EXPECT_EQ(server.state()["contacts"].count(id), 0u);
  const ItemOutcome& deleted = seen.by_key.at("d:" + id).at(0);
  EXPECT_EQ(deleted.state, FinalState::delivered);
  EXPECT_EQ(deleted.tag, 7u);
  const ItemOutcome& unknown = seen.by_key.at("d:nobody").at(0);
  EXPECT_EQ(unknown.state, FinalState::rejected);  // resending would not help
  EXPECT_EQ(unknown.http_status, 404);
  EXPECT_EQ(unknown.tag, 8u);
  int deletes = 0;
  for (const auto& call : transport->calls()) {
    if (call.method != "DELETE") continue;
    ++deletes;
    EXPECT_TRUE(ends_with(call.url, "/stream/contacts/user%2F1%20%C3%A9%3F%23") ||
                ends_with(call.url, "/stream/contacts/nobody"))
        << call.url;
  }
  EXPECT_EQ(deletes, 2);  // a 404 is not retried
  EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
}

// An event added after a delete of its user goes out only once the delete has its answer, even
// with senders free and the delete slow; and an upsert after them re-creates the contact.
TEST(IngestorPromises, AnEventWaitsForTheDeleteAddedBeforeIt) {
  RunningEmulator server;
  auto transport = std::make_shared<RecordingTransport>(milliseconds(300));
  Outcomes seen;
  IngestorOptions options;
  options.flush_interval = milliseconds(1);
  options.on_outcome = seen.callback();
  Ingestor ingestor(client_for(server.port(), transport), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));

  ASSERT_TRUE(ingestor.delete_contact("U1"));
  ASSERT_TRUE(ingestor.add(Event("U1", "E1", "purchase")));
  ASSERT_TRUE(ingestor.add(Contact("U1").first_name("Again")));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));

  steady_clock::time_point delete_answered{};
  steady_clock::time_point event_started{};
  steady_clock::time_point upsert_started{};
  int posts_to_contacts = 0;
  for (const auto& call : transport->calls()) {
    if (call.method == "DELETE") delete_answered = call.answered;
    if (ends_with(call.url, "/stream/events")) event_started = call.started;
    if (ends_with(call.url, "/stream/contacts") && ++posts_to_contacts == 2) {
      upsert_started = call.started;
    }
  }
  ASSERT_NE(delete_answered, steady_clock::time_point{});
  ASSERT_NE(event_started, steady_clock::time_point{});
  ASSERT_NE(upsert_started, steady_clock::time_point{});
  EXPECT_GE(event_started, delete_answered);
  EXPECT_GE(upsert_started, delete_answered);
  EXPECT_EQ(seen.count(FinalState::delivered), 4u);
  EXPECT_EQ(server.state()["contacts"]["U1"]["_first_name"], "Again");
  EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
}

// A 429 holds back every sender, whatever its queue, for the time the server asks (1 s here)
// capped by max_rate_limit_wait: nothing starts earlier than the cap, and everything goes on well
// before the second the server asked for.
TEST(IngestorPromises, A429HoldsBackEverySenderForAtMostMaxRateLimitWait) {
  Config config = test_config();
  config.faults.script = {emulator::Fault::rate_limited};  // the first request: 429, 1 s
  RunningEmulator server(config);
  auto transport = std::make_shared<RecordingTransport>();
  IngestorOptions options;
  options.flush_interval = milliseconds(1);
  options.max_in_flight = 4;
  options.retry.max_rate_limit_wait = milliseconds(300);
  Ingestor ingestor(client_for(server.port(), transport), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  const auto give_up = steady_clock::now() + milliseconds(10'000);
  while (ingestor.stats().rate_limited == 0 && steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(ingestor.stats().rate_limited, 1u);
  const IngestorStats paused = ingestor.stats();
  EXPECT_GT(paused.rate_limit_wait_left, milliseconds(0));
  EXPECT_LE(paused.rate_limit_wait_left, milliseconds(300));
  EXPECT_EQ(paused.rate_limit_wait, milliseconds(300)) << "the pause, counted to its end";
  // Other queues, other senders: they wait too.
  ASSERT_TRUE(ingestor.add(Event("U2", "E2", "purchase")));
  ASSERT_TRUE(ingestor.delete_contact("U3"));
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));

  const auto calls = transport->calls();
  ASSERT_GE(calls.size(), 4u);
  ASSERT_EQ(calls.front().status, 429);
  const auto limited_at = calls.front().answered;
  steady_clock::time_point first_after{};
  for (std::size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].started - limited_at, milliseconds(290)) << calls[i].url;
    if (first_after == steady_clock::time_point{} || calls[i].started < first_after) {
      first_after = calls[i].started;
    }
  }
  EXPECT_LT(first_after - limited_at, milliseconds(900));  // the cap, not the server's second
  EXPECT_EQ(ingestor.stats().rate_limit_wait_left, milliseconds(0));
  EXPECT_EQ(ingestor.stats().rate_limit_wait, milliseconds(300));
  EXPECT_EQ(ingestor.stats().retry_wait, milliseconds(0)) << "a 429's wait is the pause's";
  EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
}

// The most requests that were under way at once, from when each started and was answered.
std::size_t most_at_once(const std::vector<RecordingTransport::Call>& calls) {
  std::size_t most = 0;
  for (const auto& call : calls) {
    const auto under_way = std::count_if(calls.begin(), calls.end(), [&](const auto& other) {
      return other.started <= call.started && call.started < other.answered;
    });
    most = std::max(most, static_cast<std::size_t>(under_way));
  }
  return most;
}

// max_in_flight bounds the requests under way at once, and all of them are used: ten batches
// worth of events against a server that takes 50 ms an answer go out two at a time, never three.
TEST(IngestorPromises, MaxInFlightBoundsTheRequestsUnderWay) {
  Config config = test_config();
  config.faults.slow = 1.0;
  config.faults.slow_ms = 50;
  RunningEmulator server(config);
  auto transport = std::make_shared<RecordingTransport>();
  IngestorOptions options;
  options.max_in_flight = 2;
  Ingestor ingestor(client_for(server.port(), transport), options);
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(
        ingestor.add(Event("U" + std::to_string(i % 37), "E" + std::to_string(i), "purchase")));
  }
  ASSERT_TRUE(ingestor.flush(milliseconds(60'000)));
  EXPECT_EQ(ingestor.stats().delivered, 1'000u);
  EXPECT_EQ(most_at_once(transport->calls()), 2u);
  EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
}

// A server with a rate limit in fixed windows of one second of the clock: `per_window` requests
// each, the rest answered 429. Every answer announces what is left (X-RateLimit-Limit, -Remaining,
// -Reset in Unix seconds) with a Date, as the API does; accepted batches are accepted whole.
class WindowedServer {
 public:
  explicit WindowedServer(int per_window)
      : per_window_(per_window), server_([this](testing::RawConnection& c) { answer(c); }) {}

  int port() const { return server_.port(); }
  // Requests accepted in each window, in order; and the 429s.
  std::vector<int> accepted_per_window() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<int> counts;
    for (const auto& [window, count] : accepted_) counts.push_back(count);
    return counts;
  }
  int refused() const { return refused_.load(); }

 private:
  void answer(testing::RawConnection& connection) {
    using nlohmann::json;
    const auto now = std::chrono::system_clock::now();
    const std::int64_t second =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    int left = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      int& used = accepted_[second];
      if (used < per_window_) left = per_window_ - ++used + 1;
    }
    const std::time_t time = static_cast<std::time_t>(second);
    std::tm utc{};
    gmtime_r(&time, &utc);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    const std::string headers =
        "Date: " + std::string(date) + "\r\nX-RateLimit-Limit: " + std::to_string(per_window_) +
        "\r\nX-RateLimit-Remaining: " + std::to_string(std::max(left - 1, 0)) +
        "\r\nX-RateLimit-Reset: " + std::to_string(second + 1) + "\r\n";
    if (left == 0) {
      ++refused_;
      connection.write(testing::RawServer::answer(429, R"({"message":"Too many requests"})",
                                                  headers + "Retry-After: 1\r\n"));
      return;
    }
    const std::string& request = connection.request();
    const json items = json::parse(request.substr(request.find("\r\n\r\n") + 4), nullptr, false);
    json body = {{"entity", {{"items", json::array()}}}};
    for (const json& item : items) {
      body["entity"]["items"].push_back({{"status", "success"}, {"_user_id", item["_user_id"]}});
    }
    connection.write(testing::RawServer::answer(202, body.dump(), headers));
  }

  const int per_window_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, int> accepted_;  // by window (Unix second)
  std::atomic<int> refused_{0};
  testing::RawServer server_;  // last: it calls answer() until destroyed
};

// The allowance each answer announces is spent, not overrun: once a queue has used it, the queue
// waits for the reset instead of earning a 429, and each full window is used but for at most the
// requests that were in flight when its last answers came (max_in_flight).
TEST(IngestorPromises, TheAnnouncedAllowanceIsUsedWithoutA429) {
  WindowedServer server(8);
  IngestorOptions options;
  options.batch.max_items = 1;  // a request per contact
  Ingestor ingestor(client_for(server.port()), options);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
  ASSERT_TRUE(ingestor.flush(milliseconds(60'000)));
  const IngestorStats stats = ingestor.stats();
  EXPECT_EQ(stats.delivered, 30u);
  EXPECT_EQ(server.refused(), 0);
  EXPECT_EQ(stats.rate_limited, 0u);
  const std::vector<int> windows = server.accepted_per_window();
  ASSERT_GE(windows.size(), 4u) << "30 requests at 8 a second take four windows";
  // The first window may be cut short by the test's start, the last by its end.
  for (std::size_t i = 1; i + 1 < windows.size(); ++i) {
    EXPECT_GE(windows[i], 8 - options.max_in_flight) << "window " << i;
  }
}

// A 401 would answer every later request too: the ingestor stops sending after the first. The
// items queued are dropped (unauthorized) without a request of their own, kept in the spool, and
// add refuses new ones; an ingestor opened on the spool with the right token delivers them all.
TEST(IngestorPromises, A401StopsSendingAndKeepsEveryItemInTheSpool) {
  RunningEmulator server;
  test_support::ScratchDir spool("instasent-unauthorized");
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.spool.directory = spool.path();
  options.max_in_flight = 1;
  options.flush_interval = milliseconds(3'600'000);  // nothing goes before flush: no full batch
  {
    Ingestor ingestor(client_with(server.port(), [](ClientOptions& o) { o.token = "wrong"; }),
                      options);
    // 99 contacts and 99 events: two batches, neither full, so both wait for flush.
    for (int i = 0; i < 99; ++i) {
      const std::string user = "U" + std::to_string(i);
      ASSERT_TRUE(ingestor.add(Contact(user)));
      ASSERT_TRUE(ingestor.add(Event(user, "E" + std::to_string(i), "purchase")));
    }
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
    const IngestorStats stats = ingestor.stats();
    EXPECT_EQ(stats.stopped_status, 401);
    EXPECT_EQ(stats.dropped_unauthorized, 198u);
    EXPECT_EQ(stats.requests, 1u) << "one refusal is enough";
    const AddResult after = ingestor.add(Contact("LATE"));
    EXPECT_EQ(after.status, AddStatus::closed);
    EXPECT_NE(after.reason.find("401"), std::string::npos) << after.reason;
    EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
  }
  {
    std::lock_guard<std::mutex> lock(seen.mutex);
    ASSERT_EQ(seen.by_key.size(), 198u);
    for (const auto& [key, outcomes] : seen.by_key) {
      ASSERT_EQ(outcomes.size(), 1u) << key;
      EXPECT_EQ(outcomes[0].drop_reason, DropReason::unauthorized) << key;
      EXPECT_EQ(outcomes[0].http_status, 401) << key;
      EXPECT_TRUE(outcomes[0].kept_in_spool) << key;
    }
  }
  IngestorOptions again;
  again.spool.directory = spool.path();
  Ingestor fixed(client_for(server.port()), again);
  ASSERT_TRUE(fixed.flush(milliseconds(20'000)));
  EXPECT_EQ(fixed.stats().replayed, 198u);
  EXPECT_EQ(fixed.stats().delivered, 198u);
  EXPECT_EQ(fixed.stats().stopped_status, 0);
  EXPECT_EQ(server.state()["contacts"].size(), 99u);
  EXPECT_EQ(stored_event_ids(server).size(), 99u);
  EXPECT_EQ(server.state()["contacts"].count("LATE"), 0u) << "refused at add, never stored";
}

// A 404 to a batch (an unknown datasource) stops it the same way; a 404 to a delete (an unknown
// contact) only rejects that delete.
TEST(IngestorPromises, A404ToABatchStopsSendingButNotA404ToADelete) {
  RunningEmulator server;
  {
    Ingestor ingestor(client_for(server.port()));
    ASSERT_TRUE(ingestor.delete_contact("NOBODY"));
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
    EXPECT_EQ(ingestor.stats().rejected, 1u);
    EXPECT_EQ(ingestor.stats().stopped_status, 0);
    EXPECT_TRUE(ingestor.add(Contact("STILL")));
    EXPECT_TRUE(ingestor.close(milliseconds(20'000)).empty());
  }
  IngestorOptions options;
  options.max_in_flight = 1;
  Ingestor ingestor(
      client_with(server.port(), [](ClientOptions& o) { o.datasource = "ds_unknown"; }), options);
  ASSERT_TRUE(ingestor.add(Event("U1", "E1", "purchase")));
  ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  EXPECT_EQ(ingestor.stats().stopped_status, 404);
  EXPECT_EQ(ingestor.stats().dropped_unauthorized, 1u);
  EXPECT_EQ(ingestor.add(Event("U1", "E2", "purchase")).status, AddStatus::closed);
}

// dry_run sends every batch with ?_dryRun: the server's verdicts come back as for a real run, and
// nothing is stored. A delete cannot be a dry run, and a spool would replay its items for real.
TEST(IngestorPromises, ADryRunGetsTheVerdictsAndStoresNothing) {
  RunningEmulator server;
  Outcomes seen;
  IngestorOptions options = seen.recording_options();
  options.dry_run = true;
  {
    Ingestor ingestor(client_for(server.port()), options);
    ASSERT_TRUE(ingestor.add(Contact("U1").email("u1@example.com")));
    ASSERT_TRUE(ingestor.add(Contact("U2").email("nope")));
    ASSERT_TRUE(ingestor.add(Event("U1", "E1", "purchase")));
    const AddResult remove = ingestor.delete_contact("U1");
    EXPECT_EQ(remove.status, AddStatus::invalid);
    EXPECT_NE(remove.reason.find("dry run"), std::string::npos) << remove.reason;
    ASSERT_TRUE(ingestor.flush(milliseconds(20'000)));
  }
  EXPECT_EQ(seen.count(FinalState::delivered), 2u);
  EXPECT_EQ(seen.count(FinalState::rejected), 1u);
  EXPECT_TRUE(server.state()["contacts"].empty());
  EXPECT_TRUE(stored_event_ids(server).empty());

  test_support::ScratchDir spool("instasent-dry-run");
  options.spool.directory = spool.path();
  try {
    Ingestor refused(client_for(server.port()), options);
    ADD_FAILURE() << "a dry run with a spool was accepted";
  } catch (const InvalidInputError& error) {
    EXPECT_EQ(error.field(), "dry_run");
  }
}

// With the block policy, an add that waits for room goes on as soon as the senders make some,
// long before its timeout.
TEST(IngestorPromises, ABlockedAddGoesOnOnceThereIsRoom) {
  RunningEmulator server;
  Outcomes seen;
  IngestorOptions options;
  options.queue.max_items = 10;
  options.queue.overflow = OverflowPolicy::block;
  options.queue.block_timeout = milliseconds(60'000);
  options.flush_interval = milliseconds(3'600'000);  // nothing is due until flush
  options.on_outcome = seen.callback();
  Ingestor ingestor(client_for(server.port()), options);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(i))));
  std::atomic<bool> returned{false};
  auto blocked = std::async(std::launch::async, [&] {
    const AddResult result = ingestor.add(Contact("U10"));
    returned = true;
    return result;
  });
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(returned) << "the add did not wait for room";
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));  // the ten go out: room
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(blocked.get());
  ASSERT_TRUE(ingestor.flush(milliseconds(10'000)));
  EXPECT_EQ(seen.count(FinalState::delivered), 11u);
  EXPECT_EQ(server.state()["contacts"].count("U10"), 1u);
}

// When close returns, every callback has returned, even one a sender began before the deadline
// and that runs past it: the caller may destroy what the callback uses right after. (The CLI
// counts its summary from the callbacks; a late one went uncounted.)
TEST(IngestorPromises, NoCallbackRunsAfterCloseReturns) {
  RunningEmulator server;
  std::promise<void> began;
  std::atomic<int> returned{0};
  IngestorOptions options;
  options.flush_interval = milliseconds(1);
  options.on_outcome = [&](const ItemOutcome&) {
    if (returned == 0) began.set_value();
    std::this_thread::sleep_for(milliseconds(300));
    ++returned;
  };
  Ingestor ingestor(client_for(server.port()), options);
  ASSERT_TRUE(ingestor.add(Contact("U1")));
  ASSERT_EQ(began.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(ingestor.close(milliseconds(0)).empty());  // delivered, not given up
  EXPECT_EQ(returned, 1);
}

// Against the rules, a callback that calls close does not wait for itself: close returns, the
// rest is given up, and the callback's own item is still reported once.
TEST(IngestorPromises, CloseFromACallbackDoesNotWaitForItself) {
  RunningEmulator server;
  Outcomes seen;
  std::unique_ptr<Ingestor> ingestor;
  std::promise<std::size_t> given_up;
  std::atomic<bool> closing{false};
  IngestorOptions options;
  options.batch.max_items = 1;
  options.max_in_flight = 1;
  options.flush_interval = milliseconds(3'600'000);  // nothing is due until flush
  options.on_outcome = [&](const ItemOutcome& outcome) {
    seen.callback()(outcome);
    if (!closing.exchange(true)) given_up.set_value(ingestor->close(milliseconds(0)).size());
  };
  ingestor = std::make_unique<Ingestor>(client_for(server.port()), options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ingestor->add(Contact("U" + std::to_string(i))));
  ingestor->flush(milliseconds(0));  // one sender, one item a request: one goes, two wait
  auto closed = given_up.get_future();
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(closed.get(), 2u);
  ingestor.reset();
  EXPECT_EQ(seen.count(FinalState::delivered), 1u);
  EXPECT_EQ(seen.count(FinalState::dropped), 2u);
}

}  // namespace
}  // namespace instasent::ingestor_testing
