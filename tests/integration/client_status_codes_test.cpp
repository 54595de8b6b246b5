// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client against the in-process TestServer: what each answer
// status gives the caller (the typed error, or the per-item result of a 202 or 422), whatever
// the shape of the body.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "batch_reader.hpp"
#include "integration/client_fixture.hpp"

namespace instasent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Status codes

TEST_F(ClientTest, Status401IsUnauthorizedError) {
  Client client = MakeClient([](ClientOptions& o) { o.token = kWrongToken; });
  auto error = Catch<UnauthorizedError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  ExpectFromLastAnswer(*error, ErrorKind::unauthorized, 401, "Unauthenticated.");
  EXPECT_FALSE(error->request_id().empty());
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
  EXPECT_EQ(server_.last_request().header("Authorization").value_or(""),
            std::string("Bearer ") + kWrongToken);
}

TEST_F(ClientTest, Status401OnWritesIsUnauthorizedError) {
  Client client = MakeClient([](ClientOptions& o) { o.token = kWrongToken; });
  auto upsert = Catch<UnauthorizedError>([&] { client.upsert_contacts(MarkedContacts(2)); });
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->http_status(), 401);
  auto events =
      Catch<UnauthorizedError>([&] { client.record_events({Event("u", "e", "purchase")}); });
  ASSERT_TRUE(events);
  auto del = Catch<UnauthorizedError>([&] { client.delete_contact("u"); });
  ASSERT_TRUE(del);
  EXPECT_EQ(server_.request_count(), 3u);
}

TEST_F(ClientTest, Status404IsNotFoundError) {
  Client client = MakeClient([](ClientOptions& o) { o.project = "proj_other"; });
  auto error = Catch<NotFoundError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  ExpectFromLastAnswer(*error, ErrorKind::not_found, 404, "Datasource not found");
  EXPECT_EQ(server_.last_request().raw_path, "/v1/project/proj_other/datasource/ds_test/stream");

  auto upsert = Catch<NotFoundError>([&] { client.upsert_contacts(MarkedContacts(1)); });
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->http_status(), 404);
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, Status400IsBadRequestErrorWithServerMessage) {
  server_.enqueue(CannedResponse::json(400, {{"message", "Body should be an array"}})
                      .header("X-Request-Id", "req-bad-400"));
  Client client = MakeClient();
  std::vector<Contact> contacts = MarkedContacts(3);
  auto error = Catch<BadRequestError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::bad_request);
  EXPECT_EQ(error->http_status(), 400);
  EXPECT_EQ(error->server_message(), "Body should be an array");
  EXPECT_EQ(error->request_id(), "req-bad-400");
  EXPECT_EQ(server_.request_count(), 1u);
  if (const BatchResult* partial = error->partial_result()) {
    ASSERT_EQ(partial->size(), 3u);
    for (const ItemResult& item : partial->items()) {
      EXPECT_EQ(item.status, ItemStatus::not_sent) << item.index;
      EXPECT_EQ(item.errors.count(""), 1u) << "request-level message under the key \"\"";
    }
  }
}

TEST_F(ClientTest, Status422IsReturnedWithEveryItemRejected) {
  // The default server answers 422 when every item fails validation.
  std::vector<Contact> contacts{Contact("bad-1").email("not-an-email"),
                                Contact("bad-2").email("also-wrong")};
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);
  EXPECT_EQ(server_.request_count(), 1u);
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result.count(ItemStatus::accepted), 0u);
  EXPECT_EQ(result.count(ItemStatus::rejected), 2u);
  std::vector<ItemResult> failed = result.failed();
  ASSERT_EQ(failed.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(failed[i].index, i);
    EXPECT_EQ(failed[i].id, contacts[i].user_id());
    EXPECT_EQ(failed[i].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  }
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 422);
  EXPECT_EQ(result.requests()[0].parsed_body()["entity"]["failed"], 2);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, Partial202ReportsFailedItemsWithIndexIdAndFieldErrors) {
  std::vector<Contact> contacts{Contact("ok-a").email("a@example.com"),
                                Contact("bad-b").email("b-at-example.com"),
                                Contact("ok-c").first_name("C")};
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);
  ASSERT_EQ(result.size(), 3u);
  EXPECT_FALSE(result.all_accepted());
  EXPECT_EQ(result.count(ItemStatus::accepted), 2u);
  std::vector<ItemResult> failed = result.failed();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].index, 1u);
  EXPECT_EQ(failed[0].id, "bad-b");
  EXPECT_EQ(failed[0].status, ItemStatus::rejected);
  EXPECT_EQ(failed[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[2].status, ItemStatus::accepted);
  EXPECT_EQ(result.requests().at(0).http_status, 202);
}

