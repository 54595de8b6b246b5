// SPDX-License-Identifier: Apache-2.0
// From JSON objects to the SDK's builders: fields, errors that name them, dates and derived ids.
#include <gtest/gtest.h>

#include "commands.hpp"
#include "items.hpp"
#include "progress.hpp"

namespace instasent::cli {
namespace {

using nlohmann::json;

std::string error_field(const std::function<void()>& step) {
  try {
    step();
  } catch (const ItemError& error) {
    return error.field();
  }
  return "(no error)";
}

TEST(ContactFromJson, ReservedCustomAndBooleans) {
  const Contact contact = contact_from_json(json::parse(
      R"({"_user_id":"U1","_email":"a@example.com","_email_verified":true,"plan":"pro",
          "vip":false,"tags":["a","b"],"n":3,"gone":null})"));
  const json sent = json::parse(contact.to_json());
  EXPECT_EQ(sent["_user_id"], "U1");
  EXPECT_EQ(sent["_email"], "a@example.com");
  EXPECT_EQ(sent["_email_verified"], "1");  // reserved booleans go as "1"/"0"
  EXPECT_EQ(sent["vip"], false);            // custom ones stay booleans
  EXPECT_EQ(sent["tags"], json::array({"a", "b"}));
  EXPECT_EQ(sent["n"], 3);
  EXPECT_TRUE(sent.contains("gone") && sent["gone"].is_null());
}

TEST(ContactFromJson, ErrorsNameTheField) {
  const auto field = [](const char* text) {
    return error_field([&] { contact_from_json(json::parse(text)); });
  };
  EXPECT_EQ(field(R"({"_email":"a@example.com"})"), "_user_id");
  EXPECT_EQ(field(R"({"_user_id":7})"), "_user_id");
  EXPECT_EQ(field(R"({"_user_id":""})"), "_user_id");
  EXPECT_EQ(field(R"({"_user_id":"U1","address":{"city":"x"}})"), "address");
  EXPECT_EQ(field(R"({"_user_id":"U1","tags":[["nested"]]})"), "tags");
  EXPECT_EQ(field(R"({"_user_id":"U1","_first_name":{"a":1}})"), "_first_name");
  EXPECT_EQ(field(R"([1])"), "");
  // Too deep to walk: refused before the walk, naming the field.
  std::string deep =
      R"({"_user_id":"U1","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(field(deep.c_str()), "x");
}

TEST(EventFromJson, AllFields) {
  const Event event = event_from_json(json::parse(
      R"({"_user_id":"U1","_event_id":"E1","_event_type":"purchase",
          "_event_date":"2026-11-28T10:00:00+01:00","_event_parameters":{"amount":9.5,"p":{"a":1}},
          "_user_data":{"_email":"a@example.com"}})"));
  const json sent = json::parse(event.to_json());
  EXPECT_EQ(sent["_event_id"], "E1");
  EXPECT_EQ(sent["_event_date"], "2026-11-28T09:00:00.000Z");
  EXPECT_EQ(sent["_event_parameters"]["p"]["a"], 1);      // parameters may be objects
  EXPECT_FALSE(sent["_user_data"].contains("_user_id"));  // the event's user, not repeated
  EXPECT_EQ(sent["_user_data"]["_email"], "a@example.com");
}

TEST(EventFromJson, ErrorsNameTheField) {
  const auto field = [](const char* text) {
    return error_field([&] { event_from_json(json::parse(text)); });
  };
  EXPECT_EQ(field(R"({"_event_type":"purchase"})"), "_user_id");
  EXPECT_EQ(field(R"({"_user_id":"U1"})"), "_event_type");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":""})"), "_event_type");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","_event_id":5})"), "_event_id");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","_event_date":"2026-11-28"})"),
            "_event_date");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","_event_parameters":[1]})"),
            "_event_parameters");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","amount":1})"), "amount");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","_user_data":{"_user_id":"U2"}})"),
            "_user_data._user_id");
  EXPECT_EQ(field(R"({"_user_id":"U1","_event_type":"t","_user_data":{"x":{"y":1}}})"),
            "_user_data.x");
}

TEST(EventFromJson, DerivedIdsAreStableAndDistinct) {
  const json a =
      json::parse(R"({"_user_id":"U1","_event_type":"purchase","_event_parameters":{"n":1}})");
  const json b =
      json::parse(R"({"_event_parameters":{"n":1},"_event_type":"purchase","_user_id":"U1"})");
  const json c =
      json::parse(R"({"_user_id":"U1","_event_type":"purchase","_event_parameters":{"n":2}})");
  const std::string id = event_from_json(a).event_id();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '8');                        // UUID version 8
  EXPECT_EQ(event_from_json(b).event_id(), id);  // key order does not matter
  EXPECT_NE(event_from_json(c).event_id(), id);
  EXPECT_EQ(derived_event_id(a), id);
}

