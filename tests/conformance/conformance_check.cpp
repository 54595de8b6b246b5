// SPDX-License-Identifier: Apache-2.0
// instasent_conformance_check BASE_URL
//
// Makes the SDK's real requests, for every endpoint and flag, through an OpenAPI validator that
// proxies to the emulator (Prism: `prism proxy ingest.openapi.yaml http://emulator`), with a
// transport that wraps the libcurl one and records every answer's `sl-violations` header, in
// which Prism names what in the request (or the answer) does not match the spec.
//
// Fails (exit 1) when any request the SDK made was flagged, when an SDK call did not behave as
// expected, or when a canary request that is known to be invalid was NOT flagged: that proves
// Prism really validated (a schema it fails to compile can make it accept everything silently).
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"
#include "support/sample_contact.hpp"

namespace {

using instasent::Client;
using instasent::Contact;
using instasent::Event;
using instasent::HttpRequest;
using instasent::HttpResponse;
using instasent::ItemStatus;
using instasent::Value;
using instasent::WriteOptions;
using nlohmann::json;

/// One HTTP exchange, as seen by the transport.
struct Exchange {
  std::string step;  ///< The call that made it.
  std::string method;
  std::string url;
  int status = 0;          ///< 0: no answer (the transport threw).
  std::string violations;  ///< The `sl-violations` header; empty when absent.
};

/// Wraps another transport and records every exchange, tagged with the current step.
class RecordingTransport : public instasent::Transport {
 public:
  explicit RecordingTransport(std::shared_ptr<instasent::Transport> inner)
      : inner_(std::move(inner)) {}

  void set_step(std::string step) {
    std::lock_guard<std::mutex> lock(mutex_);
    step_ = std::move(step);
  }

  HttpResponse send(const HttpRequest& request) override {
    Exchange exchange;
    exchange.method = request.method;
    exchange.url = request.url;
    try {
      HttpResponse response = inner_->send(request);
      exchange.status = response.status;
      exchange.violations = response.headers.get("sl-violations").value_or("");
      record(std::move(exchange));
      return response;
    } catch (...) {
      record(std::move(exchange));
      throw;
    }
  }

  std::vector<Exchange> exchanges() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exchanges_;
  }

 private:
  void record(Exchange exchange) {
    std::lock_guard<std::mutex> lock(mutex_);
    exchange.step = step_;
    exchanges_.push_back(std::move(exchange));
  }

  std::shared_ptr<instasent::Transport> inner_;
  mutable std::mutex mutex_;
  std::string step_;
  std::vector<Exchange> exchanges_;
};

/// Runs the SDK calls one step at a time and collects what went wrong.
class Checker {
 public:
  explicit Checker(std::shared_ptr<RecordingTransport> transport)
      : transport_(std::move(transport)) {}

  /// Runs `call` as step `name`: the requests it makes are tagged with the name, and any
  /// exception it throws is a problem.
  void step(const std::string& name, const std::function<void()>& call) {
    transport_->set_step(name);
    ++steps_;
    try {
      call();
    } catch (const instasent::Error& error) {
      problem(name, std::string("unexpected ") + instasent::to_string(error.kind()) +
                        " error (HTTP " + std::to_string(error.http_status()) +
                        "): " + error.what() + " / server said: " + error.server_message());
    } catch (const std::exception& error) {
      problem(name, std::string("unexpected exception: ") + error.what());
    }
  }

  /// Runs `call`, which must throw an `instasent::Error` of `kind`.
  void step_expecting(const std::string& name, instasent::ErrorKind kind,
                      const std::function<void()>& call) {
    step(name, [&] {
      try {
        call();
      } catch (const instasent::Error& error) {
        if (error.kind() != kind) {
          problem(name, std::string("expected a ") + instasent::to_string(kind) + " error, got " +
                            instasent::to_string(error.kind()));
        }
        return;
      }
      problem(name, std::string("expected a ") + instasent::to_string(kind) +
                        " error, nothing was thrown");
    });
  }

  void expect(bool condition, const std::string& name, const std::string& what) {
    if (!condition) problem(name, what);
  }

