// SPDX-License-Identifier: Apache-2.0
// A Transport of your own, given to a Client through ClientOptions::transport. This one answers
// from memory and records every request: that is how the code that calls a Client can be unit
// tested, with no server, no network and no waiting (a Clock of its own makes the client's retry
// waits pass at once). The same seam takes a proxy or another HTTP stack.
//
// `record_purchase` stands for the application's code under test; `main` is its test.
//
//   build/examples/custom_transport
//
// Needs no settings and no server. Exits 0 when every check passes.
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"

namespace {

// The application's code under test: records a purchase and says whether Instasent took it.
bool record_purchase(const instasent::Client& client, const std::string& user_id,
                     const std::string& order_id, double amount) {
  try {
    const auto result = client.record_events(
        {instasent::Event(user_id, order_id, "purchase").parameter("amount", amount)});
    return result.all_accepted();
  } catch (const instasent::Error& error) {
    std::cout << "  record_purchase: " << error.what() << "\n";
    return false;
  }
}

// The Ingest API, played from memory. A batch write is accepted whole unless an answer was
// scripted for it; every request is recorded.
class FakeApi : public instasent::Transport {
 public:
  // What the SDK sent. The headers are left out: they hold the token.
  struct Request {
    std::string method;
    std::string url;
    std::string body;
  };

  // The next request gets this answer instead of the usual one.
  void answer_next(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mutex_);
    scripted_.push_back(Scripted{status, std::move(body)});
  }
  // The next request gets no answer at all, as when the network is down.
  void fail_next() {
    std::lock_guard<std::mutex> lock(mutex_);
    scripted_.push_back(Scripted{0, ""});
  }
  // The requests recorded since the last call.
  std::vector<Request> take_requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(requests_, {});
  }

  // A Client may send from several threads at once, hence the lock.
  instasent::HttpResponse send(const instasent::HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(Request{request.method, request.url, request.body});
    if (scripted_.empty()) return accept_all(request);
    const Scripted next = scripted_.front();
    scripted_.pop_front();
    if (next.status == 0) {
      // What a Transport throws when no answer came.
      throw instasent::TransportError(instasent::TransportFailure::connect,
                                      "fake: connection refused");
    }
    return answer(next.status, next.body);
  }

 private:
  struct Scripted {
    int status;  // 0: no answer
    std::string body;
  };

  static instasent::HttpResponse answer(int status, std::string body) {
    instasent::HttpResponse response;
    response.status = status;
    response.headers.add("Content-Type", "application/json");
    response.body = std::move(body);
    return response;
  }

  // The API's answer to a batch write that accepted every item: an entry per item, in order,
  // naming it by `_user_id` (and `_event_id` for an event).
  static instasent::HttpResponse accept_all(const instasent::HttpRequest& request) {
    if (request.method != "POST") return answer(404, R"({"message": "not in this fake"})");
    nlohmann::json items = nlohmann::json::array();
    for (const auto& item : nlohmann::json::parse(request.body)) {
      nlohmann::json entry = {{"status", "success"}, {"_user_id", item.at("_user_id")}};
      if (item.contains("_event_id")) entry["_event_id"] = item["_event_id"];
      items.push_back(entry);
    }
    const nlohmann::json body = {
        {"entity", {{"successful", items.size()}, {"failed", 0}, {"items", items}}}};
    return answer(202, body.dump());
  }

  std::mutex mutex_;
  std::deque<Scripted> scripted_;
  std::vector<Request> requests_;
};

// Time for the client's retry logic: its waits take no time, but are counted.
class InstantClock : public instasent::Clock {
 public:
  std::chrono::system_clock::time_point system_now() override {
    return std::chrono::system_clock::now() + slept();
  }
  std::chrono::steady_clock::time_point steady_now() override {
    return std::chrono::steady_clock::now() + slept();
  }
  void sleep_for(std::chrono::milliseconds duration) override { slept_ms_ += duration.count(); }
  std::chrono::milliseconds slept() const { return std::chrono::milliseconds(slept_ms_.load()); }

 private:
  std::atomic<long long> slept_ms_{0};
};

int failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAILED: ") << what << "\n";
  if (!ok) ++failures;
}

}  // namespace

int main() {
  auto api = std::make_shared<FakeApi>();
  auto clock = std::make_shared<InstantClock>();

  // A test sets its own settings rather than read INSTASENT_*. The base URL is the default one:
  // nothing leaves the process.
  instasent::ClientOptions options;
  options.project = "proj_test";
  options.datasource = "ds_test";
  options.token = "test-token";
  options.transport = api;
  options.clock = clock;
  const instasent::Client client(options);

  std::cout << "1. The API accepts the purchase\n";
  check(record_purchase(client, "user-1", "order-1", 49.90), "record_purchase returns true");
  auto sent = api->take_requests();
  check(sent.size() == 1, "one request");
  check(sent.at(0).method == "POST", "a POST");
  check(sent.at(0).url ==
            "https://api.instasent.com/v1/project/proj_test/datasource/ds_test/stream/events",
        "to the datasource's events: " + sent.at(0).url);
  const auto event = nlohmann::json::parse(sent.at(0).body).at(0);
  check(event.at("_user_id") == "user-1" && event.at("_event_id") == "order-1" &&
            event.at("_event_type") == "purchase",
        "the event's ids and type: " + sent.at(0).body);
  check(event.at("_event_parameters").at("amount") == 49.90, "its amount");

  std::cout << "2. The server fails twice (503), then accepts\n";
  api->answer_next(503, R"({"message": "Service unavailable"})");
  api->answer_next(503, R"({"message": "Service unavailable"})");
  check(record_purchase(client, "user-1", "order-2", 12.5), "record_purchase returns true");
  check(api->take_requests().size() == 3, "three requests: the client retried twice");
  check(clock->slept().count() > 0, "the client waited between them: " +
                                        std::to_string(clock->slept().count()) + " ms, at no cost");

  std::cout << "3. The server refuses the token (401)\n";
  api->answer_next(401, R"({"message": "Unauthenticated."})");
  check(!record_purchase(client, "user-1", "order-3", 7.0), "record_purchase returns false");
  check(api->take_requests().size() == 1, "one request: a 401 is not retried");

  std::cout << "4. The network is down\n";
  for (int i = 0; i < options.retry.max_attempts; ++i) api->fail_next();
  check(!record_purchase(client, "user-1", "order-4", 7.0), "record_purchase returns false");
  check(api->take_requests().size() == static_cast<std::size_t>(options.retry.max_attempts),
        "one request per attempt: " + std::to_string(options.retry.max_attempts));

  std::cout << (failures == 0 ? "all checks passed" : "some checks failed") << "\n";
  return failures == 0 ? 0 : 1;
}
