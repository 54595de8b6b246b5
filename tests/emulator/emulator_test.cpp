// SPDX-License-Identifier: Apache-2.0
// The emulator against the wire contract (docs/openapi.yaml, tools/emulator/README.md), rule by
// rule: served in-process and spoken to over HTTP, plus the instasent-emulator binary as a child
// process.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_fixture.hpp"
#include "support/scratch_dir.hpp"

namespace instasent::emulator::testing {
namespace {

using Clock = std::chrono::system_clock;

// ---------------------------------------------------------------------------------------------
// Helpers

json contact(const std::string& user_id, json attributes = json::object()) {
  attributes["_user_id"] = user_id;
  return attributes;
}

json event(const std::string& user_id, const std::string& event_id, json fields = json::object()) {
  fields["_user_id"] = user_id;
  fields["_event_id"] = event_id;
  if (!fields.contains("_event_type")) fields["_event_type"] = "purchase";
  return fields;
}

std::int64_t unix_seconds(Clock::time_point when = Clock::now()) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

// "2026-11-28T10:00:00.000Z"
std::string iso8601(Clock::time_point when) {
  const std::time_t seconds = Clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
  return buffer;
}

// Unix seconds of an ISO 8601 date-time with a zone (Z or ±HH:MM); nullopt when it is not one.
std::optional<std::int64_t> parse_iso8601_seconds(const std::string& text) {
  std::tm utc{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &utc);
  if (rest == nullptr) return std::nullopt;
  std::string zone = rest;
  if (!zone.empty() && zone.front() == '.') {
    std::size_t digits = 1;
    while (digits < zone.size() && zone[digits] >= '0' && zone[digits] <= '9') ++digits;
    if (digits == 1) return std::nullopt;
    zone.erase(0, digits);
  }
  std::int64_t offset = 0;
  if (zone == "Z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    offset = (std::stoi(zone.substr(1, 2)) * 3600 + std::stoi(zone.substr(4, 2)) * 60) *
             (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&utc)) - offset;
}

// Unix seconds of an HTTP IMF-fixdate ("Sat, 28 Nov 2026 10:00:00 GMT").
std::optional<std::int64_t> parse_http_date(const std::string& text) {
  std::tm utc{};
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&utc));
}

// Every byte but the unreserved ones as %XX.
std::string percent_encode(const std::string& text) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' || byte == '.' || byte == '~') {
      out.push_back(c);
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return out;
}

AssertionResult has_status(const httplib::Result& result, int status) {
  if (!result) return AssertionFailure() << "no response: " << httplib::to_string(result.error());
  if (result->status != status) {
    return AssertionFailure() << "status " << result->status << ", wanted " << status
                              << "; body: " << result->body;
  }
  return AssertionSuccess();
}

// `status` with the documented error body {"message": "<non-empty text>"}.
AssertionResult is_message(const httplib::Result& result, int status) {
  if (AssertionResult ok = has_status(result, status); !ok) return ok;
  const json body = body_json(result);
  if (!body.is_object() || !body.contains("message") || !body["message"].is_string() ||
      body["message"].get<std::string>().empty()) {
    return AssertionFailure() << "body is not {\"message\": ...}: " << result->body;
  }
  if (result->get_header_value("Content-Type").rfind("application/json", 0) != 0) {
    return AssertionFailure() << "Content-Type " << result->get_header_value("Content-Type");
  }
  return AssertionSuccess();
}

// The documented batch answer: {"entity": {"successful", "failed", "items": [...]}} with
// `status`, `successful` and `failed`.
AssertionResult is_batch(const httplib::Result& result, int status, std::size_t successful,
                         std::size_t failed) {
  if (AssertionResult ok = has_status(result, status); !ok) return ok;
  const json body = body_json(result);
  const json entity = body.is_object() ? body.value("entity", json()) : json();
  if (!entity.is_object() || !entity.contains("items") || !entity["items"].is_array()) {
    return AssertionFailure() << "not the documented batch shape: " << result->body;
  }
  if (entity.value("successful", json()) != successful ||
      entity.value("failed", json()) != failed || entity["items"].size() != successful + failed) {
    return AssertionFailure() << "wanted " << successful << " successful and " << failed
                              << " failed: " << result->body;
  }
  return AssertionSuccess();
}

json items_of(const httplib::Result& result) { return body_json(result)["entity"]["items"]; }

// A header's value as a whole number; -1 when it is missing or not one.
long header_number(const httplib::Result& result, const char* name) {
  if (!result) return -1;
  const std::string text = result->get_header_value(name);
  std::size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    return -1;
  }
  return used == text.size() ? value : -1;
}

// X-RateLimit-Limit/Remaining/Reset (Reset a Unix time after `before`, at most 60 s after
// `after`), a non-empty X-Request-Id and a Date near now.
AssertionResult has_standard_headers(const httplib::Result& result, std::int64_t before,
                                     std::int64_t after) {
  if (!result) return AssertionFailure() << "no response";
  const long limit = header_number(result, "X-RateLimit-Limit");
  const long remaining = header_number(result, "X-RateLimit-Remaining");
  const long reset = header_number(result, "X-RateLimit-Reset");
  if (limit <= 0) return AssertionFailure() << "X-RateLimit-Limit missing or not a number";
  if (remaining < 0 || remaining > limit) {
    return AssertionFailure() << "X-RateLimit-Remaining missing or out of range";
  }
  if (reset <= before || reset > after + 60) {
    return AssertionFailure() << "X-RateLimit-Reset " << reset << " is not within 60 s of now ("
                              << before << ")";
  }
  if (result->get_header_value("X-Request-Id").empty()) {
    return AssertionFailure() << "no X-Request-Id";
  }
  const auto date = parse_http_date(result->get_header_value("Date"));
  if (!date || *date < before - 2 || *date > after + 2) {
    return AssertionFailure() << "Date missing or not now: \"" << result->get_header_value("Date")
                              << "\"";
  }
  return AssertionSuccess();
}

json only_contacts(const RunningEmulator& server, const std::string& project = kProject,
                   const std::string& datasource = kDatasource) {
  return server.state(project, datasource)["contacts"];
}

json only_events(const RunningEmulator& server, const std::string& project = kProject,
                 const std::string& datasource = kDatasource) {
  return server.state(project, datasource)["events"];
}

// ---------------------------------------------------------------------------------------------
// Authentication: 401 for a missing, malformed or unknown token; 404 for a datasource the token
// may not use.

TEST(Auth, MissingMalformedOrUnknownTokenIs401) {
  RunningEmulator server;
  const std::vector<httplib::Headers> cases = {
      {},
      {{"Authorization", ""}},
      {{"Authorization", "Bearer"}},
      {{"Authorization", "Bearer "}},
      {{"Authorization", kToken}},
      {{"Authorization", std::string("Basic ") + kToken}},
      {{"Authorization", "Bearer unknown-token"}},
      {{"Authorization", std::string("Bearer ") + kToken + "x"}},
  };
  for (const auto& headers : cases) {
    SCOPED_TRACE(headers.empty() ? "(none)" : headers.begin()->second);
    EXPECT_TRUE(is_message(server.client().Get(stream_path(), headers), 401));
    EXPECT_TRUE(
        is_message(server.client().Post(stream_path("/contacts"), headers,
                                        json::array({contact("U1")}).dump(), "application/json"),
                   401));
  }
  EXPECT_TRUE(is_message(server.get(stream_path("/specs/attributes"), nullptr), 401));
  EXPECT_TRUE(is_message(server.del(stream_path("/contacts/U1"), "nope"), 401));
  EXPECT_TRUE(only_contacts(server).empty());
}

TEST(Auth, UnknownProjectOrDatasourceOrAnotherTenantsTokenIs404) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(server.get(stream_path()), 200));
  ASSERT_TRUE(
      has_status(server.get(stream_path("", kOtherProject, kOtherDatasource), kOtherToken), 200));

  EXPECT_TRUE(is_message(server.get(stream_path("", "proj_unknown", kDatasource)), 404));
  EXPECT_TRUE(is_message(server.get(stream_path("", kProject, "ds_unknown")), 404));
  EXPECT_TRUE(is_message(server.get(stream_path("", kOtherProject, kDatasource)), 404));
  // A valid token of another datasource.
  EXPECT_TRUE(is_message(server.get(stream_path(), kOtherToken), 404));
  EXPECT_TRUE(
      is_message(server.get(stream_path("", kOtherProject, kOtherDatasource), kToken), 404));
  EXPECT_TRUE(is_message(
      server.post(stream_path("/contacts"), json::array({contact("U1")}), kOtherToken), 404));
  EXPECT_TRUE(is_message(server.get(stream_path("/specs/events"), kOtherToken), 404));
  EXPECT_TRUE(only_contacts(server).empty());
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST(Endpoints, StreamAnswersTheMetadataObjects) {
  RunningEmulator server;
  const auto result = server.get(stream_path());
  ASSERT_TRUE(has_status(result, 200));
  EXPECT_EQ(result->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  const json body = body_json(result);
  for (const char* key : {"organization", "project", "datasource", "stream"}) {
    EXPECT_TRUE(body.contains(key) && body[key].is_object()) << key << " in " << result->body;
  }
}

TEST(Endpoints, PostContactsAndEventsAnswer202) {
  RunningEmulator server;
  EXPECT_TRUE(
      is_batch(server.post(stream_path("/contacts"), json::array({contact("U1")})), 202, 1, 0));
  EXPECT_TRUE(
      is_batch(server.post(stream_path("/events"), json::array({event("U1", "E1")})), 202, 1, 0));
  EXPECT_EQ(only_contacts(server).size(), 1u);
  EXPECT_EQ(only_events(server).size(), 1u);
}

TEST(Endpoints, GetContactAnswersItsStoredAttributes) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(
      server.post(
          stream_path("/contacts"),
          json::array({contact(
              "U1", {{"_email", "ann@example.com"}, {"plan", "gold"}, {"tags", {"a", "b"}}})})),
      202));
  const auto result = server.get(stream_path("/contacts/U1"));
  ASSERT_TRUE(has_status(result, 200));
  const json data = body_json(result)["contact"]["contactData"];
  EXPECT_EQ(data.value("_user_id", ""), "U1");
  EXPECT_EQ(data.value("_email", ""), "ann@example.com");
  EXPECT_EQ(data.value("plan", ""), "gold");
  EXPECT_EQ(data.value("tags", json()), json({"a", "b"}));
}

