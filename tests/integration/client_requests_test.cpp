// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client against the in-process TestServer: the request each
// endpoint sends (method, target, headers, body, query flags, percent-encoded path segments) and
// the typed result it reads from the answer.
#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "integration/client_fixture.hpp"
#include "support/sample_contact.hpp"

namespace instasent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Endpoints: request shape and typed results

TEST_F(ClientTest, StreamInfoSendsAuthenticatedGetAndParsesMetadata) {
  Client client = MakeClient();
  StreamInfo info = client.stream_info();

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  ExpectGet(r, TestServer::stream_path());
  EXPECT_TRUE(r.body.empty());

  json expected = TestServer::stream_info_body();
  EXPECT_EQ(info.organization, expected["organization"]);
  EXPECT_EQ(info.project, expected["project"]);
  EXPECT_EQ(info.datasource, expected["datasource"]);
  EXPECT_EQ(info.stream, expected["stream"]);
  EXPECT_EQ(info.token, expected["token"]);
  EXPECT_EQ(info.raw, expected);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, StreamInfoWithoutTokenObjectLeavesTokenNull) {
  json body = TestServer::stream_info_body();
  body.erase("token");
  server_.enqueue(CannedResponse::json(200, body));
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_TRUE(info.token.is_null());
  EXPECT_EQ(info.raw, body);
}

// The values of every Accept-Encoding field of the server's last request.
std::vector<std::string> AcceptEncodings(const TestServer& server) {
  std::vector<std::string> values;
  for (const auto& [name, value] : server.last_request().headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "accept-encoding") values.push_back(value);
  }
  return values;
}

TEST_F(ClientTest, CurlTransportAsksForAnswersAsTheyAreByDefault) {
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_EQ(info.raw, TestServer::stream_info_body());
  EXPECT_EQ(AcceptEncodings(server_), std::vector<std::string>{"identity"});
}

TEST_F(ClientTest, CurlTransportAsksForGzipWithCompressedAnswersAndDecodesIt) {
  // The test server compresses JSON answers whenever the client accepts an encoding it supports.
  Client client = MakeClient([](ClientOptions& o) { o.curl.compressed_answers = true; });
  StreamInfo info = client.stream_info();
  EXPECT_EQ(info.raw, TestServer::stream_info_body());
  EXPECT_EQ(AcceptEncodings(server_), std::vector<std::string>{"gzip"});
  const BatchResult result = client.upsert_contacts({Contact("U1"), Contact("U2")});
  EXPECT_EQ(result.count(ItemStatus::accepted), 2u);
}

TEST_F(ClientTest, UserAgentSuffixIsAppended) {
  Client client = MakeClient([](ClientOptions& o) { o.curl.user_agent_suffix = "my-app/2.0"; });
  client.stream_info();
  std::string user_agent = server_.last_request().header("User-Agent").value_or("");
  EXPECT_TRUE(StartsWith(user_agent, std::string("instasent-cpp/") + kVersion)) << user_agent;
  EXPECT_TRUE(Contains(user_agent, "my-app/2.0")) << user_agent;
}

TEST_F(ClientTest, UpsertContactsPostsJsonArrayOfBuilderJson) {
  std::vector<Contact> contacts;
  contacts.push_back(ada_lovelace("user-1")
                         .attribute("plan", "pro")
                         .attribute("tags", {"vip", "beta"})
                         .attribute("score", 42)
                         .attribute("ratio", 0.5)
                         .attribute("text", "quote \" backslash \\ ñ")
                         .clear("old_attr"));
  contacts.push_back(Contact("user-2").first_name("Grace"));
  server_.put_contact("user-1", {{"_user_id", "user-1"}, {"old_attr", "x"}, {"kept", "yes"}});

  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  ExpectJsonPost(r);
  EXPECT_EQ(r.target, TestServer::stream_path() + "/contacts");
  EXPECT_FALSE(r.has_query);
  json body = r.json_body();
  ASSERT_TRUE(body.is_array()) << r.body;
  EXPECT_EQ(body, ExpectedBody(contacts));

  ASSERT_EQ(result.size(), 2u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, contacts[i].user_id());
    EXPECT_EQ(result[i].status, ItemStatus::accepted);
    EXPECT_TRUE(result[i].errors.empty());
  }
  ASSERT_EQ(result.requests().size(), 1u);
  const BatchRequest& request = result.requests()[0];
  EXPECT_EQ(request.first_index, 0u);
  EXPECT_EQ(request.item_count, 2u);
  EXPECT_EQ(request.http_status, 202);
  EXPECT_EQ(request.request_id, r.response_request_id);
  EXPECT_EQ(request.parsed_body()["entity"]["successful"], 2);
  EXPECT_EQ(request.body, server_.last_request().response_body);
  EXPECT_TRUE(result.failed().empty());

  // The server applied it: omitted attributes kept, null cleared.
  std::optional<json> stored = server_.stored_contact("user-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value("kept", ""), "yes");
  EXPECT_FALSE(stored->contains("old_attr"));
  EXPECT_EQ(stored->value("plan", ""), "pro");
  EXPECT_EQ((*stored)["tags"], json({"vip", "beta"}));
}

