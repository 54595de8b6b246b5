// SPDX-License-Identifier: Apache-2.0
// Shared by the end-to-end tests of instasent::Client (client_*_test.cpp): the ClientTest fixture
// (an in-process TestServer and a fake clock), request and payload helpers, and the checks that no
// error text carries a secret.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"
#include "integration/test_server.hpp"
#include "support/catch_error.hpp"
#include "support/printers.hpp"

namespace instasent::testing {

// What must never show up in an error text: a marker in payloads, and a token the server refuses.
inline constexpr const char* kPayloadMarker = "PAYLOAD-MARKER";
inline constexpr const char* kWrongToken = "wrong-token-ABC";

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

bool StartsWith(const std::string& s, const std::string& prefix);
bool Contains(const std::string& s, const std::string& part);

// The error model's promise: no token, no header value, no part of a payload in any error text.
void ExpectNoSecretsIn(const std::string& text);
void ExpectNoSecrets(const Error& e);

// Runs `f`, expects it to throw exactly an `E` (or subclass), checks the error text for secrets
// and returns a copy of the error; records a failure and returns nullopt otherwise.
template <typename E, typename F>
std::optional<E> Catch(F&& f) {
  return CatchAs<E>(std::forward<F>(f), [](const Error& e) { ExpectNoSecrets(e); });
}

// Runs `f` and expects it to throw some instasent::Error.
template <typename F>
std::optional<Error> CatchAnyError(F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected an instasent::Error, nothing was thrown";
  } catch (const Error& e) {
    ExpectNoSecrets(e);
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected an instasent::Error, got " << typeid(e).name() << ": " << e.what();
  }
  return std::nullopt;
}

// "user-000", "user-001", ...
std::string UserId(std::size_t i);
std::vector<Contact> MakeContacts(std::size_t n);
// Contacts whose payload carries the marker that must never show up in an error.
std::vector<Contact> MarkedContacts(std::size_t n);

// The JSON array of `count` items from `first`, as the client sends them.
template <typename T>
json ExpectedBody(const std::vector<T>& items, std::size_t first = 0,
                  std::size_t count = static_cast<std::size_t>(-1)) {
  json array = json::array();
  for (std::size_t i = first; i < items.size() && i - first < count; ++i) {
    array.push_back(json::parse(items[i].to_json()));
  }
  return array;
}

std::vector<RecordedRequest> Posts(const TestServer& server);
// The number of items in each request's JSON array body (0 when the body is not an array).
std::vector<std::size_t> BodySizes(const std::vector<RecordedRequest>& requests);

void ExpectCommonHeaders(const RecordedRequest& r);
// An authenticated GET of `target`.
void ExpectGet(const RecordedRequest& r, const std::string& target);
void ExpectJsonPost(const RecordedRequest& r);

// A 202 answer body in the "entity" shape with these items.
json EntityBody(const std::vector<json>& items);

// A socket bound to a loopback port but not listening: connecting to it is refused.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ClientTest : public ::testing::Test {
 protected:
  Client MakeClient(const std::function<void(ClientOptions&)>& customize = {}) {
    return make_client(server_, clock_, customize);
  }

  // What recording `events` gives when the server answers 202 with `body`.
  BatchResult RecordEventsAnswered202(const json& body, const std::vector<Event>& events) {
    server_.enqueue(CannedResponse::json(202, body));
    return MakeClient().record_events(events);
  }

  // A client of a server on loopback `port` (not the test server) that makes at most
  // `max_attempts` attempts.
  Client MakeClientOfPort(int port, int max_attempts) {
    return MakeClient([&](ClientOptions& o) {
      o.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
      o.retry.max_attempts = max_attempts;
    });
  }

  // Expects `error` to be of `kind`, from an answer of `status` whose message was `message`, with
  // the X-Request-Id the server answered the last request with.
  void ExpectFromLastAnswer(const Error& error, ErrorKind kind, int status,
                            const std::string& message) {
    EXPECT_EQ(error.kind(), kind);
    EXPECT_EQ(error.http_status(), status);
    EXPECT_EQ(error.server_message(), message);
    EXPECT_EQ(error.request_id(), server_.last_request().response_request_id);
  }

  // The specs `read` gets with a new client, after checking the request it sent (an authenticated
  // GET of `path` under the stream path) and that each spec keeps its object of `body`'s "specs"
  // in `raw`.
  template <typename Read>
  auto ReadSpecs(Read read, const std::string& path, const json& body) {
    const auto specs = std::invoke(read, MakeClient());
    ExpectGet(server_.last_request(), TestServer::stream_path() + path);
    const json& expected = body.at("specs");
    for (std::size_t i = 0; i < specs.size() && i < expected.size(); ++i) {
      EXPECT_EQ(specs[i].raw, expected[i]) << "spec " << i;
    }
    return specs;
  }

  // Declared first: destroyed last, after every client of it.
  TestServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

}  // namespace instasent::testing
