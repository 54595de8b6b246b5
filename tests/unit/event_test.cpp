// SPDX-License-Identifier: Apache-2.0
// Unit tests for instasent::Event: exact JSON, dates, validation and the automation window.

#include "instasent/event.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "instasent/contact.hpp"
#include "instasent/error.hpp"
#include "instasent/value.hpp"
#include "unit/builder_checks.hpp"

namespace instasent::testing {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::system_clock;

constexpr const char* kSecret = "SECRET-9c1e";

system_clock::time_point FromUnixMs(std::int64_t ms) {
  return system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(milliseconds(ms)));
}

// 2026-11-28T10:00:00.123Z
const system_clock::time_point kNow = FromUnixMs(1795860000123);

// Expects `action` to throw an InvalidInputError whose field() contains `field_part` and whose
// message and field do not contain kSecret.
void ExpectRejected(const std::function<void()>& action, const std::string& field_part) {
  testing::ExpectRejected(action, field_part, kSecret);
}

// ---- serialization ---------------------------------------------------------------------------

TEST(EventTest, Minimal) {
  Event e("U", "E", "purchase");
  EXPECT_EQ(e.user_id(), "U");
  EXPECT_EQ(e.event_id(), "E");
  EXPECT_EQ(e.event_type(), "purchase");
  EXPECT_FALSE(e.date().has_value());
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase"})");
}

// The JSON is built in one allocation of about its size: an event waiting in the Ingestor's queue
// holds its text, not the next power of two.
TEST(EventTest, ItsJsonTakesAboutItsOwnSize) {
  Event event("USER-1", "EVT-1", "purchase");
  event.parameter("amount", 19.99).parameter("currency", "EUR").parameter("sku", "SKU-12345");
  const std::string text = event.to_json();
  EXPECT_LT(text.capacity(), text.size() + 64) << text;
  event.date(std::chrono::system_clock::time_point{});
  const std::string dated = event.to_json();
  EXPECT_LT(dated.capacity(), dated.size() + 64) << dated;
}

TEST(EventTest, IdsAreEscaped) {
  ExpectJson(Event("U\"1", "E\\1", "t\n\xC3\xA9"),
             "{\"_user_id\":\"U\\\"1\",\"_event_id\":\"E\\\\1\",\"_event_type\":\"t\\n\xC3\xA9\"}");
}

TEST(EventTest, WithDate) {
  Event e("U", "E", "purchase");
  e.date(kNow);
  ASSERT_TRUE(e.date().has_value());
  EXPECT_EQ(*e.date(), kNow);
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase",)"
                R"("_event_date":"2026-11-28T10:00:00.123Z"})");
}

TEST(EventTest, SettingTheDateTwiceKeepsTheLast) {
  Event e("U", "E", "purchase");
  e.date(FromUnixMs(0)).date(kNow);
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase",)"
                R"("_event_date":"2026-11-28T10:00:00.123Z"})");
}

TEST(EventTest, FormatIso8601) {
  EXPECT_EQ(format_iso8601(kNow), "2026-11-28T10:00:00.123Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(1795860000000)), "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(1795860000007)), "2026-11-28T10:00:00.007Z");
}

TEST(EventTest, FormatIso8601BeforeEpoch) {
  EXPECT_EQ(format_iso8601(FromUnixMs(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(-86400000)), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(-14182939995)), "1969-07-20T20:17:40.005Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(-2203891200000)), "1900-03-01T00:00:00.000Z");
}

TEST(EventTest, FormatIso8601LeapDays) {
  EXPECT_EQ(format_iso8601(FromUnixMs(1709251199999)), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(1709251200000)), "2024-03-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(951782400000)), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(-310478400000)), "1960-02-29T12:00:00.000Z");
  // 1900 and 2100 are not leap years: the day after 28 February is 1 March.
  EXPECT_EQ(format_iso8601(FromUnixMs(-2203891200000 - 1)), "1900-02-28T23:59:59.999Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(4107542400000)), "2100-03-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(FromUnixMs(4107542400000 - 1)), "2100-02-28T23:59:59.999Z");
}

TEST(EventTest, PreEpochDateInEvent) {
  Event e("U", "E", "t");
  e.date(FromUnixMs(-1));
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"t",)"
                R"("_event_date":"1969-12-31T23:59:59.999Z"})");
}