TEST_F(ClientTest, Partial202ForEventsUsesEventIds) {
  const json body = EntityBody({{{"status", "success"}, {"_user_id", "u1"}, {"_event_id", "e1"}},
                                {{"status", "error"},
                                 {"_user_id", "u2"},
                                 {"_event_id", "e2"},
                                 {"errors", {{"_event_date", {"Invalid date"}}}}}});
  BatchResult result =
      RecordEventsAnswered202(body, {Event("u1", "e1", "purchase"), Event("u2", "e2", "purchase")});
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "e1");
  ASSERT_EQ(result.failed().size(), 1u);
  EXPECT_EQ(result.failed()[0].index, 1u);
  EXPECT_EQ(result.failed()[0].id, "e2");
  EXPECT_EQ(result.failed()[0].errors, (FieldErrors{{"_event_date", {"Invalid date"}}}));
}

TEST_F(ClientTest, ConnectorsResponseShapeIsRead) {
  json body = {
      {"success", true},
      {"status", "accepted"},
      {"entitiesSuccess", 2},
      {"entitiesFailures", 1},
      {"entitiesLimit", 100},
      {"dryRun", false},
      {"accepted",
       {{{"position", 0}, {"item", {{"_user_id", "c0"}}}},
        {{"position", 2}, {"item", {{"_user_id", "c2"}}}}}},
      {"errors",
       {{{"position", 1},
         {"item", {{"_user_id", "c1"}, {"_email", "nope"}}},
         {"error", {{"_email", {"Invalid format"}}}}}}},
  };
  server_.enqueue(CannedResponse::json(202, body));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(
      {Contact("c0"), Contact("c1").email("nope@example.com"), Contact("c2")});
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[2].status, ItemStatus::accepted);
  ASSERT_EQ(result.failed().size(), 1u);
  EXPECT_EQ(result.failed()[0].index, 1u);
  EXPECT_EQ(result.failed()[0].id, "c1");
  EXPECT_EQ(result.failed()[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(result.requests().at(0).parsed_body(), body);
  EXPECT_EQ(result.requests().at(0).body, body.dump());
}

TEST_F(ClientTest, ConnectorsResponseShapeIsReadForEvents) {
  json body = {{"success", true},
               {"entitiesSuccess", 1},
               {"accepted", {{{"position", 0}, {"item", {{"_event_id", "e0"}}}}}},
               {"errors",
                {{{"position", 1},
                  {"item", {{"_event_id", "e1"}}},
                  {"error", {{"_event_type", {"Unknown event type"}}}}}}}};
  BatchResult result =
      RecordEventsAnswered202(body, {Event("u", "e0", "purchase"), Event("u", "e1", "nope")});
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "e0");
  EXPECT_EQ(result[1].status, ItemStatus::rejected);
  EXPECT_EQ(result[1].errors, (FieldErrors{{"_event_type", {"Unknown event type"}}}));
}

