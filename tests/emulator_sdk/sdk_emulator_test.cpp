// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of the SDK against the real instasent-emulator binary: only the public API,
// the real libcurl transport and real waits (kept short). CTest starts one emulator per answer
// shape (instasent_add_emulator_fixture) and runs this program once against each; it finds the
// emulator's port in $INSTASENT_EMULATOR_STATE_DIR/port (or $INSTASENT_EMULATOR_PORT) and checks
// the shape named by $INSTASENT_EMULATOR_SHAPE. Each test starts from an emptied emulator
// (POST /_emulator/reset) and inspects it through its admin API.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"
#include "support/catch_error.hpp"
#include "support/printers.hpp"

namespace instasent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;

constexpr const char* kProject = "proj_demo";
constexpr const char* kDatasource = "ds_demo";
constexpr const char* kToken = "demo-token";

// ---------------------------------------------------------------------------------------------
// Where the emulator is

struct EmulatorEndpoint {
  int port = 0;
  std::string shape;  // "documented" or "connectors"
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

EmulatorEndpoint find_emulator() {
  EmulatorEndpoint endpoint;
  endpoint.shape = env_or("INSTASENT_EMULATOR_SHAPE", "documented");
  std::string port_text = env_or("INSTASENT_EMULATOR_PORT", "");
  if (port_text.empty()) {
    const std::string state_dir = env_or("INSTASENT_EMULATOR_STATE_DIR", "");
    if (state_dir.empty()) {
      throw std::runtime_error(
          "no emulator: set INSTASENT_EMULATOR_STATE_DIR (the fixture's state directory) or "
          "INSTASENT_EMULATOR_PORT");
    }
    std::ifstream in(state_dir + "/port");
    if (!(in >> port_text)) throw std::runtime_error("no port file in " + state_dir);
  }
  endpoint.port = std::stoi(port_text);
  if (endpoint.port <= 0 || endpoint.port > 65535) {
    throw std::runtime_error("bad emulator port " + port_text);
  }
  return endpoint;
}

const EmulatorEndpoint& emulator() {
  static const EmulatorEndpoint endpoint = find_emulator();
  return endpoint;
}

std::string base_url() { return "http://127.0.0.1:" + std::to_string(emulator().port) + "/v1"; }

// ---------------------------------------------------------------------------------------------
// The emulator's admin API (/_emulator/...), through cpp-httplib.

class Admin {
 public:
  explicit Admin(int port) : http_("127.0.0.1", port) {
    http_.set_connection_timeout(std::chrono::seconds(2));
    http_.set_read_timeout(std::chrono::seconds(10));
    http_.set_write_timeout(std::chrono::seconds(10));
  }

  void reset() { post("/_emulator/reset", json::object()); }

  /// Makes the next API requests fail as `script` says, e.g. {"500", "500", "ok"}.
  void script_faults(const std::vector<std::string>& script) {
    post("/_emulator/faults", {{"script", script}});
  }

  /// {"contacts": {user_id: data}, "events": [{"event", "triggersAutomations", "receivedMs"}]}.
  json state() {
    return get(std::string("/_emulator/state?project=") + kProject + "&datasource=" + kDatasource);
  }

  json stats() { return get("/_emulator/stats"); }

  /// The stored events by `_event_id`.
  std::map<std::string, json> events() {
    std::map<std::string, json> by_id;
    const json snapshot = state();
    for (const json& stored : snapshot.at("events")) {
      by_id[stored.at("event").at("_event_id").get<std::string>()] = stored;
    }
    return by_id;
  }

  json contacts() { return state().at("contacts"); }

 private:
  json get(const std::string& path) {
    const auto result = http_.Get(path);
    return answer(path, result);
  }

  json post(const std::string& path, const json& body) {
    const auto result = http_.Post(path, body.dump(), "application/json");
    return answer(path, result);
  }

  static json answer(const std::string& path, const httplib::Result& result) {
    if (!result) throw std::runtime_error("admin request " + path + " failed: no answer");
    if (result->status != 200) {
      throw std::runtime_error("admin request " + path + " answered " +
                               std::to_string(result->status) + ": " + result->body);
    }
    return json::parse(result->body);
  }