TEST(Endpoints, GetOrDeleteOfAnUnknownContactIs404) {
  RunningEmulator server;
  EXPECT_TRUE(is_message(server.get(stream_path("/contacts/nobody")), 404));
  EXPECT_TRUE(is_message(server.del(stream_path("/contacts/nobody")), 404));
}

TEST(Endpoints, DeleteContactRemovesIt) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(
      server.post(stream_path("/contacts"), json::array({contact("U1"), contact("U2")})), 202));
  const auto result = server.del(stream_path("/contacts/U1"));
  ASSERT_TRUE(result);
  EXPECT_GE(result->status, 200);
  EXPECT_LT(result->status, 300);
  EXPECT_TRUE(is_message(server.get(stream_path("/contacts/U1")), 404));
  EXPECT_TRUE(has_status(server.get(stream_path("/contacts/U2")), 200));
  EXPECT_EQ(only_contacts(server), json({{"U2", {{"_user_id", "U2"}}}}));
}

TEST(Endpoints, PercentEncodedContactIdsDecodeToTheStoredId) {
  RunningEmulator server;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a/b", "a%2Fb"},
      {"\xC3\xB1", "%C3%B1"},
      {"\xC3\xB1", "%c3%b1"},
      {"a b", "a%20b"},
      {"a+b", "a%2Bb"},
      {"50%", "50%25"},
      {"q?x=1#f", "q%3Fx%3D1%23f"},
      {"semi;colon,comma", percent_encode("semi;colon,comma")},
  };
  for (const auto& [id, encoded] : cases) {
    SCOPED_TRACE(encoded);
    ASSERT_TRUE(has_status(
        server.post(stream_path("/contacts"), json::array({contact(id, {{"plan", encoded}})})),
        202));
    const auto got = server.get(stream_path("/contacts/" + encoded));
    ASSERT_TRUE(has_status(got, 200));
    EXPECT_EQ(body_json(got)["contact"]["contactData"].value("_user_id", ""), id);
    EXPECT_EQ(body_json(got)["contact"]["contactData"].value("plan", ""), encoded);
    const auto deleted = server.del(stream_path("/contacts/" + encoded));
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status / 100, 2) << deleted->body;
    EXPECT_FALSE(only_contacts(server).contains(id));
  }
}

// `_user_id` is any string and the path segment its percent-encoding: line breaks included.
TEST(Endpoints, ContactIdsWithLineBreaksRoundTrip) {
  RunningEmulator server;
  for (const char* id : {"line\nbreak", "carriage\rreturn"}) {
    SCOPED_TRACE(percent_encode(id));
    ASSERT_TRUE(has_status(server.post(stream_path("/contacts"), json::array({contact(id)})), 202));
    const auto got = server.get(stream_path("/contacts/" + percent_encode(id)));
    ASSERT_TRUE(has_status(got, 200));
    EXPECT_EQ(body_json(got)["contact"]["contactData"].value("_user_id", ""), id);
    EXPECT_TRUE(
        is_message(server.get(stream_path("/contacts/" + percent_encode(id)), nullptr), 401));
    const auto deleted = server.del(stream_path("/contacts/" + percent_encode(id)));
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status / 100, 2) << deleted->body;
  }
}

AssertionResult specs_have_keys(const httplib::Result& result,
                                const std::vector<const char*>& keys) {
  if (AssertionResult ok = has_status(result, 200); !ok) return ok;
  const json body = body_json(result);
  if (!body.is_object() || !body.contains("specs") || !body["specs"].is_array() ||
      body["specs"].empty()) {
    return AssertionFailure() << "no {\"specs\": [...]}: " << result->body;
  }
  for (const json& spec : body["specs"]) {
    for (const char* key : keys) {
      if (!spec.contains(key)) return AssertionFailure() << "no \"" << key << "\" in " << spec;
    }
  }
  return AssertionSuccess();
}

std::set<std::string> spec_values(const httplib::Result& result, const char* key) {
  std::set<std::string> values;
  const json body = body_json(result);
  for (const json& spec : body.value("specs", json::array())) values.insert(spec.value(key, ""));
  return values;
}

TEST(Endpoints, AttributeSpecs) {
  RunningEmulator server;
  const auto result = server.get(stream_path("/specs/attributes"));
  EXPECT_TRUE(
      specs_have_keys(result, {"uid", "displayLabel", "description", "dataType", "multivalue",
                               "readOnly", "requiredInWebhook", "important", "visible", "custom"}));
  const auto uids = spec_values(result, "uid");
  for (const char* uid : {"_user_id", "_first_name", "_last_name", "_email", "_phone_mobile"}) {
    EXPECT_EQ(uids.count(uid), 1u) << uid;
  }
}

TEST(Endpoints, EventSpecs) {
  RunningEmulator server;
  const auto result = server.get(stream_path("/specs/events"));
  EXPECT_TRUE(specs_have_keys(result, {"uid", "name", "description", "category", "attribution",
                                       "automation", "icon", "emoji", "important"}));
  EXPECT_EQ(spec_values(result, "uid").count("purchase"), 1u);
}

TEST(Endpoints, EventParameterSpecs) {
  RunningEmulator server;
  const auto result = server.get(stream_path("/specs/event-parameters/purchase"));
  EXPECT_TRUE(specs_have_keys(result, {"parameter", "title", "description", "icon", "dataType",
                                       "visualType", "maxLength", "required", "multiValue"}));
  EXPECT_EQ(spec_values(result, "parameter").count("amount"), 1u);
}

TEST(Endpoints, EventParametersOfAnUnknownTypeAre404) {
  RunningEmulator server;
  EXPECT_TRUE(is_message(server.get(stream_path("/specs/event-parameters/no_such_type")), 404));
}

TEST(Endpoints, UnknownPathsAre404) {
  RunningEmulator server;
  for (const std::string& path :
       {stream_path("/nothing"), stream_path("/contacts"), stream_path("/events"),
        stream_path("/specs"), stream_path("/specs/unknown"),
        stream_path("/specs/event-parameters"), stream_path("/contacts/U1/extra"), stream_path("s"),
        stream_path("/"), std::string("/v1/project/proj_a/datasource/ds_a"),
        std::string("/v1/project/proj_a"), std::string("/v2/project/proj_a/datasource/ds_a/stream"),
        std::string("/"), std::string("/nothing")}) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(is_message(server.get(path), 404));
  }
}

// ---------------------------------------------------------------------------------------------
// Batches

json contacts_batch(std::size_t count, const std::string& prefix = "U") {
  json batch = json::array();
  for (std::size_t i = 0; i < count; ++i) batch.push_back(contact(prefix + std::to_string(i)));
  return batch;
}

json events_batch(std::size_t count) {
  json batch = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    batch.push_back(event("U" + std::to_string(i), "E" + std::to_string(i)));
  }
  return batch;
}

TEST(Batches, BodiesThatAreNotABatchAre400) {
  RunningEmulator server;
  const std::vector<std::string> bodies = {
      R"({"_user_id": "U1"})",
      R"("U1")",
      "42",
      "null",
      "true",
      "",
      "[",
      R"([{"_user_id": "U1"})",
      R"([{"_user_id": "U1"},])",
      "not json",
      "[]",
      contacts_batch(101).dump(),
      events_batch(101).dump(),
      "[1]",
      R"(["U1"])",
      "[null]",
      "[[]]",
      R"([{"_user_id": "U1", "_event_id": "E1", "_event_type": "purchase"}, 7])",
  };
  for (const char* endpoint : {"/contacts", "/events"}) {
    for (const std::string& body : bodies) {
      SCOPED_TRACE(std::string(endpoint) + " " + body.substr(0, 60));
      EXPECT_TRUE(is_message(server.post(stream_path(endpoint), body), 400));
    }
  }
  EXPECT_TRUE(only_contacts(server).empty());
  EXPECT_TRUE(only_events(server).empty());
}

// nlohmann, which read bodies first, ends the text at a NUL between tokens: what follows is
// not read, except by the nesting check, which comes first.
TEST(Batches, ANulAfterTheBatchEndsItButNotTheNestingCheck) {
  RunningEmulator server;
  const std::string batch = json::array({contact("U1")}).dump();
  EXPECT_TRUE(
      is_batch(server.post(stream_path("/contacts"), batch + std::string("\0 x{", 4)), 202, 1, 0));
  const auto deep =
      server.post(stream_path("/contacts"), batch + std::string(1, '\0') + std::string(33, '['));
  ASSERT_TRUE(is_message(deep, 400));
  EXPECT_EQ(body_json(deep)["message"], "Body nested too deeply");
  const auto malformed = server.post(stream_path("/contacts"), std::string("[\0]", 3));
  ASSERT_TRUE(is_message(malformed, 400));
  EXPECT_EQ(body_json(malformed)["message"], "Malformed JSON body");
}