TEST_F(ClientTest, UnreadableOrMismatched202BodiesGiveUnknownItems) {
  struct Case {
    const char* name;
    std::string body;
    bool body_is_json;
  };
  const json ok0 = {{"status", "success"}, {"_user_id", "m0"}};
  const json ok1 = {{"status", "success"}, {"_user_id", "m1"}};
  const std::vector<Case> cases = {
      {"not json", "<html>Accepted</html>", false},
      {"empty body", "", false},
      {"truncated", R"({"entity":{"successful":2,"failed":0,"items":[{"status":"succ)", false},
      {"empty object", "{}", true},
      {"array instead of object", "[1,2]", true},
      {"no items", R"({"entity":{"successful":2,"failed":0}})", true},
      {"items not an array", R"({"entity":{"items":"all good"}})", true},
      {"empty items", EntityBody({}).dump(), true},
      {"ids of other contacts",
       EntityBody({{{"status", "success"}, {"_user_id", "other-0"}},
                   {{"status", "success"}, {"_user_id", "other-1"}}})
           .dump(),
       true},
      {"unrecognised status",
       EntityBody(
           {{{"status", "queued"}, {"_user_id", "m0"}}, {{"status", "queued"}, {"_user_id", "m1"}}})
           .dump(),
       true},
      {"connectors positions out of range",
       json({{"success", true},
             {"accepted",
              {{{"position", 7}, {"item", {{"_user_id", "m0"}}}},
               {{"position", -1}, {"item", {{"_user_id", "m1"}}}}}},
             {"errors", json::array()}})
           .dump(),
       true},
      {"connectors positions not numbers",
       json({{"success", true},
             {"accepted",
              {{{"position", "0"}, {"item", {{"_user_id", "m0"}}}},
               {{"position", nullptr}, {"item", {{"_user_id", "m1"}}}}}}})
           .dump(),
       true},
  };
  Client client = MakeClient();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CannedResponse response = CannedResponse::text(202, c.body);
    if (c.body.empty()) response.content_type.clear();
    server_.enqueue(response);
    BatchResult result;
    try {
      result = client.upsert_contacts({Contact("m0"), Contact("m1")});
    } catch (const Error& e) {
      ExpectNoSecrets(e);
      ADD_FAILURE() << "a 202 must not throw; got kind=" << to_string(e.kind()) << ": " << e.what();
      continue;
    }
    ASSERT_EQ(result.size(), 2u);
    for (const ItemResult& item : result.items()) {
      EXPECT_EQ(item.status, ItemStatus::unknown) << "item " << item.index;
    }
    EXPECT_EQ(result.count(ItemStatus::accepted), 0u);
    ASSERT_EQ(result.requests().size(), 1u);
    EXPECT_EQ(result.requests()[0].http_status, 202);
    // The raw answer stays reachable, byte for byte.
    EXPECT_EQ(result.requests()[0].body, c.body);
    if (!c.body_is_json) {
      EXPECT_TRUE(result.requests()[0].parsed_body().is_null()) << result.requests()[0].body;
    }
  }
}

TEST_F(ClientTest, ItemsMissingFromThe202AnswerAreUnknown) {
  server_.enqueue(
      CannedResponse::json(202, EntityBody({{{"status", "success"}, {"_user_id", "m0"}},
                                            {{"status", "success"}, {"_user_id", "m1"}}})));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts({Contact("m0"), Contact("m1"), Contact("m2")});
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[2].status, ItemStatus::unknown);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_NE(result[i].status, ItemStatus::rejected);
    EXPECT_NE(result[i].status, ItemStatus::not_sent);
  }
}

// The client reads every 202 exactly as parse_batch_items(), the reader of every shape, reads the
// same body (the library may take a faster path for common answers; the outcome must not differ).
void ExpectClientReadsLikeParseBatchItems(TestServer& server, const Client& client,
                                          const std::string& body) {
  server.enqueue(CannedResponse::text(202, body));
  const std::vector<std::string> ids = {"m0", "m1"};
  BatchResult result = client.upsert_contacts({Contact("m0"), Contact("m1")});
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) parsed = nullptr;
  std::vector<ItemResult> expected =
      detail::parse_batch_items(parsed, detail::BatchKind::contacts, ids, 0);
  ASSERT_EQ(result.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result[i].index, expected[i].index);
    EXPECT_EQ(result[i].id, expected[i].id);
    EXPECT_EQ(result[i].status, expected[i].status)
        << "item " << i << " (left: the client, right: parse_batch_items)";
    EXPECT_EQ(result[i].errors, expected[i].errors) << "item " << i;
  }
}