  httplib::Client http_;
};

// ---------------------------------------------------------------------------------------------
// Helpers

// Runs `f` and expects it to throw an `E`: a copy of it, or nullopt (and a failure).
template <typename E, typename F>
std::optional<E> Catch(F&& f) {
  return testing::CatchAs<E>(std::forward<F>(f), [](const Error&) {});
}

std::vector<ItemStatus> Statuses(const BatchResult& result) {
  std::vector<ItemStatus> statuses;
  for (const ItemResult& item : result.items()) statuses.push_back(item.status);
  return statuses;
}

void ExpectAllAccepted(const BatchResult& result, std::size_t count) {
  ASSERT_EQ(result.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].status, ItemStatus::accepted)
        << "item " << i << " (" << result[i].id << ")";
    EXPECT_TRUE(result[i].errors.empty()) << "item " << i;
  }
}

class SdkVsEmulator : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_.script_faults({});  // the reset keeps the fault settings: clear any leftover script
    admin_.reset();
  }

  static ClientOptions Options() {
    ClientOptions options;
    options.project = kProject;
    options.datasource = kDatasource;
    options.token = kToken;
    options.base_url = base_url();
    options.retry.max_attempts = 4;
    options.retry.initial_backoff = milliseconds(10);
    options.retry.max_backoff = milliseconds(100);
    options.retry.max_rate_limit_wait = milliseconds(5'000);
    options.retry.deadline = milliseconds(20'000);
    options.curl.connect_timeout = milliseconds(2'000);
    options.curl.request_timeout = milliseconds(10'000);
    return options;
  }

  static Client MakeClient() { return Client(Options()); }

  // The raw answer of a batch write is in the shape this emulator was started with.
  static void ExpectShape(const BatchRequest& request) {
    const json body = request.parsed_body();
    ASSERT_TRUE(body.is_object()) << request.body;
    if (emulator().shape == "connectors") {
      EXPECT_TRUE(body.contains("accepted") && body.contains("errors")) << request.body;
      EXPECT_FALSE(body.contains("entity")) << request.body;
    } else {
      EXPECT_TRUE(body.contains("entity")) << request.body;
    }
  }

  Admin admin_{emulator().port};
  Client client_ = MakeClient();
};

// ---------------------------------------------------------------------------------------------
// Reads

TEST_F(SdkVsEmulator, StreamInfoDescribesTheTenant) {
  const StreamInfo info = client_.stream_info();
  EXPECT_TRUE(info.organization.is_object());
  EXPECT_EQ(info.project.value("id", ""), kProject);
  EXPECT_EQ(info.datasource.value("id", ""), kDatasource);
  EXPECT_TRUE(info.stream.is_object());
  EXPECT_TRUE(info.token.is_object());
  EXPECT_TRUE(info.raw.is_object());
  // Every answer carries the X-RateLimit-* fields.
  const RateLimit limit = client_.rate_limit();
  EXPECT_TRUE(limit.limit.has_value());
  EXPECT_TRUE(limit.remaining.has_value());
  EXPECT_TRUE(limit.reset.has_value());
}

TEST_F(SdkVsEmulator, SpecsEndpoints) {
  const auto attributes = client_.attribute_specs();
  std::map<std::string, AttributeSpec> by_uid;
  for (const auto& spec : attributes) by_uid[spec.uid] = spec;
  ASSERT_TRUE(by_uid.count("_email"));
  EXPECT_EQ(by_uid["_email"].data_type, "string");
  EXPECT_FALSE(by_uid["_email"].custom);
  ASSERT_TRUE(by_uid.count("_email_verified"));
  EXPECT_EQ(by_uid["_email_verified"].data_type, "bool");
  EXPECT_TRUE(by_uid["_email_verified"].read_only);
  ASSERT_TRUE(by_uid.count("tags"));
  EXPECT_EQ(by_uid["tags"].multivalue, 10);
  EXPECT_TRUE(by_uid["tags"].custom);
  EXPECT_EQ(by_uid["tags"].raw.value("displayLabel", ""), "Tags");

  const auto events = client_.event_specs();
  std::set<std::string> uids;
  for (const auto& spec : events) uids.insert(spec.uid);
  EXPECT_EQ(uids, (std::set<std::string>{"purchase", "cart_abandoned", "page_view", "signup"}));
  for (const auto& spec : events) {
    EXPECT_FALSE(spec.name.empty()) << spec.uid;
    EXPECT_TRUE(spec.automation) << spec.uid;
  }

  const auto parameters = client_.event_parameter_specs("purchase");
  std::map<std::string, EventParameterSpec> by_name;
  for (const auto& spec : parameters) by_name[spec.parameter] = spec;
  ASSERT_TRUE(by_name.count("amount"));
  EXPECT_TRUE(by_name["amount"].required);
  ASSERT_TRUE(by_name.count("currency"));
  EXPECT_EQ(by_name["currency"].max_length, std::optional<int>(3));
  ASSERT_TRUE(by_name.count("products"));
  EXPECT_EQ(by_name["products"].multi_value, 50);
  EXPECT_EQ(by_name["products"].data_type, "payload");

  const auto unknown = Catch<NotFoundError>([&] { client_.event_parameter_specs("no/such type"); });
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->http_status(), 404);
}

// ---------------------------------------------------------------------------------------------
// Contacts

TEST_F(SdkVsEmulator, Upserts250ContactsInThreeRequestsAndReadsThemBack) {
  std::vector<Contact> contacts;
  for (int i = 0; i < 250; ++i) {
    contacts.push_back(Contact("bulk-" + std::to_string(i))
                           .first_name("Name " + std::to_string(i))
                           .email("bulk" + std::to_string(i) + "@example.com")
                           .attribute("rank", i)
                           .attribute("tags", {"a", "b"}));
  }
  const BatchResult result = client_.upsert_contacts(contacts);
  ExpectAllAccepted(result, 250);
  for (std::size_t i = 0; i < result.size(); ++i) EXPECT_EQ(result[i].id, contacts[i].user_id());
  ASSERT_EQ(result.requests().size(), 3u);
  const std::size_t firsts[] = {0, 100, 200};
  const std::size_t counts[] = {100, 100, 50};
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(result.requests()[r].first_index, firsts[r]);
    EXPECT_EQ(result.requests()[r].item_count, counts[r]);
    EXPECT_EQ(result.requests()[r].http_status, 202);
    EXPECT_FALSE(result.requests()[r].request_id.empty());
    ExpectShape(result.requests()[r]);
  }
  EXPECT_EQ(admin_.stats().at("responsesByStatus").value("202", 0), 3);

  for (int i = 0; i < 250; ++i) {
    const ContactRecord record = client_.get_contact("bulk-" + std::to_string(i));
    EXPECT_EQ(record.user_id, "bulk-" + std::to_string(i));
    EXPECT_EQ(record.attributes.value("_first_name", ""), "Name " + std::to_string(i));
    EXPECT_EQ(record.attributes.value("_email", ""), "bulk" + std::to_string(i) + "@example.com");
    EXPECT_EQ(record.attributes.value("rank", -1), i);
    EXPECT_EQ(record.attributes.value("tags", json()), json({"a", "b"}));
  }
}

TEST_F(SdkVsEmulator, PartialBatchRejectsOnlyTheBadItem) {
  std::vector<Contact> contacts;
  for (int i = 0; i < 5; ++i) {
    contacts.push_back(
        Contact("partial-" + std::to_string(i)).email("p" + std::to_string(i) + "@example.com"));
  }
  contacts[2] = Contact("partial-2").email("not-an-email");
  const BatchResult result = client_.upsert_contacts(contacts);
  ASSERT_EQ(result.size(), 5u);
  EXPECT_EQ(Statuses(result), (std::vector<ItemStatus>{ItemStatus::accepted, ItemStatus::accepted,
                                                       ItemStatus::rejected, ItemStatus::accepted,
                                                       ItemStatus::accepted}));
  EXPECT_EQ(result[2].id, "partial-2");
  EXPECT_EQ(result[2].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  ASSERT_EQ(result.failed().size(), 1u);
  EXPECT_EQ(result.failed()[0].index, 2u);
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  ExpectShape(result.requests()[0]);

  const json stored = admin_.contacts();
  EXPECT_EQ(stored.size(), 4u) << stored.dump();
  EXPECT_FALSE(stored.contains("partial-2"));
  Catch<NotFoundError>([&] { client_.get_contact("partial-2"); });
  EXPECT_EQ(client_.get_contact("partial-3").attributes.value("_email", ""), "p3@example.com");
}

TEST_F(SdkVsEmulator, AllInvalidBatchIsA422ReturnedAsResult) {
  const std::vector<Contact> contacts = {
      Contact("invalid-0").email("nope"),
      Contact("invalid-1").phone_mobile("12345"),
      Contact("invalid-2").reserved("_no_such_reserved", "x"),
  };
  BatchResult result;
  ASSERT_NO_THROW(result = client_.upsert_contacts(contacts));
  ASSERT_EQ(result.size(), 3u);
  for (const ItemResult& item : result.items()) {
    EXPECT_EQ(item.status, ItemStatus::rejected) << item.id;
  }
  EXPECT_EQ(result[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(result[1].errors, (FieldErrors{{"_phone_mobile", {"Invalid format"}}}));
  EXPECT_EQ(result[2].errors.count("_no_such_reserved"), 1u);
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 422);
  ExpectShape(result.requests()[0]);
  EXPECT_TRUE(admin_.contacts().empty());
}

TEST_F(SdkVsEmulator, NullClearsAndOmittedKeeps) {
  ExpectAllAccepted(client_.upsert_contacts({Contact("merge-1")
                                                 .first_name("Ada")
                                                 .last_name("Lovelace")
                                                 .email("ada@example.com")
                                                 .attribute("plan", "pro")
                                                 .attribute("tags", {"vip", "beta"})
                                                 .attribute("score", 9.5)}),
                    1);
  ExpectAllAccepted(client_.upsert_contacts({Contact("merge-1")
                                                 .clear("plan")
                                                 .attribute("tags", nullptr)
                                                 .reserved("_last_name", nullptr)
                                                 .attribute("active", true)}),
                    1);
  const json attributes = client_.get_contact("merge-1").attributes;
  EXPECT_EQ(attributes.value("_first_name", ""), "Ada");           // omitted: kept
  EXPECT_EQ(attributes.value("_email", ""), "ada@example.com");    // omitted: kept
  EXPECT_EQ(attributes.value("score", 0.0), 9.5);                  // omitted: kept
  EXPECT_FALSE(attributes.contains("plan")) << attributes.dump();  // null: cleared
  EXPECT_FALSE(attributes.contains("tags")) << attributes.dump();
  EXPECT_FALSE(attributes.contains("_last_name")) << attributes.dump();
  EXPECT_EQ(attributes.value("active", false), true);  // custom bool stays a JSON bool
}

TEST_F(SdkVsEmulator, ReservedBooleansAreSentAsOneAndZero) {
  ExpectAllAccepted(
      client_.upsert_contacts(
          {Contact("bools-1").email_verified(true).phone_mobile_verified(false).country_code(
              "ES")}),
      1);
  const json attributes = client_.get_contact("bools-1").attributes;
  EXPECT_EQ(attributes.value("_email_verified", ""), "1");
  EXPECT_EQ(attributes.value("_phone_mobile_verified", ""), "0");
  EXPECT_EQ(attributes.value("_country_code", ""), "ES");
}

TEST_F(SdkVsEmulator, DeleteThenGetIsNotFound) {
  ExpectAllAccepted(client_.upsert_contacts({Contact("delete-1").first_name("Del")}), 1);
  EXPECT_EQ(client_.get_contact("delete-1").attributes.value("_first_name", ""), "Del");
  const DeleteResult deleted = client_.delete_contact("delete-1");
  EXPECT_GE(deleted.http_status, 200);
  EXPECT_LT(deleted.http_status, 300);
  EXPECT_FALSE(deleted.request_id.empty());
  const auto missing = Catch<NotFoundError>([&] { client_.get_contact("delete-1"); });
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->http_status(), 404);
  EXPECT_FALSE(missing->request_id().empty());
  EXPECT_EQ(missing->server_message(), "Contact not found");
  // Deleting what is not there is a 404 too.
  Catch<NotFoundError>([&] { client_.delete_contact("delete-1"); });
  EXPECT_FALSE(admin_.contacts().contains("delete-1"));
}

TEST_F(SdkVsEmulator, IdsWithSlashSpaceAndUtf8) {
  const std::vector<std::string> ids = {"ids/a/b", "ids with space", "ids-ñandú-🦜",
                                        "ids?x=1&y#z", "ids%2F100%"};
  std::vector<Contact> contacts;
  for (const std::string& id : ids) contacts.push_back(Contact(id).attribute("original", id));
  ExpectAllAccepted(client_.upsert_contacts(contacts), ids.size());

  const json stored = admin_.contacts();
  EXPECT_EQ(stored.size(), ids.size()) << stored.dump();
  for (const std::string& id : ids) {
    EXPECT_TRUE(stored.contains(id)) << id;
    const ContactRecord record = client_.get_contact(id);
    // The emulator echoes the user id it decoded from the path.
    EXPECT_EQ(record.raw.at("contact").value("userId", ""), id);
    EXPECT_EQ(record.attributes.value("original", ""), id);
  }

  // An event whose `_user_data` upserts such a user.
  ExpectAllAccepted(
      client_.record_events(
          {Event(ids[0], "ids-event-1", "signup").user_data(Contact(ids[0]).first_name("Slash"))}),
      1);
  EXPECT_EQ(client_.get_contact(ids[0]).attributes.value("_first_name", ""), "Slash");

  for (const std::string& id : ids) {
    client_.delete_contact(id);
    Catch<NotFoundError>([&] { client_.get_contact(id); });
  }
  EXPECT_TRUE(admin_.contacts().empty());
}

// ---------------------------------------------------------------------------------------------
// Events

TEST_F(SdkVsEmulator, EventsWithAndWithoutDateAndUserData) {
  const auto now = system_clock::now();
  const auto recent = now - std::chrono::minutes(1);
  const auto old = now - std::chrono::hours(3);
  const std::vector<Event> events = {
      Event("ev-user-1", "ev-1", "page_view")
          .parameter("url", "https://example.com/")
          .parameter("title", "Home"),
      Event("ev-user-2", "ev-2", "purchase")
          .date(recent)
          .parameter("amount", "49.90")
          .parameter("products", Value::object({{"sku", "A-1"}, {"qty", 2}}))
          .user_data(Contact("ev-user-2").first_name("Eve").email("eve@example.com")),
      Event("ev-user-3", "ev-3", "signup").date(old),
  };
  EXPECT_TRUE(events[0].within_automation_window());
  EXPECT_TRUE(events[1].within_automation_window());
  EXPECT_FALSE(events[2].within_automation_window());

  const BatchResult result = client_.record_events(events);
  ExpectAllAccepted(result, 3);
  EXPECT_EQ(result[0].id, "ev-1");
  EXPECT_EQ(result[1].id, "ev-2");
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  ExpectShape(result.requests()[0]);

  auto stored = admin_.events();
  ASSERT_EQ(stored.size(), 3u);
  // No date: the emulator used the time of reception, so the event may trigger automations.
  const json& e1 = stored["ev-1"];
  EXPECT_TRUE(e1.at("event").contains("_event_date"));
  EXPECT_TRUE(e1.at("triggersAutomations").get<bool>());
  EXPECT_EQ(e1.at("event").at("_event_parameters"),
            (json{{"url", "https://example.com/"}, {"title", "Home"}}));
  EXPECT_EQ(e1.at("event").at("_event_type"), "page_view");
  EXPECT_EQ(e1.at("event").at("_user_id"), "ev-user-1");
  // A date within the hour: sent as ISO 8601 UTC with milliseconds, triggers automations.
  const json& e2 = stored["ev-2"];
  EXPECT_EQ(e2.at("event").at("_event_date"), format_iso8601(recent));
  EXPECT_TRUE(e2.at("triggersAutomations").get<bool>());
  EXPECT_EQ(e2.at("event").at("_event_parameters").at("products"),
            (json{{"sku", "A-1"}, {"qty", 2}}));
  // Three hours ago: stored, but triggers none.
  const json& e3 = stored["ev-3"];
  EXPECT_EQ(e3.at("event").at("_event_date"), format_iso8601(old));
  EXPECT_FALSE(e3.at("triggersAutomations").get<bool>());

  // `_user_data` upserted the contact; users without it were not created.
  const json attributes = client_.get_contact("ev-user-2").attributes;
  EXPECT_EQ(attributes.value("_first_name", ""), "Eve");
  EXPECT_EQ(attributes.value("_email", ""), "eve@example.com");
  Catch<NotFoundError>([&] { client_.get_contact("ev-user-1"); });
}

TEST_F(SdkVsEmulator, InvalidUserDataRejectsOnlyThatEvent) {
  const BatchResult result = client_.record_events({
      Event("ud-user-1", "ud-1", "signup"),
      Event("ud-user-2", "ud-2", "signup").user_data(Contact("ud-user-2").email("broken")),
  });
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[1].status, ItemStatus::rejected);
  EXPECT_EQ(result[1].id, "ud-2");
  EXPECT_EQ(result[1].errors.count("_user_data._email"), 1u);
  const auto stored = admin_.events();
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored.count("ud-1"), 1u);
  EXPECT_FALSE(admin_.contacts().contains("ud-user-2"));
}