TEST(Batches, AHundredItemsAreAccepted) {
  RunningEmulator server;
  EXPECT_TRUE(is_batch(server.post(stream_path("/contacts"), contacts_batch(100)), 202, 100, 0));
  EXPECT_TRUE(is_batch(server.post(stream_path("/events"), events_batch(100)), 202, 100, 0));
  EXPECT_EQ(only_contacts(server).size(), 100u);
  EXPECT_EQ(only_events(server).size(), 100u);
}

TEST(Batches, ItemErrorsMapFieldsToMessages) {
  RunningEmulator server;
  const auto result = server.post(
      stream_path("/contacts"),
      json::array({contact("U1"), contact("U2"), contact("U3", {{"_email", "not-an-email"}})}));
  ASSERT_TRUE(is_batch(result, 202, 2, 1));
  // The documented example, item for item.
  EXPECT_EQ(items_of(result), json::parse(R"([
      {"status": "success", "_user_id": "U1"},
      {"status": "success", "_user_id": "U2"},
      {"status": "error", "_user_id": "U3", "errors": {"_email": ["Invalid format"]}}])"));
}

TEST(Batches, SomeFailed202AllFailed422) {
  RunningEmulator server;
  const json bad_contact = contact("", {{"_email", "x"}});
  EXPECT_TRUE(is_batch(
      server.post(stream_path("/contacts"), json::array({contact("U1"), bad_contact})), 202, 1, 1));
  EXPECT_TRUE(is_batch(
      server.post(stream_path("/contacts"), json::array({bad_contact, bad_contact})), 422, 0, 2));
  const json bad_event = event("U1", "E-bad", {{"_event_date", "yesterday"}});
  EXPECT_TRUE(is_batch(
      server.post(stream_path("/events"), json::array({bad_event, event("U1", "E1")})), 202, 1, 1));
  EXPECT_TRUE(is_batch(server.post(stream_path("/events"), json::array({bad_event})), 422, 0, 1));
  EXPECT_EQ(only_contacts(server).size(), 1u);
  EXPECT_EQ(only_events(server).size(), 1u);
}

TEST(Batches, ItemsFollowTheInputOrder) {
  RunningEmulator server;
  json contacts = json::array();
  json events = json::array();
  std::vector<bool> valid;
  for (int i = 0; i < 12; ++i) {
    const bool ok = (i * 7) % 3 != 0;
    valid.push_back(ok);
    const std::string id = "user-" + std::to_string((i * 5) % 12);
    contacts.push_back(ok ? contact(id) : contact(id, {{"_email", "bad"}}));
    events.push_back(ok ? event(id, "event-" + std::to_string(i))
                        : event(id, "event-" + std::to_string(i), {{"_event_date", "bad"}}));
  }
  const json contact_items = items_of(server.post(stream_path("/contacts"), contacts));
  const json event_items = items_of(server.post(stream_path("/events"), events));
  ASSERT_EQ(contact_items.size(), contacts.size());
  ASSERT_EQ(event_items.size(), events.size());
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    SCOPED_TRACE(i);
    const char* status = valid[i] ? "success" : "error";
    EXPECT_EQ(contact_items[i].value("_user_id", ""), contacts[i]["_user_id"]);
    EXPECT_EQ(contact_items[i].value("status", ""), status);
    EXPECT_EQ(contact_items[i].contains("errors"), !valid[i]);
    EXPECT_EQ(event_items[i].value("_user_id", ""), events[i]["_user_id"]);
    EXPECT_EQ(event_items[i].value("_event_id", ""), events[i]["_event_id"]);
    EXPECT_EQ(event_items[i].value("status", ""), status);
    EXPECT_EQ(event_items[i].contains("errors"), !valid[i]);
  }
}

TEST(Batches, DryRunValidatesAndStoresNothing) {
  RunningEmulator server;
  for (const char* query : {"?_dryRun", "?_dryRun=true", "?_dryRun=1", "?_sync&_dryRun",
                            "?_dryRun&_sync", "?_sync=1&_dryRun=true"}) {
    SCOPED_TRACE(query);
    const auto contacts = server.post(
        stream_path("/contacts") + query,
        json::array({contact("U1", {{"plan", "gold"}}), contact("U2", {{"_email", "bad"}})}));
    ASSERT_TRUE(is_batch(contacts, 202, 1, 1));
    EXPECT_EQ(items_of(contacts)[1]["errors"], json({{"_email", {"Invalid format"}}}));
    EXPECT_TRUE(is_batch(server.post(stream_path("/contacts") + query,
                                     json::array({contact("U3", {{"_email", "x"}})})),
                         422, 0, 1));
    EXPECT_TRUE(
        is_batch(server.post(stream_path("/events") + query,
                             json::array({event("U4", "E1", {{"_user_data", {{"plan", "gold"}}}}),
                                          event("U4", "E2", {{"_event_date", "bad"}})})),
                 202, 1, 1));
    EXPECT_TRUE(is_message(server.get(stream_path("/contacts/U1")), 404));
    EXPECT_TRUE(is_message(server.get(stream_path("/contacts/U4")), 404));
    EXPECT_TRUE(only_contacts(server).empty());
    EXPECT_TRUE(only_events(server).empty());
  }
  // A dry run leaves no event id behind: the real send is stored.
  ASSERT_TRUE(
      has_status(server.post(stream_path("/events"), json::array({event("U4", "E1")})), 202));
  EXPECT_EQ(only_events(server).size(), 1u);
}

TEST(Batches, SyncFlagIsAccepted) {
  RunningEmulator server;
  for (const char* query : {"?_sync", "?_sync=true", "?_sync=1"}) {
    SCOPED_TRACE(query);
    const std::string id = std::string("U") + query;
    EXPECT_TRUE(is_batch(server.post(stream_path("/contacts") + query, json::array({contact(id)})),
                         202, 1, 0));
    EXPECT_TRUE(only_contacts(server).contains(id));
    EXPECT_TRUE(is_batch(server.post(stream_path("/events") + query, json::array({event(id, id)})),
                         202, 1, 0));
  }
  EXPECT_EQ(only_events(server).size(), 3u);
}

// ---------------------------------------------------------------------------------------------
// Contacts

// The error fields of a one-contact batch (empty when it was accepted).
json contact_errors(const RunningEmulator& server, const json& item) {
  const json items = items_of(server.post(stream_path("/contacts"), json::array({item})));
  if (!items.is_array() || items.size() != 1) return json("no answer");
  return items[0].value("errors", json::object());
}

TEST(Contacts, UpsertKeepsOmittedAttributesAndNullClears) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(server.post(stream_path("/contacts"),
                                     json::array({contact("U1", {{"_first_name", "Ann"},
                                                                 {"_email", "ann@example.com"},
                                                                 {"plan", "gold"},
                                                                 {"tags", {"a", "b"}}})})),
                         202));
  ASSERT_TRUE(has_status(
      server.post(stream_path("/contacts"),
                  json::array({contact("U1", {{"_first_name", "Anna"}, {"plan", nullptr}})})),
      202));
  const json data = body_json(server.get(stream_path("/contacts/U1")))["contact"]["contactData"];
  EXPECT_EQ(data, json({{"_user_id", "U1"},
                        {"_first_name", "Anna"},
                        {"_email", "ann@example.com"},
                        {"tags", {"a", "b"}}}));
}

// The batch answers are written as text, not dumped from a tree: they must be what
// nlohmann::json's dump() writes for the same answer, byte for byte, whatever the ids hold.
TEST(Batches, AnswersAreTheTextNlohmannWouldWrite) {
  const std::string ids[] = {
      "plain",  "quote\"back\\slash",      "ctl\x01\x1f\x7f", "tab\tnl\n", "é€😀",
      "/slash", std::string("nul\0nul", 7)};
  for (const ResponseShape shape : {ResponseShape::documented, ResponseShape::connectors}) {
    Config config = test_config();
    config.response_shape = shape;
    RunningEmulator server(config);
    json contacts = json::array();
    json events = json::array();
    for (const std::string& id : ids) {
      contacts.push_back(contact(id, {{"_email", "not an address"}, {"_unknown", 1}}));
      contacts.push_back(contact(id, {{"plan", id}}));
      events.push_back(event(id, id));
      events.push_back({{"_user_id", id}, {"_event_id", 7}, {"x", id}});
    }
    contacts.push_back({{"_user_id", 42}});
    contacts.push_back(json::object());
    for (const auto& [path, body] :
         {std::pair{"/contacts", contacts}, std::pair{"/events", events}}) {
      SCOPED_TRACE(path);
      const auto result = server.post(stream_path(path), body);
      ASSERT_TRUE(has_status(result, 202));
      const json answer = body_json(result);
      EXPECT_EQ(answer.dump(), result->body);
      if (shape == ResponseShape::documented) {
        const json& items = answer["entity"]["items"];
        ASSERT_EQ(items.size(), body.size());
        for (std::size_t i = 0; i < body.size(); ++i) {
          if (body[i].contains("_user_id") && body[i]["_user_id"].is_string()) {
            EXPECT_EQ(items[i]["_user_id"], body[i]["_user_id"]) << i;
          } else {
            EXPECT_FALSE(items[i].contains("_user_id")) << i;
          }
        }
      }
    }
  }
}