TEST(EventTest, ParametersOfEveryKind) {
  Event e("U", "E", "purchase");
  e.parameter("amount", 49.9)
      .parameter("whole", 1.0)
      .parameter("qty", 3)
      .parameter("currency", "EUR")
      .parameter("gift", true)
      .parameter("coupon", nullptr)
      .parameter("skus", {"A-1", "B-2"})
      .parameter("item", Value::object({{"sku", "A-1"}, {"price", 9.5}}));
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase","_event_parameters":)"
                R"({"amount":49.9,"whole":1.0,"qty":3,"currency":"EUR","gift":true,"coupon":null,)"
                R"("skus":["A-1","B-2"],"item":{"sku":"A-1","price":9.5}}})");
}

TEST(EventTest, NestedParametersAreAllowed) {
  Event e("U", "E", "purchase");
  e.parameter("lines", Value::array({Value::object({{"sku", "A"}, {"tags", {"x", "y"}}})}))
      .parameter("matrix", {Value{1, 2}, Value{3}});
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase","_event_parameters":)"
                R"({"lines":[{"sku":"A","tags":["x","y"]}],"matrix":[[1,2],[3]]}})");
}

TEST(EventTest, ParameterKeysAreEscaped) {
  Event e("U", "E", "t");
  e.parameter("a\"b", 1);
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"t","_event_parameters":)"
                R"({"a\"b":1}})");
}

// The documented shape (the API's quickstart, step 4): the contact's attributes without
// `_user_id`, which the event's own `_user_id` gives.
TEST(EventTest, UserDataEmbedsTheContactWithoutItsUserId) {
  Contact c("U");
  c.email("ada@example.com").attribute("plan", "pro");
  Event e("U", "E", "signup");
  e.user_data(c);
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"signup","_user_data":)"
                R"({"_email":"ada@example.com","plan":"pro"}})");
}

TEST(EventTest, UserDataOfAContactWithNoAttributesIsAnEmptyObject) {
  Event e("U", "E", "signup");
  e.user_data(Contact("U"));
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"signup","_user_data":{}})");
}

TEST(EventTest, UserDataWithADifferentUserIdIsRejected) {
  Event e("U", "E", "signup");
  ExpectRejected([&] { e.user_data(Contact(kSecret)); }, "_user_data");
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"signup"})");
}

TEST(EventTest, FieldOrderIsFixedWhateverTheSetterOrder) {
  Event e("U", "E", "purchase");
  e.user_data(Contact("U").first_name("Ada")).parameter("amount", 10).date(kNow);
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase",)"
                R"("_event_date":"2026-11-28T10:00:00.123Z","_event_parameters":{"amount":10},)"
                R"("_user_data":{"_first_name":"Ada"}})");
}

TEST(EventTest, AppendJsonAppendsWithoutClearing) {
  Event e("U", "E", "t");
  e.parameter("n", 1);
  const std::string out = AppendedTwice(e);
  EXPECT_EQ(out, "[" + e.to_json() + "," + e.to_json() + "]");
  EXPECT_TRUE(json::accept(out)) << out;
}

// ---- rejections ------------------------------------------------------------------------------

TEST(EventTest, EmptyIdsAreRejectedNamingTheField) {
  ExpectRejected([] { Event e("", "E", "t"); }, "_user_id");
  ExpectRejected([] { Event e("U", "", "t"); }, "_event_id");
  ExpectRejected([] { Event e("U", "E", ""); }, "_event_type");
}

TEST(EventTest, IdsWithInvalidUtf8AreRejectedNamingTheField) {
  const std::string bad = std::string(kSecret) + "\xC3";
  ExpectRejected([&] { Event e(bad, "E", "t"); }, "_user_id");
  ExpectRejected([&] { Event e("U", bad, "t"); }, "_event_id");
  ExpectRejected([&] { Event e("U", "E", bad); }, "_event_type");
}

TEST(EventTest, NonFiniteParameterIsRejectedNamingTheParameter) {
  Event e("U", "E", "purchase");
  ExpectRejected([&] { e.parameter("amount", kNaN); }, "amount");
  ExpectRejected(
      [&] {
        e.parameter("amounts", {1.0, std::numeric_limits<double>::infinity()});
      },
      "amounts");
  ExpectRejected([&] { e.parameter("item", Value::object({{"price", kNaN}})); }, "item");
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase"})");
}