TEST_F(SdkVsEmulator, ResentEventIdIsAcceptedAndStoredOnce) {
  const auto first =
      client_.record_events({Event("dup-user", "dup-1", "purchase").parameter("amount", "10")});
  ExpectAllAccepted(first, 1);
  // The same _event_id again (a retry by the application, with other content): success.
  const auto again =
      client_.record_events({Event("dup-user", "dup-1", "purchase").parameter("amount", "99"),
                             Event("dup-user", "dup-2", "purchase").parameter("amount", "20")});
  ExpectAllAccepted(again, 2);

  const auto stored = admin_.events();
  ASSERT_EQ(stored.size(), 2u);
  // Events are immutable: the first one received is the one kept.
  EXPECT_EQ(stored.at("dup-1").at("event").at("_event_parameters").at("amount"), "10");
  EXPECT_EQ(admin_.stats().at("duplicateEvents").get<int>(), 1);
}

// ---------------------------------------------------------------------------------------------
// Flags

TEST_F(SdkVsEmulator, DryRunStoresNothing) {
  WriteOptions dry;
  dry.dry_run = true;
  const BatchResult contacts = client_.upsert_contacts(
      {Contact("dry-1").first_name("Dry"), Contact("dry-2").email("bad")}, dry);
  ASSERT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts[0].status, ItemStatus::accepted);
  EXPECT_EQ(contacts[1].status, ItemStatus::rejected);  // still validated
  EXPECT_EQ(contacts[1].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  if (emulator().shape == "connectors") {
    EXPECT_EQ(contacts.requests()[0].parsed_body().value("dryRun", false), true);
  }

  WriteOptions dry_sync;
  dry_sync.dry_run = true;
  dry_sync.sync = true;
  ExpectAllAccepted(
      client_.record_events(
          {Event("dry-1", "dry-ev-1", "signup").user_data(Contact("dry-1").first_name("Dry"))},
          dry_sync),
      1);

  Catch<NotFoundError>([&] { client_.get_contact("dry-1"); });
  const json state = admin_.state();
  EXPECT_TRUE(state.at("contacts").empty()) << state.dump();
  EXPECT_TRUE(state.at("events").empty()) << state.dump();
}