// Attribute values are kept as the text they came in and read back when asked for: what comes
// back is what nlohmann reads from the text sent, for every kind of value.
TEST(Contacts, StoredValuesReadBackAsSent) {
  RunningEmulator server;
  const std::string text =
      R"([{"_user_id": "U\u0031", "s": "e\u0301 \u00e9\n\"q\"", "n": 1.5e3, "i": -0, "f": 0.1,)"
      R"( "big": 18446744073709551616, "neg": -9223372036854775809, "list": [1, "x", null,)"
      "\n true, 2.50], \"b\": false, \"plan\": \"a\", \"plan\": \"b\", \"_first_name\": \"Ann\"}]";
  ASSERT_TRUE(is_batch(server.post(stream_path("/contacts"), text), 202, 1, 0));
  const json expected = json::parse(text)[0];
  const auto result = server.get(stream_path("/contacts/U1"));
  ASSERT_TRUE(has_status(result, 200));
  EXPECT_EQ(body_json(result)["contact"]["contactData"].dump(), expected.dump());
  EXPECT_EQ(only_contacts(server)["U1"].dump(), expected.dump());
  // An event's _user_data is stored the same way, with the event's _user_id.
  const std::string event_text =
      R"([{"_user_id": "U2", "_event_id": "E1", "_event_type": "purchase",)"
      R"( "_user_data": {"score": 1e2, "tags": ["a", "\u0062"], "_first_name": null}}])";
  ASSERT_TRUE(is_batch(server.post(stream_path("/events"), event_text), 202, 1, 0));
  EXPECT_EQ(only_contacts(server)["U2"].dump(),
            json({{"_user_id", "U2"}, {"score", 100.0}, {"tags", {"a", "b"}}}).dump());
}

TEST(Contacts, EmailMustBeAnAddress) {
  RunningEmulator server;
  for (const json& email : {json("ann@example.com"), json("first.last+tag@mail.example.org")}) {
    EXPECT_EQ(contact_errors(server, contact("U1", {{"_email", email}})), json::object()) << email;
  }
  for (const json& email : {json("not-an-email"), json("ann@"), json("@example.com"),
                            json("ann example@example.com"), json("ann@@example.com"), json(""),
                            json(42), json(true), json::array({"ann@example.com"})}) {
    EXPECT_EQ(contact_errors(server, contact("U1", {{"_email", email}})),
              json({{"_email", {"Invalid format"}}}))
        << email;
  }
}

TEST(Contacts, PhoneMobileIsPlusAndEightToFifteenDigits) {
  RunningEmulator server;
  for (const char* phone : {"+12345678", "+123456789012345", "+34600111222"}) {
    EXPECT_EQ(contact_errors(server, contact("U1", {{"_phone_mobile", phone}})), json::object())
        << phone;
  }
  for (const json& phone :
       {json("+1234567"), json("+1234567890123456"), json("34600111222"), json("+34 600 111 222"),
        json("+3460011122a"), json("++34600111222"), json("+"), json(""), json(34600111222)}) {
    const json errors = contact_errors(server, contact("U1", {{"_phone_mobile", phone}}));
    EXPECT_TRUE(errors.contains("_phone_mobile")) << phone << " -> " << errors;
  }
}

TEST(Contacts, UnknownReservedKeyIsAnError) {
  RunningEmulator server;
  const json errors = contact_errors(server, contact("U1", {{"_favourite_colour", "red"}}));
  EXPECT_TRUE(errors.contains("_favourite_colour")) << errors;
  EXPECT_EQ(contact_errors(server, contact("U1", {{"favourite_colour", "red"}})), json::object());
  EXPECT_EQ(contact_errors(server, contact("U1", {{"_first_name", "Ann"},
                                                  {"_last_name", "Lee"},
                                                  {"_country_code", "ES"},
                                                  {"_email_verified", "1"},
                                                  {"_phone_mobile_verified", "0"}})),
            json::object());
}

TEST(Contacts, ReservedNamesComeFromTheAttributeSpecs) {
  Config config = test_config();
  config.specs["attributes"].push_back({{"uid", "_loyalty_tier"},
                                        {"displayLabel", "Loyalty tier"},
                                        {"description", "Loyalty tier"},
                                        {"dataType", "string"},
                                        {"multivalue", 0},
                                        {"readOnly", false},
                                        {"requiredInWebhook", false},
                                        {"important", false},
                                        {"visible", true},
                                        {"custom", false}});
  RunningEmulator server(config);
  EXPECT_EQ(spec_values(server.get(stream_path("/specs/attributes")), "uid").count("_loyalty_tier"),
            1u);
  EXPECT_EQ(contact_errors(server, contact("U1", {{"_loyalty_tier", "gold"}})), json::object());
  EXPECT_TRUE(contact_errors(server, contact("U1", {{"_loyalty_level", "gold"}}))
                  .contains("_loyalty_level"));
}

TEST(Contacts, ObjectValuesAreRejected) {
  RunningEmulator server;
  for (const json& value : {json({{"city", "Madrid"}}), json::array({json({{"a", 1}})}),
                            json::array({json::array({1})})}) {
    const json errors = contact_errors(server, contact("U1", {{"address", value}}));
    EXPECT_TRUE(errors.contains("address")) << value << " -> " << errors;
  }
  EXPECT_EQ(contact_errors(server, contact("U1", {{"s", "text"},
                                                  {"n", 4.5},
                                                  {"i", -3},
                                                  {"b", false},
                                                  {"z", nullptr},
                                                  {"tags", {"a", 1, true, nullptr}}})),
            json::object());
}

TEST(Contacts, UserIdMustBeANonEmptyString) {
  RunningEmulator server;
  for (const json& item :
       {json({{"plan", "gold"}}), json({{"_user_id", ""}}), json({{"_user_id", 42}}),
        json({{"_user_id", nullptr}}), json({{"_user_id", {"U1"}}})}) {
    EXPECT_TRUE(contact_errors(server, item).contains("_user_id")) << item;
  }
  EXPECT_TRUE(only_contacts(server).empty());
}

// ---------------------------------------------------------------------------------------------
// Events

// The error fields of a one-event batch (empty when it was accepted).
json event_errors(const RunningEmulator& server, const json& item) {
  const json items = items_of(server.post(stream_path("/events"), json::array({item})));
  if (!items.is_array() || items.size() != 1) return json("no answer");
  return items[0].value("errors", json::object());
}

// The stored event with this id, as the admin state shows it ({"event", "triggersAutomations"}).
json stored_event(const RunningEmulator& server, const std::string& event_id) {
  for (const json& entry : only_events(server)) {
    if (entry["event"].value("_event_id", "") == event_id) return entry;
  }
  return json();
}

TEST(Events, ResendingAnEventIdSucceedsAndStoresItOnce) {
  RunningEmulator server;
  const json first = event("U1", "E1", {{"_event_parameters", {{"amount", "10"}}}});
  const json resent = event("U1", "E1", {{"_event_parameters", {{"amount", "99"}}}});
  const json before = server.admin("stats");
  EXPECT_TRUE(is_batch(server.post(stream_path("/events"), json::array({first})), 202, 1, 0));
  const auto again = server.post(stream_path("/events"), json::array({resent}));
  ASSERT_TRUE(is_batch(again, 202, 1, 0));
  EXPECT_EQ(items_of(again)[0].value("status", ""), "success");
  // Twice in one batch too.
  EXPECT_TRUE(is_batch(
      server.post(stream_path("/events"), json::array({event("U1", "E2"), event("U1", "E2")})), 202,
      2, 0));
  const json events = only_events(server);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(stored_event(server, "E1")["event"]["_event_parameters"], json({{"amount", "10"}}));
  const json after = server.admin("stats");
  EXPECT_EQ(after.value("duplicateEvents", 0) - before.value("duplicateEvents", 0), 2);
}

TEST(Events, EventIdsBelongToTheirDatasource) {
  RunningEmulator server;
  ASSERT_TRUE(
      has_status(server.post(stream_path("/events"), json::array({event("U1", "E1")})), 202));
  ASSERT_TRUE(has_status(server.post(stream_path("/events", kOtherProject, kOtherDatasource),
                                     json::array({event("U1", "E1")}), kOtherToken),
                         202));
  EXPECT_EQ(only_events(server).size(), 1u);
  EXPECT_EQ(only_events(server, kOtherProject, kOtherDatasource).size(), 1u);
  EXPECT_EQ(server.admin("stats").value("duplicateEvents", -1), 0);
}

TEST(Events, UserDataIsUpsertedWithTheEvent) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(
      server.post(stream_path("/contacts"), json::array({contact("U1", {{"plan", "gold"}})})),
      202));
  const auto result = server.post(
      stream_path("/events"),
      json::array({event("U1", "E1",
                         {{"_user_data", {{"_first_name", "Ann"}, {"_email", "ann@example.com"}}}}),
                   event("U2", "E2", {{"_user_data", {{"_user_id", "U2"}, {"tags", {"new"}}}}})}));
  ASSERT_TRUE(is_batch(result, 202, 2, 0));
  EXPECT_EQ(body_json(server.get(stream_path("/contacts/U1")))["contact"]["contactData"],
            json({{"_user_id", "U1"},
                  {"plan", "gold"},
                  {"_first_name", "Ann"},
                  {"_email", "ann@example.com"}}));
  EXPECT_EQ(body_json(server.get(stream_path("/contacts/U2")))["contact"]["contactData"],
            json({{"_user_id", "U2"}, {"tags", {"new"}}}));
  EXPECT_EQ(only_events(server).size(), 2u);
}