TEST_F(ClientTest, UpsertOfOneContactIsStillAnArray) {
  Client client = MakeClient();
  std::vector<Contact> contacts{Contact("solo").first_name("Han")};
  BatchResult result = client.upsert_contacts(contacts);
  json body = server_.last_request().json_body();
  ASSERT_TRUE(body.is_array()) << server_.last_request().body;
  EXPECT_EQ(body, ExpectedBody(contacts));
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "solo");
}

TEST_F(ClientTest, RecordEventsPostsJsonArrayOfBuilderJson) {
  system_clock::time_point when = system_clock::time_point(seconds(1795860000)) + milliseconds(123);
  std::vector<Event> events;
  events.push_back(Event("user-1", "order-987", "purchase")
                       .date(when)
                       .parameter("amount", 49.90)
                       .parameter("currency", "EUR")
                       .parameter("skus", {"A-1", "B-2"})
                       .parameter("shipping", Value::object({{"method", "express"}, {"days", 2}}))
                       .user_data(Contact("user-1").email("ada@example.com")));
  events.push_back(Event("user-2", "view-1", "page_view"));

  Client client = MakeClient();
  BatchResult result = client.record_events(events);

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  ExpectJsonPost(r);
  EXPECT_EQ(r.target, TestServer::stream_path() + "/events");
  json body = r.json_body();
  ASSERT_TRUE(body.is_array()) << r.body;
  EXPECT_EQ(body, ExpectedBody(events));
  EXPECT_EQ(body[0].value("_event_date", ""), "2026-11-28T10:00:00.123Z");

  ASSERT_EQ(result.size(), 2u);
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result[0].id, "order-987");
  EXPECT_EQ(result[1].id, "view-1");
  EXPECT_EQ(result[1].index, 1u);
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  EXPECT_EQ(result.requests()[0].parsed_body()["entity"]["items"][0]["_event_id"], "order-987");
}

TEST_F(ClientTest, DeleteContactSendsDeleteAndReturnsResult) {
  server_.put_contact("user-9", {{"_user_id", "user-9"}});
  Client client = MakeClient();
  DeleteResult result = client.delete_contact("user-9");

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/contacts/user-9");
  ExpectCommonHeaders(r);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.request_id, r.response_request_id);
  EXPECT_EQ(result.body, json::object());
  EXPECT_FALSE(server_.stored_contact("user-9").has_value());
}

TEST_F(ClientTest, DeleteContactWithNoContentHasNullBody) {
  server_.enqueue(CannedResponse::empty(204).header("X-Request-Id", "req-204"));
  Client client = MakeClient();
  DeleteResult result = client.delete_contact("user-9");
  EXPECT_EQ(result.http_status, 204);
  EXPECT_EQ(result.request_id, "req-204");
  EXPECT_TRUE(result.body.is_null()) << result.body.dump();
}