TEST_F(SdkVsEmulator, SyncWriteStores) {
  WriteOptions sync;
  sync.sync = true;
  ExpectAllAccepted(client_.upsert_contacts({Contact("sync-1").first_name("Sync")}, sync), 1);
  ExpectAllAccepted(client_.record_events({Event("sync-1", "sync-ev-1", "signup")}, sync), 1);
  EXPECT_EQ(client_.get_contact("sync-1").attributes.value("_first_name", ""), "Sync");
  EXPECT_EQ(admin_.events().count("sync-ev-1"), 1u);
}

// ---------------------------------------------------------------------------------------------
// Credentials

TEST_F(SdkVsEmulator, WrongTokenIsUnauthorized) {
  ClientOptions options = Options();
  options.token = "not-the-demo-token";
  const Client wrong(options);
  const auto info = Catch<UnauthorizedError>([&] { wrong.stream_info(); });
  ASSERT_TRUE(info);
  EXPECT_EQ(info->http_status(), 401);

  const auto write =
      Catch<UnauthorizedError>([&] { wrong.upsert_contacts({Contact("unauth-1")}); });
  ASSERT_TRUE(write);
  ASSERT_NE(write->partial_result(), nullptr);
  ASSERT_EQ(write->partial_result()->size(), 1u);
  EXPECT_EQ((*write->partial_result())[0].status, ItemStatus::not_sent);
  Catch<UnauthorizedError>([&] { wrong.get_contact("unauth-1"); });
  EXPECT_TRUE(admin_.contacts().empty());
  // Never retried: one 401 per call.
  EXPECT_EQ(admin_.stats().at("responsesByStatus").value("401", 0), 3);
}