TEST(Events, InvalidUserDataFailsTheItemAndStoresNeither) {
  RunningEmulator server;
  for (const json& user_data :
       {json({{"_email", "not-an-email"}}), json({{"_phone_mobile", "123"}}),
        json({{"_unknown_reserved", "x"}}), json({{"address", {{"city", "x"}}}}), json("U1"),
        json::array({"U1"}), json(7)}) {
    SCOPED_TRACE(user_data.dump());
    const auto result = server.post(stream_path("/events"),
                                    json::array({event("U1", "E1", {{"_user_data", user_data}})}));
    ASSERT_TRUE(is_batch(result, 422, 0, 1));
    const json errors = items_of(result)[0].value("errors", json::object());
    EXPECT_FALSE(errors.empty());
    bool names_user_data = false;
    for (const auto& [field, messages] : errors.items()) {
      names_user_data = names_user_data || field.rfind("_user_data", 0) == 0;
      EXPECT_TRUE(messages.is_array() && !messages.empty()) << field;
    }
    EXPECT_TRUE(names_user_data) << errors;
    EXPECT_TRUE(is_message(server.get(stream_path("/contacts/U1")), 404));
    EXPECT_TRUE(only_contacts(server).empty());
    EXPECT_TRUE(only_events(server).empty());
  }
}

TEST(Events, MissingDateMeansNowAndTriggersAutomations) {
  RunningEmulator server;
  const std::int64_t before = unix_seconds();
  ASSERT_TRUE(has_status(
      server.post(stream_path("/events"),
                  json::array({event("U1", "E1"), event("U1", "E2", {{"_event_date", nullptr}})})),
      202));
  const std::int64_t after = unix_seconds();
  for (const char* id : {"E1", "E2"}) {
    SCOPED_TRACE(id);
    const json stored = stored_event(server, id);
    ASSERT_TRUE(stored.is_object());
    const auto date = parse_iso8601_seconds(stored["event"].value("_event_date", ""));
    ASSERT_TRUE(date) << stored;
    EXPECT_GE(*date, before - 1);
    EXPECT_LE(*date, after + 1);
    EXPECT_EQ(stored.value("triggersAutomations", false), true);
  }
}

TEST(Events, OnlyDatesWithinAnHourTriggerAutomations) {
  RunningEmulator server;
  const auto now = Clock::now();
  const std::map<std::string, std::pair<std::string, bool>> cases = {
      {"three-hours-ago", {iso8601(now - std::chrono::hours(3)), false}},
      {"two-hours-ahead", {iso8601(now + std::chrono::hours(2)), false}},
      {"last-year", {iso8601(now - std::chrono::hours(24 * 365)), false}},
      {"half-an-hour-ago", {iso8601(now - std::chrono::minutes(30)), true}},
      {"half-an-hour-ahead", {iso8601(now + std::chrono::minutes(30)), true}},
      // The same instant written in another zone.
      {"now-in-plus-two", {iso8601(now + std::chrono::hours(2)).substr(0, 19) + "+02:00", true}},
      {"3h-ago-in-minus-five",
       {iso8601(now - std::chrono::hours(8)).substr(0, 19) + "-05:00", false}},
  };
  json batch = json::array();
  for (const auto& [id, date_and_trigger] : cases) {
    batch.push_back(event("U1", id, {{"_event_date", date_and_trigger.first}}));
  }
  ASSERT_TRUE(is_batch(server.post(stream_path("/events"), batch), 202, cases.size(), 0));
  for (const auto& [id, date_and_trigger] : cases) {
    SCOPED_TRACE(id + " " + date_and_trigger.first);
    const json stored = stored_event(server, id);
    ASSERT_TRUE(stored.is_object());
    EXPECT_EQ(stored["event"].value("_event_date", ""), date_and_trigger.first);
    EXPECT_EQ(stored.value("triggersAutomations", !date_and_trigger.second),
              date_and_trigger.second);
  }
}

TEST(Events, UnparsableDateIsAnError) {
  RunningEmulator server;
  for (const json& date : {json("yesterday"), json("2026-11-28"), json("2026-11-28T10:00:00"),
                           json("2026-13-01T10:00:00Z"), json("2026-02-30T10:00:00Z"),
                           json("2026-11-28 10:00"), json(""), json(1764324000), json(true)}) {
    const json errors = event_errors(server, event("U1", "E1", {{"_event_date", date}}));
    EXPECT_TRUE(errors.contains("_event_date")) << date << " -> " << errors;
  }
  EXPECT_TRUE(only_events(server).empty());
}

TEST(Events, RequiredFieldsAndParameters) {
  RunningEmulator server;
  for (const char* field : {"_user_id", "_event_id", "_event_type"}) {
    json item = event("U1", "E1");
    item.erase(field);
    EXPECT_TRUE(event_errors(server, item).contains(field)) << field;
    item[field] = "";
    EXPECT_TRUE(event_errors(server, item).contains(field)) << field;
    item[field] = 5;
    EXPECT_TRUE(event_errors(server, item).contains(field)) << field;
  }
  for (const json& parameters : {json("amount=10"), json::array({"10"}), json(10)}) {
    EXPECT_TRUE(event_errors(server, event("U1", "E1", {{"_event_parameters", parameters}}))
                    .contains("_event_parameters"))
        << parameters;
  }
  EXPECT_TRUE(only_events(server).empty());
  EXPECT_EQ(event_errors(server, event("U1", "E1",
                                       {{"_event_parameters", {{"amount", "10"}, {"n", 2}}},
                                        {"_event_date", iso8601(Clock::now())}})),
            json::object());
}

// ---------------------------------------------------------------------------------------------
// The connectors' answer shape

TEST(ConnectorsShape, AcceptedAndErrorsCarryTheInputPositions) {
  Config config = test_config();
  config.response_shape = ResponseShape::connectors;
  RunningEmulator server(config);
  const json contacts = json::array({contact("U0"), contact("U1", {{"_email", "bad"}}),
                                     contact("U2", {{"plan", "gold"}}), contact("")});
  const auto result = server.post(stream_path("/contacts"), contacts);
  ASSERT_TRUE(has_status(result, 202));
  const json body = body_json(result);
  EXPECT_EQ(body.value("success", true), false);
  EXPECT_TRUE(body.contains("status"));
  EXPECT_EQ(body.value("entitiesSuccess", -1), 2);
  EXPECT_EQ(body.value("entitiesFailures", -1), 2);
  EXPECT_EQ(body.value("entitiesLimit", -1), 100);
  EXPECT_EQ(body.value("dryRun", true), false);
  ASSERT_TRUE(body["accepted"].is_array() && body["accepted"].size() == 2u) << body;
  ASSERT_TRUE(body["errors"].is_array() && body["errors"].size() == 2u) << body;
  for (const auto& [list, positions] : {std::pair{"accepted", std::vector<std::size_t>{0, 2}},
                                        std::pair{"errors", std::vector<std::size_t>{1, 3}}}) {
    for (std::size_t i = 0; i < positions.size(); ++i) {
      const json& entry = body[list][i];
      EXPECT_EQ(entry.value("position", json()), positions[i]) << entry;
      EXPECT_EQ(entry.value("item", json()), contacts[positions[i]]) << entry;
    }
  }
  EXPECT_EQ(body["errors"][0]["error"], json({{"_email", {"Invalid format"}}}));
  EXPECT_TRUE(body["errors"][1]["error"].contains("_user_id"));
  EXPECT_EQ(only_contacts(server).size(), 2u);
}

TEST(ConnectorsShape, StatusesAndDryRun) {
  Config config = test_config();
  config.response_shape = ResponseShape::connectors;
  RunningEmulator server(config);
  const auto ok = server.post(stream_path("/events"), json::array({event("U1", "E1")}));
  ASSERT_TRUE(has_status(ok, 202));
  EXPECT_EQ(body_json(ok).value("success", false), true);
  EXPECT_EQ(body_json(ok)["accepted"][0].value("position", -1), 0);
  EXPECT_TRUE(body_json(ok)["errors"].empty());

  const json bad = event("U1", "E2", {{"_event_date", "bad"}});
  const auto failed = server.post(stream_path("/events"), json::array({bad, bad}));
  ASSERT_TRUE(has_status(failed, 422));
  EXPECT_EQ(body_json(failed).value("entitiesFailures", -1), 2);
  EXPECT_EQ(body_json(failed)["errors"][1].value("position", -1), 1);
  EXPECT_TRUE(body_json(failed)["errors"][1]["error"].contains("_event_date"));

  const auto dry = server.post(stream_path("/contacts?_dryRun"), json::array({contact("U9")}));
  ASSERT_TRUE(has_status(dry, 202));
  EXPECT_EQ(body_json(dry).value("dryRun", false), true);
  EXPECT_FALSE(only_contacts(server).contains("U9"));
  // Errors for the whole batch keep the documented {"message"} shape.
  EXPECT_TRUE(is_message(server.post(stream_path("/contacts"), std::string("[]")), 400));
}

// ---------------------------------------------------------------------------------------------
// Rate limits and headers

TEST(RateLimit, FourthRequestToAnEndpointInAMinuteIs429WithEmptyBody) {
  Config config = test_config();
  config.rate_limit_per_minute = 3;
  RunningEmulator server(config);
  // The limit counts in fixed one-minute windows: when the requests straddle two windows (their
  // X-RateLimit-Reset differ), try again in the new one.
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
    const std::int64_t before = unix_seconds();
    std::vector<httplib::Result> results;
    for (int i = 0; i < 4; ++i) results.push_back(server.get(stream_path()));
    auto other_endpoint = server.get(stream_path("/specs/events"));
    auto other_datasource =
        server.get(stream_path("", kOtherProject, kOtherDatasource), kOtherToken);
    const std::int64_t after = unix_seconds();
    std::set<std::string> resets;
    for (const auto* result : {&results[0], &results[3], &other_endpoint, &other_datasource}) {
      ASSERT_TRUE(*result);
      resets.insert((*result)->get_header_value("X-RateLimit-Reset"));
    }
    if (resets.size() != 1) continue;

    for (int i = 0; i < 3; ++i) {
      SCOPED_TRACE(i);
      EXPECT_TRUE(has_status(results[i], 200));
      EXPECT_EQ(header_number(results[i], "X-RateLimit-Limit"), 3);
      EXPECT_EQ(header_number(results[i], "X-RateLimit-Remaining"), 2 - i);
      EXPECT_TRUE(has_standard_headers(results[i], before, after));
    }
    ASSERT_TRUE(has_status(results[3], 429));
    EXPECT_EQ(results[3]->body, "");
    EXPECT_EQ(header_number(results[3], "X-RateLimit-Limit"), 3);
    EXPECT_EQ(header_number(results[3], "X-RateLimit-Remaining"), 0);
    EXPECT_TRUE(has_standard_headers(results[3], before, after));
    EXPECT_TRUE(has_status(other_endpoint, 200));
    EXPECT_EQ(header_number(other_endpoint, "X-RateLimit-Remaining"), 2);
    EXPECT_TRUE(has_status(other_datasource, 200));
    return;
  }
  FAIL() << "every attempt straddled two rate-limit windows";
}