TEST_F(ClientTest, GetContactReturnsStoredAttributes) {
  json data = {{"_user_id", "user-7"}, {"_first_name", "Ada"}, {"plan", "pro"}, {"n", 3}};
  server_.put_contact("user-7", data);
  Client client = MakeClient();
  ContactRecord record = client.get_contact("user-7");

  ExpectGet(server_.last_request(), TestServer::stream_path() + "/contacts/user-7");
  EXPECT_EQ(record.user_id, "user-7");
  EXPECT_EQ(record.attributes, data);
  EXPECT_EQ(record.raw["contact"]["createdAt"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(record.raw["contact"]["contactData"], data);
}

TEST_F(ClientTest, GetUnknownContactThrowsNotFound) {
  Client client = MakeClient();
  auto error = Catch<NotFoundError>([&] { client.get_contact("nobody"); });
  ASSERT_TRUE(error);
  ExpectFromLastAnswer(*error, ErrorKind::not_found, 404, "Contact not found");
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(ClientTest, AttributeSpecsAreParsed) {
  const std::vector<AttributeSpec> specs =
      ReadSpecs(&Client::attribute_specs, "/specs/attributes", TestServer::attribute_specs_body());
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].uid, "_email");
  EXPECT_EQ(specs[0].display_label, "Email");
  EXPECT_EQ(specs[0].description, "Email address");
  EXPECT_EQ(specs[0].data_type, "string");
  EXPECT_EQ(specs[0].multivalue, 0);
  EXPECT_FALSE(specs[0].read_only);
  EXPECT_TRUE(specs[0].required_in_webhook);
  EXPECT_TRUE(specs[0].important);
  EXPECT_TRUE(specs[0].visible);
  EXPECT_FALSE(specs[0].custom);
  EXPECT_EQ(specs[1].uid, "tags");
  EXPECT_EQ(specs[1].multivalue, 10);
  EXPECT_TRUE(specs[1].read_only);
  EXPECT_FALSE(specs[1].required_in_webhook);
  EXPECT_FALSE(specs[1].important);
  EXPECT_FALSE(specs[1].visible);
  EXPECT_TRUE(specs[1].custom);
  EXPECT_EQ(specs[1].raw.value("extraField", ""), "kept in raw");
}

TEST_F(ClientTest, EventSpecsAreParsed) {
  const std::vector<EventSpec> specs =
      ReadSpecs(&Client::event_specs, "/specs/events", TestServer::event_specs_body());
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].uid, "purchase");
  EXPECT_EQ(specs[0].name, "Purchase");
  EXPECT_EQ(specs[0].description, "An order was paid");
  EXPECT_EQ(specs[0].category, "ecommerce");
  EXPECT_TRUE(specs[0].attribution);
  EXPECT_TRUE(specs[0].automation);
  EXPECT_EQ(specs[0].icon, "cart");
  EXPECT_EQ(specs[0].emoji, "\xF0\x9F\x9B\x92");
  EXPECT_TRUE(specs[0].important);
  EXPECT_EQ(specs[1].uid, "page_view");
  EXPECT_FALSE(specs[1].attribution);
  EXPECT_FALSE(specs[1].automation);
  EXPECT_FALSE(specs[1].important);
}

TEST_F(ClientTest, EventParameterSpecsAreParsed) {
  const std::vector<EventParameterSpec> specs = ReadSpecs(
      [](const Client& client) { return client.event_parameter_specs("purchase"); },
      "/specs/event-parameters/purchase", TestServer::event_parameter_specs_body("purchase"));
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].parameter, "amount");
  EXPECT_EQ(specs[0].title, "Amount");
  EXPECT_EQ(specs[0].description, "Order total");
  EXPECT_EQ(specs[0].icon, "money");
  EXPECT_EQ(specs[0].data_type, "string");
  EXPECT_EQ(specs[0].visual_type, "currency");
  EXPECT_EQ(specs[0].max_length, std::optional<int>(20));
  EXPECT_TRUE(specs[0].required);
  EXPECT_EQ(specs[0].multi_value, 0);
  EXPECT_EQ(specs[1].parameter, "skus");
  EXPECT_EQ(specs[1].max_length, std::nullopt);
  EXPECT_FALSE(specs[1].required);
  EXPECT_EQ(specs[1].multi_value, 5);
}

TEST_F(ClientTest, EventParameterSpecsEncodeTheEventType) {
  Client client = MakeClient();
  std::vector<EventParameterSpec> specs = client.event_parameter_specs("a/b c");
  EXPECT_TRUE(specs.empty());
  EXPECT_EQ(server_.last_request().target,
            TestServer::stream_path() + "/specs/event-parameters/a%2Fb%20c");
}

// ---------------------------------------------------------------------------------------------
// Write flags