TEST(Iso8601, AcceptsDateTimesWithAZone) {
  const auto at = [](const char* text) {
    const auto parsed = parse_iso8601(text);
    return parsed ? format_iso8601(*parsed) : std::string("(none)");
  };
  EXPECT_EQ(at("2026-11-28T10:00:00Z"), "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(at("2026-11-28T10:00:00.5Z"), "2026-11-28T10:00:00.500Z");
  EXPECT_EQ(at("2026-11-28T10:00:00.123456789Z"), "2026-11-28T10:00:00.123Z");
  EXPECT_EQ(at("2026-11-28 10:00+02:00"), "2026-11-28T08:00:00.000Z");
  EXPECT_EQ(at("2026-11-28T01:30:00-0130"), "2026-11-28T03:00:00.000Z");
  EXPECT_EQ(at("2026-11-28T23:00:00-02"), "2026-11-29T01:00:00.000Z");
  EXPECT_EQ(at("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(at("1969-12-31T23:59:59.999Z"), "1969-12-31T23:59:59.999Z");
  for (const char* bad : {"2026-11-28", "2026-11-28T10:00:00", "2026-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:00:00.Z",
                          "2026-11-28T10:00:00Zjunk", "28/11/2026 10:00Z", ""}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

// A date a system_clock cannot hold (it counts nanoseconds in 64 bits) used to overflow while it
// was converted (found by fuzzing): it is now refused, naming the field.
TEST(Iso8601, DatesOutsideWhatAClockHoldsAreRefusedNotOverflowed) {
  EXPECT_TRUE(parse_iso8601("2200-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_iso8601("1700-01-01T00:00:00Z"));
  for (const char* far : {"2620-11-28T10:00:00+01:00", "9999-12-31T23:59:59Z",
                          "0000-01-01T00:00:00Z", "2262-12-31T00:00:00Z", "1677-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_iso8601(far)) << far;
    EXPECT_EQ(
        error_field([&] {
          event_from_json(json{{"_user_id", "U"}, {"_event_type", "t"}, {"_event_date", far}});
        }),
        "_event_date")
        << far;
  }
}

TEST(Progress, TerminalAndLogLines) {
  ProgressSnapshot snapshot;
  snapshot.done = 2'500;
  snapshot.read = 5'000;
  snapshot.failed = 3;
  snapshot.bytes_read = 500;
  snapshot.bytes_total = 1'000;
  snapshot.items_per_second = 1'000;
  EXPECT_EQ(format_progress(snapshot, true),
            "2,500/~10,000 items (25%)  1,000/s  failed 3  ETA 8 s");
  EXPECT_EQ(format_progress(snapshot, false),
            "instasent: 2,500 of about 10,000 items done, 1,000/s, 3 failed, ETA 8 s");
  snapshot.input_finished = true;
  EXPECT_EQ(format_progress(snapshot, true), "2,500/5,000 items (50%)  1,000/s  failed 3  ETA 3 s");
  snapshot.bytes_total.reset();
  snapshot.input_finished = false;
  EXPECT_EQ(format_progress(snapshot, true), "2,500 items  1,000/s  failed 3");
  EXPECT_EQ(format_duration(3'725), "1:02:05");

  // While a rate limit holds sending back: the wait in the rate's place, and in the ETA.
  snapshot.input_finished = true;
  snapshot.rate_limit_wait_left = 42;
  EXPECT_EQ(format_progress(snapshot, true),
            "2,500/5,000 items (50%)  waiting for the rate limit, resumes in 42 s  failed 3  "
            "ETA 45 s");
  EXPECT_EQ(format_progress(snapshot, false),
            "instasent: 2,500 of 5,000 items done, waiting for the rate limit, resumes in 42 s, 3 "
            "failed, ETA 45 s");
}

// The ETA never promises more than the announced rate limit allows: 100 items a request, the
// minute's remaining requests, then `per_minute` a minute after the reset.
TEST(Progress, TheEtaRespectsTheAnnouncedRateLimit) {
  EXPECT_EQ(rate_limit_floor({600, 50, 30}, 50), 0);    // the minute's allowance covers it
  EXPECT_EQ(rate_limit_floor({600, 50, 30}, 51), 30);   // the next minute's does
  EXPECT_EQ(rate_limit_floor({600, 50, 30}, 650), 30);  // still the next minute's
  EXPECT_EQ(rate_limit_floor({600, 50, 30}, 651), 90);  // and one more minute
  EXPECT_EQ(rate_limit_floor({600, 0, -5}, 1), 0);      // a reset in the past: now
  EXPECT_EQ(rate_limit_floor({600, 0, 3'600}, 1), 60);  // a skewed clock: at most a minute
  EXPECT_EQ(rate_limit_floor({0, 0, 30}, 1'000), 0);    // no limit announced

  ProgressSnapshot snapshot;
  snapshot.done = 0;
  snapshot.read = 100'000;  // 1,000 requests
  snapshot.input_finished = true;
  snapshot.items_per_second = 100'000;  // a second at this rate...
  EXPECT_EQ(format_progress(snapshot, true), "0/100,000 items (0%)  100,000/s  failed 0  ETA 1 s");
  snapshot.rate_limit = AnnouncedRateLimit{600, 100, 20};  // ...but 600 requests a minute
  EXPECT_EQ(format_progress(snapshot, true), "0/100,000 items (0%)  100,000/s  failed 0  ETA 1:20");
}

TEST(MaskToken, RawAndEscaped) {
  EXPECT_EQ(mask_token("a tok-1 b tok-1", "tok-1"), "a *** b ***");
  EXPECT_EQ(mask_token(R"({"t":"x\"y"})", "x\"y"), R"({"t":"***"})");
  EXPECT_EQ(mask_token("nothing", ""), "nothing");
}

}  // namespace
}  // namespace instasent::cli