  void problem(const std::string& name, const std::string& what) {
    problems_.push_back(name + ": " + what);
  }

  int steps() const { return steps_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::shared_ptr<RecordingTransport> transport_;
  int steps_ = 0;
  std::vector<std::string> problems_;
};

bool all_with_status(const instasent::BatchResult& result, ItemStatus status) {
  for (const auto& item : result.items()) {
    if (item.status != status) return false;
  }
  return !result.items().empty();
}

std::string statuses(const instasent::BatchResult& result) {
  std::string text;
  for (const auto& item : result.items()) {
    if (!text.empty()) text += ",";
    text += instasent::to_string(item.status);
  }
  return "[" + text + "]";
}

// The SDK's requests: every endpoint, every flag, every kind of item.
void run_sdk_calls(Checker& check, const Client& client) {
  using namespace std::chrono;
  WriteOptions sync;
  sync.sync = true;
  WriteOptions dry_run;
  dry_run.dry_run = true;
  WriteOptions sync_dry_run;
  sync_dry_run.sync = true;
  sync_dry_run.dry_run = true;

  check.step("stream_info", [&] { client.stream_info(); });
  check.step("attribute_specs", [&] {
    check.expect(!client.attribute_specs().empty(), "attribute_specs", "no specs");
  });
  check.step("event_specs",
             [&] { check.expect(!client.event_specs().empty(), "event_specs", "no specs"); });
  check.step("event_parameter_specs(purchase)", [&] {
    check.expect(!client.event_parameter_specs("purchase").empty(),
                 "event_parameter_specs(purchase)", "no specs");
  });
  check.step_expecting("event_parameter_specs(unknown type)", instasent::ErrorKind::not_found,
                       [&] { client.event_parameter_specs("no such type"); });

  const auto contacts_step = [&](const std::string& name, const std::vector<Contact>& contacts,
                                 const WriteOptions& options, ItemStatus expected) {
    check.step(name, [&] {
      const auto result = client.upsert_contacts(contacts, options);
      check.expect(all_with_status(result, expected), name,
                   std::string("expected every item ") + instasent::to_string(expected) + ", got " +
                       statuses(result));
    });
  };
  const std::vector<Contact> full = {
      instasent::testing::ada_lovelace("conf-1")
          .phone_mobile_verified(false)
          .reserved("_language", "es")
          .attribute("plan", "pro")
          .attribute("tags", {"vip", "beta"})
          .attribute("visits", 42)
          .attribute("score", 9.5)
          .attribute("active", true)
          .attribute("legacy", nullptr),
      Contact("conf-2").email("grace@example.com").clear("plan"),
      Contact("conf a/b ñandú").first_name("Odd id"),
  };
  contacts_step("upsert_contacts", full, {}, ItemStatus::accepted);
  contacts_step("upsert_contacts ?_sync", {Contact("conf-3").first_name("Sync")}, sync,
                ItemStatus::accepted);
  contacts_step("upsert_contacts ?_dryRun", {Contact("conf-dry").first_name("Dry")}, dry_run,
                ItemStatus::accepted);
  contacts_step("upsert_contacts ?_sync&_dryRun", {Contact("conf-dry").first_name("Dry")},
                sync_dry_run, ItemStatus::accepted);
  contacts_step("upsert_contacts, every item invalid (422)",
                {Contact("conf-bad-1").email("not-an-email"), Contact("conf-bad-2").email("x")}, {},
                ItemStatus::rejected);
  check.step("upsert_contacts, one item invalid (202)", [&] {
    const auto result = client.upsert_contacts(
        {Contact("conf-4").email("ok@example.com"), Contact("conf-5").email("bad")});
    check.expect(result.size() == 2 && result[0].status == ItemStatus::accepted &&
                     result[1].status == ItemStatus::rejected,
                 "upsert_contacts, one item invalid (202)", "got " + statuses(result));
  });
  {
    std::vector<Contact> many;
    for (int i = 0; i < 150; ++i) many.push_back(Contact("conf-many-" + std::to_string(i)));
    contacts_step("upsert_contacts, 150 items (two requests)", many, {}, ItemStatus::accepted);
  }

  const auto events_step = [&](const std::string& name, const std::vector<Event>& events,
                               const WriteOptions& options) {
    check.step(name, [&] {
      const auto result = client.record_events(events, options);
      check.expect(all_with_status(result, ItemStatus::accepted), name,
                   "expected every item accepted, got " + statuses(result));
    });
  };
  const auto now = system_clock::now();
  events_step("record_events, bare", {Event("conf-1", "conf-ev-1", "signup")}, {});
  events_step("record_events, with date", {Event("conf-1", "conf-ev-2", "signup").date(now)}, {});
  events_step("record_events, date three hours ago",
              {Event("conf-1", "conf-ev-3", "signup").date(now - hours(3))}, {});
  events_step("record_events, with parameters",
              {Event("conf-1", "conf-ev-4", "purchase")
                   .parameter("amount", "49.90")
                   .parameter("currency", "EUR")
                   .parameter("quantity", 2)
                   .parameter("gift", false)
                   .parameter("products", Value::array({Value::object({{"sku", "A-1"}})}))},
              {});
  events_step("record_events, with _user_data",
              {Event("conf-6", "conf-ev-5", "page_view")
                   .parameter("url", "https://example.com/")
                   .user_data(Contact("conf-6").first_name("Embedded").email("e@example.com"))},
              {});
  events_step("record_events, date + parameters + _user_data",
              {Event("conf-7", "conf-ev-6", "cart_abandoned")
                   .date(now - minutes(5))
                   .parameter("amount", "10")
                   .user_data(Contact("conf-7").last_name("Cart").attribute("plan", "free"))},
              {});
  events_step("record_events ?_sync", {Event("conf-1", "conf-ev-7", "signup")}, sync);
  events_step("record_events ?_dryRun", {Event("conf-1", "conf-ev-8", "signup")}, dry_run);
  events_step("record_events ?_sync&_dryRun", {Event("conf-1", "conf-ev-9", "signup")},
              sync_dry_run);
  events_step("record_events, resent _event_id", {Event("conf-1", "conf-ev-1", "signup")}, {});

  check.step("get_contact", [&] {
    const auto record = client.get_contact("conf-1");
    check.expect(record.attributes.value("_first_name", "") == "Ada", "get_contact",
                 "stored _first_name is not \"Ada\"");
  });
  check.step("get_contact, id with space, slash and UTF-8",
             [&] { client.get_contact("conf a/b ñandú"); });
  check.step_expecting("get_contact, unknown id", instasent::ErrorKind::not_found,
                       [&] { client.get_contact("conf-nobody"); });
  check.step("delete_contact", [&] { client.delete_contact("conf-2"); });
  check.step("delete_contact, id with space, slash and UTF-8",
             [&] { client.delete_contact("conf a/b ñandú"); });
  check.step_expecting("get_contact after delete_contact", instasent::ErrorKind::not_found,
                       [&] { client.get_contact("conf-2"); });
}

// Requests known to violate the spec, sent raw through the same transport.
struct Canary {
  const char* name;
  const char* path;
  const char* body;
};

constexpr Canary kCanaries[] = {
    {"canary: event without _event_type", "/stream/events",
     R"([{"_user_id":"canary-1","_event_id":"canary-ev-1"}])"},
    {"canary: contacts body is an object, not an array", "/stream/contacts",
     R"({"_user_id":"canary-2"})"},
    {"canary: _event_date is not an ISO 8601 date-time", "/stream/events",
     R"([{"_user_id":"canary-3","_event_id":"canary-ev-3","_event_type":"signup",)"
     R"("_event_date":"28/11/2026 10:00"}])"},
    {"canary: event with an unknown top-level field", "/stream/events",
     R"([{"_user_id":"canary-4","_event_id":"canary-ev-4","_event_type":"signup",)"
     R"("_event_parameter":{"typo":true}}])"},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: instasent_conformance_check BASE_URL (e.g. http://127.0.0.1:4010/v1)\n");
    return 2;
  }
  const std::string base_url = argv[1];
  const char* project = "proj_demo";
  const char* datasource = "ds_demo";
  const char* token = "demo-token";

  instasent::CurlTransportOptions curl;
  curl.connect_timeout = std::chrono::milliseconds(5'000);
  curl.request_timeout = std::chrono::milliseconds(20'000);
  auto transport = std::make_shared<RecordingTransport>(instasent::make_curl_transport(curl));

  instasent::ClientOptions options;
  options.project = project;
  options.datasource = datasource;
  options.token = token;
  options.base_url = base_url;
  options.transport = transport;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = std::chrono::milliseconds(50);

  Checker check(transport);
  try {
    const Client client(options);
    run_sdk_calls(check, client);
  } catch (const std::exception& error) {
    check.problem("setup", error.what());
  }
  const std::vector<Exchange> sdk_exchanges = transport->exchanges();

  // The canaries: must be flagged, or Prism did not really validate.
  std::vector<Exchange> canary_exchanges;
  for (const Canary& canary : kCanaries) {
    transport->set_step(canary.name);
    HttpRequest request;
    request.method = "POST";
    request.url = base_url + "/project/" + project + "/datasource/" + datasource + canary.path;
    request.headers.add("Authorization", std::string("Bearer ") + token);
    request.headers.add("Accept", "application/json");
    request.headers.add("Content-Type", "application/json");
    request.body = canary.body;
    try {
      transport->send(request);
    } catch (const std::exception& error) {
      check.problem(canary.name, std::string("no answer: ") + error.what());
    }
  }
  const std::vector<Exchange> all = transport->exchanges();
  canary_exchanges.assign(all.begin() + static_cast<std::ptrdiff_t>(sdk_exchanges.size()),
                          all.end());

  // Report.
  int flagged = 0;
  for (const Exchange& exchange : sdk_exchanges) {
    std::printf("  %-3d %-6s %s  [%s]\n", exchange.status, exchange.method.c_str(),
                exchange.url.c_str(), exchange.step.c_str());
    if (exchange.status == 0) check.problem(exchange.step, "a request got no answer");
    if (exchange.violations.empty()) continue;
    ++flagged;
    const json parsed = json::parse(exchange.violations, nullptr, /*allow_exceptions=*/false);
    std::string where;
    if (parsed.is_array()) {
      for (const json& violation : parsed) {
        const json location = violation.value("location", json::array());
        const std::string side = location.is_array() && !location.empty() && location[0].is_string()
                                     ? location[0].get<std::string>()
                                     : "?";
        where += "\n      " +
                 std::string(side == "request" ? "REQUEST (SDK)" : "RESPONSE (server)") + " " +
                 violation.dump();
      }
    } else {
      where = "\n      " + exchange.violations;
    }
    check.problem(exchange.step, exchange.method + " " + exchange.url + " -> HTTP " +
                                     std::to_string(exchange.status) + ", sl-violations:" + where);
  }
  for (const Exchange& exchange : canary_exchanges) {
    std::printf("  %-3d %-6s %s  [%s] sl-violations: %s\n", exchange.status,
                exchange.method.c_str(), exchange.url.c_str(), exchange.step.c_str(),
                exchange.violations.empty() ? "(none)" : exchange.violations.c_str());
    bool request_flagged = false;
    const json parsed = json::parse(exchange.violations, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_array()) {
      for (const json& violation : parsed) {
        const json location = violation.value("location", json::array());
        if (location.is_array() && !location.empty() && location[0] == "request") {
          request_flagged = true;
        }
      }
    }
    if (!request_flagged) {
      check.problem(exchange.step,
                    "the validator did NOT flag this invalid request: it is not validating");
    }
  }
  if (canary_exchanges.size() != std::size(kCanaries)) {
    check.problem("canaries", "not every canary request was sent");
  }
  if (sdk_exchanges.empty()) check.problem("setup", "the SDK made no request");

  std::printf("\n%d SDK calls, %zu SDK requests (%d flagged), %zu canaries\n", check.steps(),
              sdk_exchanges.size(), flagged, canary_exchanges.size());
  if (!check.problems().empty()) {
    std::printf("\nFAILED:\n");
    for (const std::string& problem : check.problems()) std::printf("- %s\n", problem.c_str());
    return 1;
  }
  std::printf("OK: no SDK request was flagged, and every canary was.\n");
  return 0;
}