TEST(RateLimit, ABatchCountsAsOneRequest) {
  Config config = test_config();
  config.rate_limit_per_minute = 3;
  RunningEmulator server(config);
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
    std::vector<httplib::Result> results;
    for (int i = 0; i < 4; ++i) {
      results.push_back(server.post(stream_path("/contacts"),
                                    contacts_batch(100, "B" + std::to_string(i) + "-")));
    }
    ASSERT_TRUE(results[0] && results[3]);
    if (results[0]->get_header_value("X-RateLimit-Reset") !=
        results[3]->get_header_value("X-RateLimit-Reset")) {
      continue;
    }
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(is_batch(results[i], 202, 100, 0)) << i;
    EXPECT_TRUE(has_status(results[3], 429));
    EXPECT_EQ(results[3]->body, "");
    // The refused batch was not processed.
    EXPECT_EQ(only_contacts(server).size(), 300u);
    EXPECT_FALSE(only_contacts(server).contains("B3-0"));
    return;
  }
  FAIL() << "every attempt straddled two rate-limit windows";
}

TEST(RateLimit, BucketModeRefusesBeyondTheBurstWithRetryAfter) {
  Config config = test_config();
  config.rate_limit_per_minute = 3;  // one request back every 20 s
  config.rate_limit_mode = RateLimitMode::bucket;
  RunningEmulator server(config);
  const std::int64_t before = unix_seconds();
  std::vector<httplib::Result> results;
  for (int i = 0; i < 4; ++i) results.push_back(server.get(stream_path()));
  auto other_endpoint = server.get(stream_path("/specs/events"));
  auto other_datasource = server.get(stream_path("", kOtherProject, kOtherDatasource), kOtherToken);
  const std::int64_t after = unix_seconds();

  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(has_status(results[i], 200));
    EXPECT_EQ(header_number(results[i], "X-RateLimit-Limit"), 3);
    EXPECT_EQ(header_number(results[i], "X-RateLimit-Remaining"), 2 - i);
    // Full again once the i + 1 requests taken have come back, 20 s each.
    const long reset = header_number(results[i], "X-RateLimit-Reset");
    EXPECT_GE(reset, before + 20 * (i + 1));
    EXPECT_LE(reset, after + 20 * (i + 1) + 1);
    EXPECT_FALSE(results[i]->has_header("Retry-After"));
  }
  ASSERT_TRUE(has_status(results[3], 429));
  EXPECT_EQ(results[3]->body, "");
  EXPECT_EQ(header_number(results[3], "X-RateLimit-Limit"), 3);
  EXPECT_EQ(header_number(results[3], "X-RateLimit-Remaining"), 0);
  EXPECT_GE(header_number(results[3], "X-RateLimit-Reset"), before + 60);
  EXPECT_LE(header_number(results[3], "X-RateLimit-Reset"), after + 61);
  // One request comes back 20 s after the first was taken.
  const long retry_after = header_number(results[3], "Retry-After");
  EXPECT_GE(retry_after, 20 - (after - before) - 1);
  EXPECT_LE(retry_after, 20);
  // Other endpoints and datasources have buckets of their own.
  EXPECT_TRUE(has_status(other_endpoint, 200));
  EXPECT_EQ(header_number(other_endpoint, "X-RateLimit-Remaining"), 2);
  EXPECT_TRUE(has_status(other_datasource, 200));
  EXPECT_EQ(header_number(other_datasource, "X-RateLimit-Remaining"), 2);
}

TEST(RateLimit, BucketModeRefillsContinuously) {
  Config config = test_config();
  config.rate_limit_per_minute = 600;  // one request back every 100 ms
  config.rate_limit_mode = RateLimitMode::bucket;
  config.rate_limit_burst = 2;
  RunningEmulator server(config);
  // Drain the bucket, then show that a request comes back after 100 ms and not all at once.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
    const auto start = SteadyClock::now();
    const bool drained = has_status(server.get(stream_path()), 200) &&
                         has_status(server.get(stream_path()), 200) &&
                         has_status(server.get(stream_path()), 429);
    // A slow machine may have let a request come back in between: try again.
    if (!drained || SteadyClock::now() - start > 80ms) continue;
    std::this_thread::sleep_until(start + 150ms);
    EXPECT_TRUE(has_status(server.get(stream_path()), 200));
    // Only one came back in 150 ms, unless this test was paused for 50 ms more.
    const auto second = server.get(stream_path());
    if (SteadyClock::now() - start < 190ms) {
      EXPECT_TRUE(has_status(second, 429));
    }
    return;
  }
  FAIL() << "the machine was too slow to drain the bucket in 80 ms";
}

TEST(Config, FileSetsTheRateLimitModeAndBurst) {
  const test_support::ScratchDir dir("emulator-config");
  const std::string path = dir.file("config.json");
  std::ofstream(path) << R"({"rate_limit_per_minute": 30, "rate_limit_mode": "bucket", )"
                         R"("rate_limit_burst": 7})";
  Config config;
  apply_config_file(config, path);
  EXPECT_EQ(config.rate_limit_per_minute, 30);
  EXPECT_EQ(config.rate_limit_mode, RateLimitMode::bucket);
  EXPECT_EQ(config.rate_limit_burst, 7);
  for (const char* bad : {R"({"rate_limit_mode": "sliding"})", R"({"rate_limit_burst": -1})",
                          R"({"rate_limit_burst": 1000001})", R"({"rate_limit_mode": 1})"}) {
    SCOPED_TRACE(bad);
    std::ofstream(path) << bad;
    Config unchanged;
    EXPECT_THROW(apply_config_file(unchanged, path), std::invalid_argument);
  }
}

TEST(Headers, EveryApiResponseCarriesRateLimitRequestIdAndDate) {
  RunningEmulator server;
  const std::int64_t before = unix_seconds();
  std::vector<std::pair<std::string, httplib::Result>> results;
  results.emplace_back("200 stream", server.get(stream_path()));
  results.emplace_back("202 contacts",
                       server.post(stream_path("/contacts"), json::array({contact("U1")})));
  results.emplace_back("202 events",
                       server.post(stream_path("/events"), json::array({event("U1", "E1")})));
  results.emplace_back("422", server.post(stream_path("/contacts"), json::array({contact("")})));
  results.emplace_back("400", server.post(stream_path("/contacts"), std::string("{}")));
  results.emplace_back("401", server.get(stream_path(), nullptr));
  results.emplace_back("404 datasource", server.get(stream_path("", kProject, "ds_unknown")));
  results.emplace_back("404 path", server.get(stream_path("/nothing")));
  results.emplace_back("200 contact", server.get(stream_path("/contacts/U1")));
  results.emplace_back("2xx delete", server.del(stream_path("/contacts/U1")));
  results.emplace_back("404 contact", server.get(stream_path("/contacts/U1")));
  results.emplace_back("200 specs", server.get(stream_path("/specs/attributes")));
  results.emplace_back("404 specs", server.get(stream_path("/specs/event-parameters/none")));
  const std::int64_t after = unix_seconds();
  std::set<std::string> request_ids;
  for (const auto& [name, result] : results) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(has_standard_headers(result, before, after));
    if (result) request_ids.insert(result->get_header_value("X-Request-Id"));
  }
  EXPECT_EQ(request_ids.size(), results.size()) << "request ids repeat";
}

TEST(Headers, AdminAndNonApiAnswersCarryARequestIdAndDate) {
  RunningEmulator server;
  const std::int64_t before = unix_seconds();
  for (const char* path : {"/_emulator/health", "/_emulator/stats", "/nothing"}) {
    SCOPED_TRACE(path);
    const auto result = server.client().Get(path);
    ASSERT_TRUE(result);
    EXPECT_FALSE(result->get_header_value("X-Request-Id").empty());
    const auto date = parse_http_date(result->get_header_value("Date"));
    ASSERT_TRUE(date);
    EXPECT_GE(*date, before - 2);
    EXPECT_LE(*date, unix_seconds() + 2);
  }
}

std::string padded_contacts_body(std::size_t size) {
  std::string body = json::array({contact("U1", {{"note", ""}})}).dump();
  const std::size_t quote = body.find("\"\"") + 1;  // inside the note's empty string
  body.insert(quote, std::string(size - body.size(), 'x'));
  return body;
}

TEST(Limits, BodyOverMaxBodyBytesIs413) {
  Config config = test_config();
  config.max_body_bytes = 1000;
  RunningEmulator server(config);
  EXPECT_TRUE(is_message(server.post(stream_path("/contacts"), padded_contacts_body(2000)), 413));
  EXPECT_TRUE(is_message(server.post(stream_path("/contacts"), padded_contacts_body(1001)), 413));
  EXPECT_TRUE(only_contacts(server).empty());
  EXPECT_TRUE(
      is_batch(server.post(stream_path("/contacts"), padded_contacts_body(1000)), 202, 1, 0));
  EXPECT_EQ(only_contacts(server).size(), 1u);
}