TEST_F(SdkVsEmulator, OtherDatasourceIsNotFound) {
  ClientOptions options = Options();
  options.datasource = "ds_other";
  const Client other(options);
  const auto info = Catch<NotFoundError>([&] { other.stream_info(); });
  ASSERT_TRUE(info);
  EXPECT_EQ(info->http_status(), 404);
  const auto write = Catch<NotFoundError>(
      [&] { other.record_events({Event("other-1", "other-ev-1", "signup")}); });
  ASSERT_TRUE(write);
  ASSERT_NE(write->partial_result(), nullptr);
  EXPECT_EQ((*write->partial_result())[0].status, ItemStatus::not_sent);
  Catch<NotFoundError>([&] { other.attribute_specs(); });

  options = Options();
  options.project = "proj_other";
  Catch<NotFoundError>([&] { Client(options).stream_info(); });
  EXPECT_TRUE(admin_.state().at("events").empty());
}

// ---------------------------------------------------------------------------------------------
// Faults injected by the emulator (POST /_emulator/faults)

TEST_F(SdkVsEmulator, ServerErrorsAreRetriedUntilSuccess) {
  admin_.script_faults({"500", "500", "ok"});
  const BatchResult result =
      client_.upsert_contacts({Contact("fault500-1").first_name("A"), Contact("fault500-2")});
  ExpectAllAccepted(result, 2);
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  const json stats = admin_.stats();
  EXPECT_EQ(stats.at("faultsInjected").get<int>(), 2);
  EXPECT_EQ(stats.at("responsesByStatus").value("500", 0), 2);
  EXPECT_EQ(admin_.contacts().size(), 2u);
}