TEST(EventTest, InvalidUtf8ParameterIsRejectedNamingTheParameter) {
  Event e("U", "E", "purchase");
  ExpectRejected([&] { e.parameter("coupon", std::string(kSecret) + "\xC0\x80"); }, "coupon");
  ExpectRejected(
      [&] {
        e.parameter("item", Value::object({{"sku", std::string(kSecret) + "\xFF"}}));
      },
      "item");
  ExpectRejected([&] { e.parameter("c\xC3", kSecret); }, "");
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase"})");
}

TEST(EventTest, EventIsUnchangedAndUsableAfterARejectedSet) {
  Event e("U", "E", "purchase");
  e.parameter("amount", 5);
  const std::string before = e.to_json();
  EXPECT_THROW(e.parameter("amount", kNaN), InvalidInputError);
  EXPECT_THROW(e.user_data(Contact("OTHER")), InvalidInputError);
  EXPECT_EQ(e.to_json(), before);
  e.parameter("currency", "EUR");
  ExpectJson(e, R"({"_user_id":"U","_event_id":"E","_event_type":"purchase",)"
                R"("_event_parameters":{"amount":5,"currency":"EUR"}})");
}

// ---- automation window -----------------------------------------------------------------------

TEST(EventTest, NoDateIsAlwaysWithinTheAutomationWindow) {
  Event e("U", "E", "t");
  EXPECT_TRUE(e.within_automation_window(kNow));
  EXPECT_TRUE(e.within_automation_window(FromUnixMs(0)));
  EXPECT_TRUE(e.within_automation_window());
}

TEST(EventTest, DateWithin59MinutesIsWithinTheWindow) {
  EXPECT_TRUE(Event("U", "E", "t").date(kNow + minutes(59)).within_automation_window(kNow));
  EXPECT_TRUE(Event("U", "E", "t").date(kNow - minutes(59)).within_automation_window(kNow));
  EXPECT_TRUE(Event("U", "E", "t").date(kNow).within_automation_window(kNow));
}

TEST(EventTest, DateBeyond61MinutesIsOutsideTheWindow) {
  EXPECT_FALSE(Event("U", "E", "t").date(kNow + minutes(61)).within_automation_window(kNow));
  EXPECT_FALSE(Event("U", "E", "t").date(kNow - minutes(61)).within_automation_window(kNow));
  EXPECT_FALSE(Event("U", "E", "t").date(kNow - hours(48)).within_automation_window(kNow));
}

TEST(EventTest, WindowBoundaryIsInclusive) {
  EXPECT_TRUE(Event("U", "E", "t").date(kNow + hours(1)).within_automation_window(kNow));
  EXPECT_TRUE(Event("U", "E", "t").date(kNow - hours(1)).within_automation_window(kNow));
  EXPECT_FALSE(
      Event("U", "E", "t").date(kNow + hours(1) + milliseconds(1)).within_automation_window(kNow));
  EXPECT_FALSE(
      Event("U", "E", "t").date(kNow - hours(1) - milliseconds(1)).within_automation_window(kNow));
}

TEST(EventTest, MemberWindowDefaultsToTheSystemClock) {
  EXPECT_TRUE(Event("U", "E", "t").date(system_clock::now()).within_automation_window());
  EXPECT_FALSE(
      Event("U", "E", "t").date(system_clock::now() - hours(3)).within_automation_window());
  EXPECT_FALSE(
      Event("U", "E", "t").date(system_clock::now() + hours(3)).within_automation_window());
}

TEST(EventTest, FreeWithinAutomationWindow) {
  EXPECT_EQ(kAutomationWindow, hours(1));
  EXPECT_TRUE(instasent::within_automation_window(kNow, kNow));
  EXPECT_TRUE(instasent::within_automation_window(kNow + minutes(59), kNow));
  EXPECT_TRUE(instasent::within_automation_window(kNow - minutes(59), kNow));
  EXPECT_FALSE(instasent::within_automation_window(kNow + minutes(61), kNow));
  EXPECT_FALSE(instasent::within_automation_window(kNow - minutes(61), kNow));
  EXPECT_TRUE(instasent::within_automation_window(kNow + hours(1), kNow));
  EXPECT_TRUE(instasent::within_automation_window(kNow - hours(1), kNow));
  EXPECT_FALSE(instasent::within_automation_window(kNow + hours(1) + milliseconds(1), kNow));
  EXPECT_FALSE(instasent::within_automation_window(kNow - hours(1) - milliseconds(1), kNow));
}

}  // namespace
}  // namespace instasent::testing