TEST(Headers, PayloadTooLargeCarriesRateLimitRequestIdAndDate) {
  Config config = test_config();
  config.max_body_bytes = 1000;
  RunningEmulator server(config);
  const std::int64_t before = unix_seconds();
  const auto result = server.post(stream_path("/contacts"), padded_contacts_body(2000));
  ASSERT_TRUE(has_status(result, 413));
  EXPECT_TRUE(has_standard_headers(result, before, unix_seconds()));
}

// ---------------------------------------------------------------------------------------------
// Fault injection

Config config_with_faults(const json& faults) {
  Config config = test_config();
  config.faults.update_from_json(faults);
  return config;
}

TEST(Faults, ScriptGivesExactlyThatSequence) {
  RunningEmulator server(config_with_faults({{"script", {"500", "503", "429", "ok"}}}));
  EXPECT_TRUE(is_message(server.get(stream_path()), 500));
  // Admin requests take no fault from the script.
  EXPECT_TRUE(has_status(server.client().Get("/_emulator/health"), 200));
  EXPECT_TRUE(is_message(server.get(stream_path("/specs/events")), 503));
  const auto limited = server.post(stream_path("/contacts"), json::array({contact("U1")}));
  ASSERT_TRUE(has_status(limited, 429));
  EXPECT_EQ(limited->body, "");
  EXPECT_TRUE(limited->has_header("Retry-After"));
  EXPECT_GE(header_number(limited, "Retry-After"), 0);
  EXPECT_TRUE(limited->has_header("X-RateLimit-Reset"));
  EXPECT_TRUE(has_status(server.get(stream_path()), 200));
  EXPECT_TRUE(has_status(server.get(stream_path()), 200));
  // Failed before processing: nothing stored.
  EXPECT_TRUE(only_contacts(server).empty());
  EXPECT_EQ(server.admin("stats").value("faultsInjected", -1), 3);
}

TEST(Faults, DropClosesTheConnectionAfterProcessing) {
  RunningEmulator server(config_with_faults({{"script", {"drop"}}}));
  const auto dropped = server.post(stream_path("/contacts"), json::array({contact("U1")}));
  EXPECT_FALSE(dropped) << "a response came: " << (dropped ? dropped->body : "");
  EXPECT_TRUE(only_contacts(server).contains("U1"));
  EXPECT_TRUE(has_status(server.get(stream_path("/contacts/U1")), 200));
}

TEST(Faults, TruncateCutsTheBody) {
  RunningEmulator server;
  const auto full = server.get(stream_path());
  ASSERT_TRUE(has_status(full, 200));
  ASSERT_TRUE(has_status(
      server.client().Post("/_emulator/faults", R"({"script": ["truncate", "truncate"]})",
                           "application/json"),
      200));
  const auto truncated = server.get(stream_path());
  ASSERT_TRUE(has_status(truncated, 200));
  EXPECT_LT(truncated->body.size(), full->body.size());
  EXPECT_TRUE(body_json(truncated).is_discarded()) << truncated->body;
  // The request behind a truncated answer was processed.
  const auto batch = server.post(stream_path("/contacts"), json::array({contact("U1")}));
  ASSERT_TRUE(has_status(batch, 202));
  EXPECT_TRUE(body_json(batch).is_discarded()) << batch->body;
  EXPECT_TRUE(only_contacts(server).contains("U1"));
}

TEST(Faults, SlowDelaysTheAnswer) {
  RunningEmulator server(config_with_faults({{"script", {"slow"}}, {"slow_ms", 300}}));
  const auto start = std::chrono::steady_clock::now();
  const auto result = server.get(stream_path());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(has_status(result, 200));
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
}

// The outcome of one request under random faults: its status, "drop" or "truncate".
std::string outcome(const httplib::Result& result) {
  if (!result) return "drop";
  if (result->status == 200 && body_json(result).is_discarded()) return "truncate";
  return std::to_string(result->status);
}

TEST(Faults, ProbabilitiesWithAFixedSeedAreDeterministic) {
  RunningEmulator server;
  const std::string settings =
      R"({"p500": 0.15, "p503": 0.1, "p429": 0.1, "truncate": 0.1, "seed": 42, "script": []})";
  std::vector<std::vector<std::string>> runs;
  for (int run = 0; run < 2; ++run) {
    // Setting the seed restarts the sequence.
    ASSERT_TRUE(
        has_status(server.client().Post("/_emulator/faults", settings, "application/json"), 200));
    std::vector<std::string> outcomes;
    for (int i = 0; i < 200; ++i) outcomes.push_back(outcome(server.get(stream_path())));
    runs.push_back(outcomes);
  }
  EXPECT_EQ(runs[0], runs[1]);
  std::map<std::string, int> counts;
  for (const std::string& name : runs[0]) ++counts[name];
  for (const char* name : {"500", "503", "429", "truncate"}) {
    EXPECT_GT(counts[name], 0) << name;
    EXPECT_LT(counts[name], 60) << name;
  }
  EXPECT_GT(counts["200"], 70);
  EXPECT_EQ(counts["200"] + counts["500"] + counts["503"] + counts["429"] + counts["truncate"],
            200);
}

TEST(Faults, SettingsAreReadAndChangedAtRunTime) {
  RunningEmulator server;
  json settings = server.admin("faults");
  EXPECT_EQ(settings.value("p500", -1.0), 0.0);
  EXPECT_EQ(settings.value("script", json()), json::array());

  const auto changed = server.client().Post("/_emulator/faults", R"({"p500": 1, "slow_ms": 10})",
                                            "application/json");
  ASSERT_TRUE(has_status(changed, 200));
  EXPECT_EQ(body_json(changed).value("p500", -1.0), 1.0);
  settings = server.admin("faults");
  EXPECT_EQ(settings.value("p500", -1.0), 1.0);
  EXPECT_EQ(settings.value("slow_ms", -1), 10);
  EXPECT_TRUE(is_message(server.get(stream_path()), 500));
  EXPECT_TRUE(is_message(server.get(stream_path()), 500));

  ASSERT_TRUE(
      has_status(server.client().Post("/_emulator/faults", R"({"p500": 0, "script": ["503"]})",
                                      "application/json"),
                 200));
  EXPECT_EQ(server.admin("faults").value("slow_ms", -1), 10);  // fields left out are kept
  EXPECT_TRUE(is_message(server.get(stream_path()), 503));
  EXPECT_TRUE(has_status(server.get(stream_path()), 200));
}

TEST(Faults, BadSettingsAre400AndChangeNothing) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(
      server.client().Post("/_emulator/faults", R"({"p503": 0.25})", "application/json"), 200));
  const json before = server.admin("faults");
  for (const char* body :
       {"not json", "", "[]", "42", R"({"p500": 1.5})", R"({"p500": -0.1})", R"({"p500": "half"})",
        R"({"p500": 0.6, "p503": 0.6})", R"({"script": ["boom"]})", R"({"script": "500"})",
        R"({"script": [500]})", R"({"slow_ms": -1})", R"({"slow_ms": 1.5})", R"({"seed": -1})",
        R"({"seed": "x"})"}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(
        is_message(server.client().Post("/_emulator/faults", body, "application/json"), 400));
  }
  EXPECT_EQ(server.admin("faults"), before);
}

// ---------------------------------------------------------------------------------------------
// The admin API

TEST(Admin, Health) {
  RunningEmulator server;
  const auto result = server.client().Get("/_emulator/health");
  ASSERT_TRUE(has_status(result, 200));
  EXPECT_EQ(body_json(result).value("ok", false), true);
}

TEST(Admin, StateShowsEveryDatasourceOrOne) {
  RunningEmulator server;
  ASSERT_TRUE(has_status(server.post(stream_path("/contacts"), json::array({contact("A1")})), 202));
  ASSERT_TRUE(
      has_status(server.post(stream_path("/events"), json::array({event("A1", "EA")})), 202));
  ASSERT_TRUE(has_status(server.post(stream_path("/contacts", kOtherProject, kOtherDatasource),
                                     json::array({contact("B1")}), kOtherToken),
                         202));
  const json all = server.admin("state");
  ASSERT_TRUE(all.is_object());
  const std::string a = std::string(kProject) + "/" + kDatasource;
  const std::string b = std::string(kOtherProject) + "/" + kOtherDatasource;
  EXPECT_TRUE(all[a]["contacts"].contains("A1"));
  EXPECT_EQ(all[a]["events"].size(), 1u);
  EXPECT_TRUE(all[b]["contacts"].contains("B1"));
  EXPECT_FALSE(all[b]["contacts"].contains("A1"));

  const json one = server.state(kOtherProject, kOtherDatasource);
  EXPECT_EQ(one["contacts"], json({{"B1", {{"_user_id", "B1"}}}}));
  EXPECT_EQ(one["events"], json::array());
  const json stored = server.state()["events"][0];
  EXPECT_EQ(stored["event"].value("_event_id", ""), "EA");
  EXPECT_TRUE(stored.contains("triggersAutomations"));
}