TEST_F(ClientTest, ClientReadsAnswersExactlyAsParseBatchItems) {
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  const std::vector<std::pair<const char*, std::string>> bodies = {
      {"plain",
       R"({"entity":{"successful":2,"failed":0,"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"spaced, extra fields",
       "{ \"entity\" : {\n \"items\" : [ { \"_user_id\" : \"m0\" , \"status\" : \"success\" , "
       "\"x\" : { \"a\" : [ 1 , -0.5e+3 , true , false , null ] } } ,\n { \"status\" : "
       "\"success\" , \"_user_id\" : \"m1\" } ] } , \"meta\" : 0 }"},
      {"one rejected",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"error","_user_id":"m1","errors":{"_email":["Invalid format"]}}]}})"},
      {"other id",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"zz"}]}})"},
      {"too many items",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"},{"status":"success"}]}})"},
      {"status not a string",
       R"({"entity":{"items":[{"status":1,"_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"id not a string",
       R"({"entity":{"items":[{"status":"success","_user_id":7},{"status":"success","_user_id":"m1"}]}})"},
      {"no ids", R"({"entity":{"items":[{"status":"success"},{"status":"success"}]}})"},
      {"non-ASCII elsewhere",
       "{\"entity\":{\"items\":[{\"status\":\"success\",\"_user_id\":\"m0\",\"n\":\"\xC3\xB1\"},{"
       "\"status\":\"success\",\"_user_id\":\"m1\"}]}}"},
      {"escape elsewhere",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0","n":"a\"b"},{"status":"success","_user_id":"m1"}]}})"},
      {"escaped id",
       R"({"entity":{"items":[{"status":"success","_user_id":"m\u0030"},{"status":"success","_user_id":"m1"}]}})"},
      {"duplicate status",
       R"({"entity":{"items":[{"status":"error","status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"duplicate entity",
       R"({"entity":{"items":[]},"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"trailing garbage",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}} x)"},
      {"trailing comma",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"},]}})"},
      {"leading zero",
       R"({"n":01,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"deep nesting elsewhere",
       R"({"deep":)" + deep +
           R"(,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
  };
  Client client = MakeClient();
  for (const auto& [name, body] : bodies) {
    SCOPED_TRACE(name);
    ExpectClientReadsLikeParseBatchItems(server_, client, body);
  }
}

TEST_F(ClientTest, AnswerWithOutOfRangeNumberIsReadLikeParseBatchItems) {
  // nlohmann/json (and so parse_batch_items and BatchRequest::parsed_body) cannot read 1e999;
  // an item must not be reported accepted from a body the result itself calls "not JSON".
  const std::string body =
      R"({"n":1e999,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})";
  Client client = MakeClient();
  ExpectClientReadsLikeParseBatchItems(server_, client, body);
}

TEST_F(ClientTest, UnreadableSuccessBodyOnReadsIsUnreadableResponseError) {
  server_.enqueue(
      CannedResponse::text(200, "<html>not json</html>").header("X-Request-Id", "req-html"));
  server_.enqueue(CannedResponse::text(200, "<html>not json</html>"), 10);
  Client client = MakeClient();
  auto error = Catch<UnreadableResponseError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::unreadable_response);
  EXPECT_EQ(error->http_status(), 200);
  EXPECT_EQ(error->request_id(), "req-html");
}

TEST_F(ClientTest, WrongShapeOnReadsIsUnreadableResponseErrorWithRequestId) {
  // error.hpp: request_id() is "the X-Request-Id of the last answer, when present".
  server_.enqueue(
      CannedResponse::json(200, {{"unexpected", true}}).header("X-Request-Id", "req-no-contact"));
  server_.enqueue(
      CannedResponse::json(200, {{"specs", "not a list"}}).header("X-Request-Id", "req-no-specs"));
  Client client = MakeClient();
  auto contact = Catch<UnreadableResponseError>([&] { client.get_contact("user-1"); });
  ASSERT_TRUE(contact);
  EXPECT_EQ(contact->http_status(), 200);
  EXPECT_EQ(contact->request_id(), "req-no-contact");
  auto specs = Catch<UnreadableResponseError>([&] { client.attribute_specs(); });
  ASSERT_TRUE(specs);
  EXPECT_EQ(specs->http_status(), 200);
  EXPECT_EQ(specs->request_id(), "req-no-specs");
}

TEST_F(ClientTest, RedirectsAreNotFollowed) {
  server_.enqueue(CannedResponse::empty(302).header("Location", server_.base_url() + "/elsewhere"));
  Client client = MakeClient();
  auto error = CatchAnyError([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 302);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

}  // namespace
}  // namespace instasent::testing
