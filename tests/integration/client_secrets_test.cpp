// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client: no error text carries the token or any part of a
// payload, and the options a client refuses at construction.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "integration/client_fixture.hpp"

namespace instasent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Secrets

TEST_F(ClientTest, NoErrorTextContainsTheTokenOrThePayload) {
  // Catch<> checks what(), server_message() and partial-result messages of every error.
  std::vector<Contact> contacts = MarkedContacts(2);
  std::vector<Event> events{Event("u", "e", "purchase").parameter("p", kPayloadMarker)};
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 2; });

  server_.enqueue(CannedResponse::json(401, {{"message", "Unauthenticated."}}));
  EXPECT_TRUE(Catch<UnauthorizedError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::json(404, {{"message", "Not found"}}));
  EXPECT_TRUE(Catch<NotFoundError>([&] { client.record_events(events); }));
  server_.enqueue(CannedResponse::json(400, {{"message", "Body should be an array"}}));
  EXPECT_TRUE(Catch<BadRequestError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal"}}), 2);
  EXPECT_TRUE(Catch<ServerError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::empty(429).header("Retry-After", "1"), 2);
  EXPECT_TRUE(Catch<RateLimitedError>([&] { client.record_events(events); }));

  ClosedPort closed;
  Client unreachable = MakeClientOfPort(closed.port(), 2);
  EXPECT_TRUE(Catch<TransportError>([&] { unreachable.upsert_contacts(contacts); }));

  ClientOptions bad = make_client_options(server_, clock_);
  bad.token = std::string(kTestToken) + "\r\nX-Injected: " + kPayloadMarker;
  EXPECT_TRUE(Catch<InvalidInputError>([&] { Client c(bad); }));
}

// error.hpp: the message "never contains the token ... or any part of a request payload" — also
// when the server quotes them back in its own message (server_message() is the server's text and
// is not checked here).
TEST_F(ClientTest, ServerQuotingTheTokenDoesNotLeakIntoWhat) {
  server_.enqueue(CannedResponse::json(
      401, {{"message", std::string("Invalid token ") + kTestToken + " for this datasource"}}));
  Client client = MakeClient();
  try {
    client.stream_info();
    ADD_FAILURE() << "nothing thrown";
  } catch (const UnauthorizedError& e) {
    EXPECT_FALSE(Contains(e.what(), kTestToken)) << e.what();
  }
}

TEST_F(ClientTest, ServerQuotingThePayloadDoesNotLeakIntoWhat) {
  server_.enqueue(CannedResponse::json(
      400, {{"message", std::string("Invalid value '") + kPayloadMarker + "' for note"}}));
  Client client = MakeClient();
  try {
    client.upsert_contacts(MarkedContacts(1));
    ADD_FAILURE() << "nothing thrown";
  } catch (const BadRequestError& e) {
    EXPECT_FALSE(Contains(e.what(), kPayloadMarker)) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Construction

TEST_F(ClientTest, RefusesPlainHttpToNonLoopbackHosts) {
  for (const char* url : {"http://example.com/v1", "http://127.0.0.1.example.com/v1",
                          "http://localhost.example.com/v1", "http://10.0.0.1:8080/v1"}) {
    SCOPED_TRACE(url);
    ClientOptions options = make_client_options(server_, clock_);
    options.base_url = url;
    auto error = Catch<InvalidInputError>([&] { Client c(options); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::invalid_input);
    EXPECT_FALSE(error->field().empty());

    options.allow_insecure_http = true;
    EXPECT_NO_THROW(Client c(options));
  }
  for (const char* url :
       {"http://localhost:8080/v1", "http://127.0.0.1:8080/v1", "http://127.1.2.3/v1",
        "http://[::1]:8080/v1", "https://api.instasent.com/v1"}) {
    SCOPED_TRACE(url);
    ClientOptions options = make_client_options(server_, clock_);
    options.base_url = url;
    EXPECT_NO_THROW(Client c(options));
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, RefusesTokenWithLineBreaks) {
  for (const std::string& token :
       {std::string(kTestToken) + "\r\nX-Injected: 1", std::string(kTestToken) + "\nX: 1",
        std::string(kTestToken) + "\r"}) {
    ClientOptions options = make_client_options(server_, clock_);
    options.token = token;
    auto error = Catch<InvalidInputError>([&] { Client c(options); });
    ASSERT_TRUE(error);
    EXPECT_TRUE(Contains(error->field(), "TOKEN") || Contains(error->field(), "token"))
        << "field: " << error->field();
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, RefusesEmptyProjectDatasourceOrToken) {
  struct Case {
    const char* name;
    std::function<void(ClientOptions&)> spoil;
    const char* field_part_lower;
    const char* field_part_upper;
  };
  const std::vector<Case> cases = {
      {"project", [](ClientOptions& o) { o.project.clear(); }, "project", "PROJECT"},
      {"datasource", [](ClientOptions& o) { o.datasource.clear(); }, "datasource", "DATASOURCE"},
      {"token", [](ClientOptions& o) { o.token.clear(); }, "token", "TOKEN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ClientOptions options = make_client_options(server_, clock_);
    c.spoil(options);
    auto error = Catch<InvalidInputError>([&] { Client client(options); });
    ASSERT_TRUE(error);
    EXPECT_TRUE(Contains(error->field(), c.field_part_lower) ||
                Contains(error->field(), c.field_part_upper))
        << "field: " << error->field();
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

}  // namespace
}  // namespace instasent::testing