TEST(Admin, StatsCountRequestsItemsAndDuplicates) {
  RunningEmulator server;
  const json before = server.admin("stats");
  ASSERT_TRUE(has_status(server.get(stream_path()), 200));
  ASSERT_TRUE(has_status(server.post(stream_path("/contacts"),
                                     json::array({contact("U1"), contact("U2"), contact("U3"),
                                                  contact(""), contact("U5", {{"_x", 1}})})),
                         202));
  ASSERT_TRUE(has_status(server.post(stream_path("/contacts"), json::array({contact("")})), 422));
  ASSERT_TRUE(has_status(server.get(stream_path(), nullptr), 401));
  ASSERT_TRUE(
      has_status(server.post(stream_path("/events"), json::array({event("U1", "E1")})), 202));
  ASSERT_TRUE(
      has_status(server.post(stream_path("/events"), json::array({event("U1", "E1")})), 202));
  const json after = server.admin("stats");

  const auto delta = [&](const char* key) {
    return after.value(key, std::int64_t{0}) - before.value(key, std::int64_t{0});
  };
  const auto status_delta = [&](const char* status) {
    return after["responsesByStatus"].value(status, std::int64_t{0}) -
           before["responsesByStatus"].value(status, std::int64_t{0});
  };
  // API requests only: the admin ones (these stats requests) are not counted.
  EXPECT_EQ(delta("requests"), 6);
  EXPECT_EQ(status_delta("200"), 1);
  EXPECT_EQ(status_delta("202"), 3);
  EXPECT_EQ(status_delta("422"), 1);
  EXPECT_EQ(status_delta("401"), 1);
  EXPECT_EQ(delta("itemsAccepted"), 5);
  EXPECT_EQ(delta("itemsRejected"), 3);
  EXPECT_EQ(delta("duplicateEvents"), 1);
}

TEST(Admin, ResetForgetsContactsEventsCountersAndLimits) {
  Config config = test_config();
  config.rate_limit_per_minute = 1;
  RunningEmulator server(config);
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
    const auto first = server.post(stream_path("/contacts"), json::array({contact("U1")}));
    const auto limited = server.post(stream_path("/contacts"), json::array({contact("U2")}));
    ASSERT_TRUE(has_status(first, 202));
    ASSERT_TRUE(
        has_status(server.post(stream_path("/events"), json::array({event("U1", "E1")})), 202));
    ASSERT_TRUE(limited);
    if (limited->status != 429) continue;  // a new one-minute window began in between

    ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
    const json stats = server.admin("stats");
    EXPECT_EQ(stats.value("requests", -1), 0);
    EXPECT_EQ(stats.value("itemsAccepted", -1), 0);
    EXPECT_EQ(stats.value("itemsRejected", -1), 0);
    EXPECT_EQ(stats.value("duplicateEvents", -1), 0);
    EXPECT_FALSE(stats["responsesByStatus"].contains("202"));
    EXPECT_FALSE(stats["responsesByStatus"].contains("429"));
    EXPECT_EQ(server.admin("state"), json::object());
    EXPECT_TRUE(only_contacts(server).empty());
    // The rate limit starts over.
    EXPECT_TRUE(
        has_status(server.post(stream_path("/contacts"), json::array({contact("U2")})), 202));
    return;
  }
  FAIL() << "every attempt straddled two rate-limit windows";
}

TEST(Admin, ResetRestoresTheFaultsGivenAtStart) {
  RunningEmulator server(config_with_faults({{"p503", 0.0}, {"slow_ms", 20}}));
  const json at_start = server.admin("faults");
  ASSERT_TRUE(has_status(
      server.client().Post("/_emulator/faults", R"({"p500": 1, "slow_ms": 5, "script": ["429"]})",
                           "application/json"),
      200));
  ASSERT_TRUE(has_status(server.get(stream_path()), 429));
  ASSERT_TRUE(has_status(server.client().Post("/_emulator/reset"), 200));
  EXPECT_EQ(server.admin("faults"), at_start);
  EXPECT_TRUE(has_status(server.get(stream_path()), 200));
}

TEST(Admin, UnknownAdminEndpointIs404) {
  RunningEmulator server;
  EXPECT_TRUE(is_message(server.client().Get("/_emulator/nothing"), 404));
  EXPECT_TRUE(is_message(server.client().Get("/_emulator/reset"), 404));
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST(Concurrency, EightKeepAliveClientsAreAllAnswered) {
  RunningEmulator server;
  const json before = server.admin("stats");
  constexpr int kThreads = 8;
  constexpr int kRequests = 50;
  std::atomic<int> accepted{0};
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_keep_alive(true);
      client.set_read_timeout(std::chrono::seconds(10));
      const httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kToken}};
      for (int i = 0; i < kRequests; ++i) {
        httplib::Result result =
            i % 2 == 0
                ? client.Post(
                      stream_path("/contacts"), headers,
                      json::array({contact("T" + std::to_string(t) + "-" + std::to_string(i))})
                          .dump(),
                      "application/json")
                : client.Get(stream_path(), headers);
        if (result && result->status == 202) {
          ++accepted;
        } else if (result && result->status == 200) {
          ++ok;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), kThreads * kRequests / 2);
  EXPECT_EQ(ok.load(), kThreads * kRequests / 2);
  EXPECT_EQ(other.load(), 0);

  const json after = server.admin("stats");
  EXPECT_EQ(after.value("requests", 0) - before.value("requests", 0), kThreads * kRequests);
  EXPECT_EQ(after["responsesByStatus"].value("202", 0), kThreads * kRequests / 2);
  EXPECT_EQ(after.value("itemsAccepted", 0), kThreads * kRequests / 2);
  EXPECT_EQ(only_contacts(server).size(), static_cast<std::size_t>(kThreads * kRequests / 2));
}

// ---------------------------------------------------------------------------------------------
// The Emulator object

// serve() runs until stop(); a stop() that comes first must not be lost (main() stops on the
// first SIGTERM, which can come before the serving thread has started).
TEST(EmulatorObject, StopBeforeServeEndsServe) {
  Emulator emulator(test_config());
  emulator.bind();
  emulator.stop();
  std::promise<void> served;
  std::future<void> done = served.get_future();
  std::thread thread([&] {
    emulator.serve();
    served.set_value();
  });
  const bool returned = done.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  if (!returned) emulator.stop();  // serving by now: this stop() ends it
  thread.join();
  EXPECT_TRUE(returned) << "serve() ignored a stop() made before it started";
}

// ---------------------------------------------------------------------------------------------
// The executable

TEST(Binary, ServesUntilSigterm) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  auto client = loopback_client(port);
  EXPECT_TRUE(has_status(client.Get("/_emulator/health"), 200));
  EXPECT_TRUE(has_status(
      client.Get(stream_path("", "proj_demo", "ds_demo"), {{"Authorization", "Bearer demo-token"}}),
      200));
  process.send_signal(SIGTERM);
  const auto status = process.wait_for_exit(std::chrono::seconds(2));
  ASSERT_TRUE(status) << "still running 2 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(Binary, ServesUntilSigint) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  EXPECT_TRUE(has_status(loopback_client(port).Get("/_emulator/health"), 200));
  process.send_signal(SIGINT);
  const auto status = process.wait_for_exit(std::chrono::seconds(2));
  ASSERT_TRUE(status) << "still running 2 s after SIGINT";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(Binary, HelpExitsZero) {
  EmulatorProcess process({"--help"});
  const std::string text = process.read_stdout(std::chrono::seconds(5));
  const auto status = process.wait_for_exit(std::chrono::seconds(5));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_NE(text.find("Usage: instasent-emulator"), std::string::npos) << text;
}

TEST(Binary, BadFlagsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"--no-such-flag", "1"},
      {"--port"},
      {"--port", "http"},
      {"--port", "70000"},
      {"--rate-limit", "-1"},
      {"--response-shape", "xml"},
      {"--rate-limit-mode", "sliding"},
      {"--rate-limit-burst", "0"},
      {"--fault-500", "2"},
      {"stray"},
      {"--fault-script", "500,boom"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args.front() + (args.size() > 1 ? " " + args[1] : ""));
    EmulatorProcess process(args);
    const std::string errors = process.read_stderr(std::chrono::seconds(5));
    const auto status = process.wait_for_exit(std::chrono::seconds(5));
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 2);
    EXPECT_FALSE(errors.empty());
    EXPECT_EQ(process.read_stdout(std::chrono::milliseconds(100)), "");
  }
}

TEST(Binary, FlagsConfigureTheEmulator) {
  EmulatorProcess process({"--port=0", "--project", "p1", "--datasource", "d1", "--token", "t1",
                           "--response-shape", "connectors", "--rate-limit", "5", "--fault-script",
                           "503,ok", "--rate-limit-mode", "bucket", "--rate-limit-burst", "2"});
  const int port = read_port(process);
  auto client = loopback_client(port);
  const httplib::Headers auth = {{"Authorization", "Bearer t1"}};
  EXPECT_TRUE(is_message(client.Get(stream_path("", "p1", "d1"), auth), 503));
  const auto result = client.Post(stream_path("/contacts", "p1", "d1"), auth,
                                  json::array({contact("U1")}).dump(), "application/json");
  ASSERT_TRUE(has_status(result, 202));
  EXPECT_TRUE(body_json(result).contains("accepted")) << result->body;
  EXPECT_EQ(header_number(result, "X-RateLimit-Limit"), 2);  // the bucket's size
  EXPECT_EQ(header_number(result, "X-RateLimit-Remaining"), 1);
  // One request every 12 s refills the bucket: full again 12 s after the one taken.
  EXPECT_GE(header_number(result, "X-RateLimit-Reset"), unix_seconds() + 10);
  EXPECT_TRUE(is_message(
      client.Get(stream_path("", "proj_demo", "ds_demo"), {{"Authorization", "Bearer demo-token"}}),
      401));
  process.send_signal(SIGTERM);
  EXPECT_TRUE(process.wait_for_exit(std::chrono::seconds(2)));
}

}  // namespace
}  // namespace instasent::emulator::testing