TEST_F(ClientTest, WriteOptionsBecomeBareQueryFlags) {
  struct Case {
    bool sync;
    bool dry_run;
    const char* query;  // nullptr: no query at all
  };
  const Case cases[] = {{false, false, nullptr},
                        {true, false, "_sync"},
                        {false, true, "_dryRun"},
                        {true, true, "_sync&_dryRun"}};
  Client client = MakeClient();
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string("sync=") + (c.sync ? "1" : "0") +
                 " dry_run=" + (c.dry_run ? "1" : "0"));
    WriteOptions options;
    options.sync = c.sync;
    options.dry_run = c.dry_run;

    BatchResult contacts = client.upsert_contacts({Contact("flag-user")}, options);
    RecordedRequest r = server_.last_request();
    EXPECT_EQ(r.raw_path, TestServer::stream_path() + "/contacts");
    if (c.query == nullptr) {
      EXPECT_FALSE(r.has_query) << r.target;
    } else {
      EXPECT_EQ(r.query, c.query) << r.target;
    }
    EXPECT_EQ(r.has_param("_sync"), c.sync);
    EXPECT_EQ(r.has_param("_dryRun"), c.dry_run);
    EXPECT_TRUE(contacts.all_accepted());

    BatchResult events =
        client.record_events({Event("flag-user", "flag-evt", "purchase")}, options);
    r = server_.last_request();
    EXPECT_EQ(r.raw_path, TestServer::stream_path() + "/events");
    if (c.query == nullptr) {
      EXPECT_FALSE(r.has_query) << r.target;
    } else {
      EXPECT_EQ(r.query, c.query) << r.target;
    }
    EXPECT_TRUE(events.all_accepted());
  }
}

// ---------------------------------------------------------------------------------------------
// Path encoding

TEST_F(ClientTest, UserIdsArePercentEncodedAsOnePathSegment) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a/b", "a%2Fb"},
      {"with space", "with%20space"},
      {"q?x#y", "q%3Fx%23y"},
      {"\xC3\xB1"
       "and\xC3\xBA",
       "%C3%B1and%C3%BA"},  // "ñandú"
      {"50%off", "50%25off"},
  };
  Client client = MakeClient();
  for (const auto& [id, encoded] : cases) {
    SCOPED_TRACE(id);
    const std::string expected_target = TestServer::stream_path() + "/contacts/" + encoded;
    server_.put_contact(id, {{"_user_id", id}, {"plan", "pro"}});

    ContactRecord record = client.get_contact(id);
    RecordedRequest get = server_.last_request();
    EXPECT_EQ(get.method, "GET");
    EXPECT_EQ(get.target, expected_target);
    EXPECT_EQ(record.user_id, id);
    EXPECT_EQ(record.attributes.value("plan", ""), "pro");

    DeleteResult deleted = client.delete_contact(id);
    RecordedRequest del = server_.last_request();
    EXPECT_EQ(del.method, "DELETE");
    EXPECT_EQ(del.target, expected_target);
    EXPECT_EQ(deleted.http_status, 200);
    EXPECT_FALSE(server_.stored_contact(id).has_value()) << "the server decoded another id";
  }
}

TEST_F(ClientTest, ProjectAndDatasourceArePercentEncoded) {
  Client client = MakeClient([](ClientOptions& o) {
    o.project = "proj/x y";
    o.datasource = "ds?1";
  });
  EXPECT_TRUE(Catch<NotFoundError>([&] { client.stream_info(); }));
  EXPECT_EQ(server_.last_request().target, "/v1/project/proj%2Fx%20y/datasource/ds%3F1/stream");
}

TEST_F(ClientTest, TrailingSlashInBaseUrlDoesNotDoubleTheSlash) {
  Client client = MakeClient([&](ClientOptions& o) { o.base_url = server_.base_url() + "/"; });
  client.stream_info();
  EXPECT_EQ(server_.last_request().target, TestServer::stream_path());
}

TEST_F(ClientTest, EmptyPathArgumentsAreRefusedBeforeSending) {
  Client client = MakeClient();
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.delete_contact(""); }));
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.get_contact(""); }));
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.event_parameter_specs(""); }));
  EXPECT_EQ(server_.request_count(), 0u);
}

}  // namespace
}  // namespace instasent::testing