TEST_F(SdkVsEmulator, ServerErrorsExhaustTheRetries) {
  ClientOptions options = Options();
  options.retry.max_attempts = 2;
  admin_.script_faults({"503", "503"});
  const auto error =
      Catch<ServerError>([&] { Client(options).upsert_contacts({Contact("fault503-1")}); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 503);
  ASSERT_NE(error->partial_result(), nullptr);
  // A 5xx may have been processed: the item's fate is unknown.
  EXPECT_EQ((*error->partial_result())[0].status, ItemStatus::unknown);
  EXPECT_EQ(admin_.stats().at("faultsInjected").get<int>(), 2);
}

TEST_F(SdkVsEmulator, RateLimitedIsRetriedAfterRetryAfter) {
  admin_.script_faults({"429", "ok"});
  const auto start = steady_clock::now();
  const BatchResult result = client_.upsert_contacts({Contact("fault429-1").first_name("R")});
  const auto elapsed = steady_clock::now() - start;
  ExpectAllAccepted(result, 1);
  // The emulator's 429 says Retry-After: 1.
  EXPECT_GE(elapsed, milliseconds(900));
  EXPECT_LT(elapsed, milliseconds(5'000));
  EXPECT_EQ(admin_.stats().at("responsesByStatus").value("429", 0), 1);
  EXPECT_EQ(client_.get_contact("fault429-1").attributes.value("_first_name", ""), "R");
}

TEST_F(SdkVsEmulator, TruncatedAnswerLeavesItemsUnknown) {
  admin_.script_faults({"truncate"});
  const BatchResult result = client_.upsert_contacts(
      {Contact("trunc-1"), Contact("trunc-2").email("bad"), Contact("trunc-3")});
  ASSERT_EQ(result.size(), 3u);
  for (const ItemResult& item : result.items()) {
    EXPECT_EQ(item.status, ItemStatus::unknown) << item.index << " " << item.id;
  }
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  EXPECT_TRUE(result.requests()[0].parsed_body().is_null());  // not JSON any more
  // It was processed all the same: "unknown" means resending is the safe move.
  EXPECT_EQ(admin_.contacts().size(), 2u);
  ExpectAllAccepted(client_.upsert_contacts({Contact("trunc-1"), Contact("trunc-3")}), 2);
}

TEST_F(SdkVsEmulator, DroppedConnectionIsRetriedAndEventsStoredOnce) {
  admin_.script_faults({"drop"});
  std::vector<Event> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back(Event("drop-user", "drop-ev-" + std::to_string(i), "page_view")
                         .parameter("url", "https://example.com/" + std::to_string(i)));
  }
  const BatchResult result = client_.record_events(events);
  ExpectAllAccepted(result, 5);
  const json stats = admin_.stats();
  EXPECT_EQ(stats.at("faultsInjected").get<int>(), 1);
  // The dropped request was processed, so the retry resent stored events: deduplicated.
  EXPECT_EQ(stats.at("duplicateEvents").get<int>(), 5);
  const auto stored = admin_.events();
  ASSERT_EQ(stored.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(stored.count("drop-ev-" + std::to_string(i)), 1u);
}

}  // namespace
}  // namespace instasent
