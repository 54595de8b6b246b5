// SPDX-License-Identifier: Apache-2.0
// The emulator's rules for batches, contacts, events, dates and the automation window.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ratio>
#include <string>
#include <vector>

#include "validation.hpp"

namespace instasent::emulator {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

const std::set<std::string> kReserved = {
    "_first_name",           "_last_name",    "_email",
    "_phone_mobile",         "_country_code", "_email_verified",
    "_phone_mobile_verified"};

// The instant `seconds` (plus `nanos`) after 1970-01-01T00:00:00Z.
Clock::time_point at(std::int64_t seconds, std::int64_t nanos = 0) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

FieldErrors error(const std::string& field, const std::string& message) {
  return {{field, {message}}};
}

json items(std::size_t count) {
  json body = json::array();
  for (std::size_t i = 0; i < count; ++i) body.push_back({{"_user_id", "U" + std::to_string(i)}});
  return body;
}

// ---------------------------------------------------------------------------------------------
// check_batch

TEST(CheckBatch, AcceptsOneToAHundredObjects) {
  EXPECT_EQ(check_batch(items(1)), std::nullopt);
  EXPECT_EQ(check_batch(items(2)), std::nullopt);
  EXPECT_EQ(check_batch(items(100)), std::nullopt);
  EXPECT_EQ(check_batch(json::array({json::object()})), std::nullopt);
}

TEST(CheckBatch, RefusesWhatIsNotAnArray) {
  const std::optional<std::string> expected = "Body should be an array";
  EXPECT_EQ(check_batch(json::object()), expected);
  EXPECT_EQ(check_batch(json{{"_user_id", "U1"}}), expected);
  EXPECT_EQ(check_batch(json()), expected);
  EXPECT_EQ(check_batch(json("[]")), expected);
  EXPECT_EQ(check_batch(json(42)), expected);
  EXPECT_EQ(check_batch(json(true)), expected);
}

TEST(CheckBatch, RefusesAnEmptyArray) {
  EXPECT_EQ(check_batch(json::array()), "Body should contain at least one item");
}

TEST(CheckBatch, RefusesMoreThanAHundredItems) {
  EXPECT_EQ(check_batch(items(101)), "Body should contain at most 100 items");
  EXPECT_EQ(check_batch(items(1000)), "Body should contain at most 100 items");
  EXPECT_EQ(kMaxBatchItems, 100U);
}

TEST(CheckBatch, NamesTheFirstItemThatIsNotAnObject) {
  EXPECT_EQ(check_batch(json::array({1})), "Item 0 should be an object");
  EXPECT_EQ(check_batch(json::array({json::object(), json::object(), "x"})),
            "Item 2 should be an object");
  EXPECT_EQ(check_batch(json::array({json::object(), json::array(), nullptr})),
            "Item 1 should be an object");
  EXPECT_EQ(check_batch(json::array({json::object(), nullptr})), "Item 1 should be an object");
  EXPECT_EQ(check_batch(json::array({json::array({json::object()})})),
            "Item 0 should be an object");
  json body = items(100);
  body[99] = false;
  EXPECT_EQ(check_batch(body), "Item 99 should be an object");
}

TEST(CheckBatch, SizeIsCheckedBeforeItems) {
  json body = items(101);
  body[0] = 1;
  EXPECT_EQ(check_batch(body), "Body should contain at most 100 items");
}

// ---------------------------------------------------------------------------------------------
// reserved_attribute_names

TEST(ReservedAttributeNames, TakesUnderscoredUids) {
  const json specs = json::parse(R"([
    {"uid": "_user_id", "dataType": "string", "custom": false},
    {"uid": "_email", "dataType": "string", "custom": false},
    {"uid": "_phone_mobile", "dataType": "string", "custom": false},
    {"uid": "loyalty_tier", "dataType": "string", "custom": true},
    {"uid": "_email", "dataType": "string", "custom": false}
  ])");
  EXPECT_EQ(reserved_attribute_names(specs),
            (std::set<std::string>{"_email", "_phone_mobile", "_user_id"}));
}

TEST(ReservedAttributeNames, ToleratesMissingAndInvalidEntries) {
  const json specs = json::parse(R"([
    {"uid": "_first_name"}, {}, {"uid": null}, {"uid": 7}, {"uid": ["_x"]}, {"uid": ""},
    null, "_string_entry", 3, [], {"displayLabel": "_no_uid"}, {"uid": "_last_name"}
  ])");
  EXPECT_EQ(reserved_attribute_names(specs), (std::set<std::string>{"_first_name", "_last_name"}));
}

TEST(ReservedAttributeNames, EmptyForAnythingButSpecs) {
  EXPECT_TRUE(reserved_attribute_names(json()).empty());
  EXPECT_TRUE(reserved_attribute_names(json::array()).empty());
  EXPECT_TRUE(reserved_attribute_names(json("_email")).empty());
  EXPECT_TRUE(reserved_attribute_names(json(1)).empty());
  EXPECT_TRUE(reserved_attribute_names(json::object()).empty());
  EXPECT_TRUE(reserved_attribute_names(json{{"specs", "nope"}}).empty());
}

TEST(ReservedAttributeNames, AcceptsTheWholeEndpointAnswer) {
  const json answer = json::parse(R"({"specs": [{"uid": "_email"}, {"uid": "custom"}]})");
  EXPECT_EQ(reserved_attribute_names(answer), (std::set<std::string>{"_email"}));
}

// ---------------------------------------------------------------------------------------------
// validate_contact

TEST(ValidateContact, MinimalContactIsValid) {
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}}, kReserved), FieldErrors{});
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}}, {}), FieldErrors{});
}

TEST(ValidateContact, FullContactIsValid) {
  const json contact = json::parse(R"({
    "_user_id": "USER-1",
    "_first_name": "Ada",
    "_last_name": "Lovelace",
    "_email": "ada@example.com",
    "_phone_mobile": "+34600000000",
    "_country_code": "ES",
    "_email_verified": "1",
    "_phone_mobile_verified": true,
    "loyalty_points": 120,
    "ratio": 0.5,
    "vip": false,
    "tags": ["a", "b", 3, true, null],
    "nothing": [],
    "birthday": "1815-12-10",
    "": "empty key is a custom attribute"
  })");
  EXPECT_EQ(validate_contact(contact, kReserved), FieldErrors{});
}

TEST(ValidateContact, NullClearsAndIsValid) {
  const json contact = json::parse(R"({
    "_user_id": "U1", "_first_name": null, "_email": null, "_phone_mobile": null,
    "_country_code": null, "custom": null
  })");
  EXPECT_EQ(validate_contact(contact, kReserved), FieldErrors{});
}

TEST(ValidateContact, ReservedScalarsOfAnyTypeAreValid) {
  for (const json& value : {json("x"), json(""), json(1), json(-2.5), json(true), json()}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_first_name", value}}, kReserved),
              FieldErrors{})
        << value.dump();
  }
  EXPECT_EQ(
      validate_contact(json{{"_user_id", "U1"}, {"_last_name", json::array({"a", 1})}}, kReserved),
      FieldErrors{});
}

TEST(ValidateContact, UserIdRequired) {
  EXPECT_EQ(validate_contact(json::object(), kReserved), error("_user_id", "Required"));
  EXPECT_EQ(validate_contact(json{{"_first_name", "Ada"}}, kReserved),
            error("_user_id", "Required"));
  EXPECT_EQ(validate_contact(json{{"user_id", "U1"}}, kReserved), error("_user_id", "Required"));
}

TEST(ValidateContact, UserIdMustBeAString) {
  for (const json& value : {json(), json(1), json(1.5), json(false), json::array({"U1"}),
                            json::object({{"id", "U1"}}), json::array()}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", value}}, kReserved),
              error("_user_id", "Must be a string"))
        << value.dump();
  }
}

TEST(ValidateContact, UserIdMustNotBeEmpty) {
  EXPECT_EQ(validate_contact(json{{"_user_id", ""}}, kReserved),
            error("_user_id", "Must not be empty"));
  EXPECT_EQ(validate_contact(json{{"_user_id", " "}}, kReserved), FieldErrors{});
}

TEST(ValidateContact, ContactThatIsNotAnObjectLacksAUserId) {
  EXPECT_EQ(validate_contact(json("U1"), kReserved), error("_user_id", "Required"));
  EXPECT_EQ(validate_contact(json(), kReserved), error("_user_id", "Required"));
}

TEST(ValidateContact, ValidEmails) {
  for (const char* email :
       {"ada@example.com", "a@b.c", "first.last+tag@mail.example.co.uk", "UPPER@EXAMPLE.COM",
        "x_y-z@sub-domain.example.org", "1234@example.io", "ünïcode@exämple.es"}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_email", email}}, kReserved),
              FieldErrors{})
        << email;
  }
}

TEST(ValidateContact, InvalidEmails) {
  for (const char* email : {"",
                            "ada",
                            "ada.example.com",
                            "@example.com",
                            "ada@",
                            "ada@example",
                            "ada@@example.com",
                            "ada@exa@mple.com",
                            "ada @example.com",
                            "ada@example .com",
                            " ada@example.com",
                            "ada@example.com ",
                            "ada@exam\tple.com",
                            ".ada@example.com",
                            "ada.@example.com",
                            "ada@.example.com",
                            "ada@example.com.",
                            "ada@example..com",
                            "ada@.",
                            "@",
                            "a@b.c\n"}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_email", email}}, kReserved),
              error("_email", "Invalid format"))
        << '"' << email << '"';
  }
}

TEST(ValidateContact, EmailThatIsNotAStringHasAnInvalidFormat) {
  for (const json& value : {json(42), json(true), json::array({"ada@example.com"})}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_email", value}}, kReserved),
              error("_email", "Invalid format"))
        << value.dump();
  }
}

TEST(ValidateContact, ValidPhones) {
  for (const char* phone : {"+34600000000", "+12345678", "+123456789012345", "+00000000"}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_phone_mobile", phone}}, kReserved),
              FieldErrors{})
        << phone;
  }
}

TEST(ValidateContact, InvalidPhones) {
  for (const char* phone :
       {"", "+", "+1234567", "+1234567890123456", "34600000000", "0034600000000", "++34600000000",
        "+34 600 000 000", "+34-600-000-000", "+3460000000a", "+34600000000 ", " +34600000000",
        "+(34)600000000", "+34600000000+", "+٣٤٦٠٠٠٠٠٠٠٠"}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_phone_mobile", phone}}, kReserved),
              error("_phone_mobile", "Invalid format"))
        << '"' << phone << '"';
  }
  for (const json& value : {json(34600000000), json(false), json::array({"+34600000000"})}) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_phone_mobile", value}}, kReserved),
              error("_phone_mobile", "Invalid format"))
        << value.dump();
  }
}

TEST(ValidateContact, UnknownReservedAttribute) {
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_nickname", "Ada"}}, kReserved),
            error("_nickname", "Unknown reserved attribute"));
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_", 1}}, kReserved),
            error("_", "Unknown reserved attribute"));
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_Email", "ada@example.com"}}, kReserved),
            error("_Email", "Unknown reserved attribute"));
  // Even null, and whatever the value: the key itself is wrong.
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_nickname", nullptr}}, kReserved),
            error("_nickname", "Unknown reserved attribute"));
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_nickname", json::object()}}, kReserved),
            error("_nickname", "Unknown reserved attribute"));
}

TEST(ValidateContact, ReservedNamesComeFromTheGivenSet) {
  const json contact = {{"_user_id", "U1"}, {"_email", "ada@example.com"}};
  EXPECT_EQ(validate_contact(contact, {}), error("_email", "Unknown reserved attribute"));
  EXPECT_EQ(validate_contact(contact, {"_email"}), FieldErrors{});
  EXPECT_EQ(validate_contact({{"_user_id", "U1"}, {"_shoe_size", 42}}, {"_shoe_size"}),
            FieldErrors{});
  // _user_id is always known.
  EXPECT_EQ(validate_contact({{"_user_id", "U1"}}, {}), FieldErrors{});
}

TEST(ValidateContact, CustomAttributesAreNotReserved) {
  EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"nickname_", "x"}, {"a_b", 1}}, {}),
            FieldErrors{});
}

TEST(ValidateContact, InvalidValueTypes) {
  const json bad_values =
      json::array({json::object(), json{{"a", 1}}, json::array({json::object()}),
                   json::array({1, json::array()}), json::array({json::array({1})})});
  for (const json& value : bad_values) {
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"custom", value}}, kReserved),
              error("custom", "Invalid value type"))
        << value.dump();
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_first_name", value}}, kReserved),
              error("_first_name", "Invalid value type"))
        << value.dump();
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_email", value}}, kReserved),
              error("_email", "Invalid value type"))
        << value.dump();
    EXPECT_EQ(validate_contact(json{{"_user_id", "U1"}, {"_phone_mobile", value}}, kReserved),
              error("_phone_mobile", "Invalid value type"))
        << value.dump();
  }
}

TEST(ValidateContact, ReportsEveryError) {
  const json contact = json::parse(R"({
    "_user_id": "",
    "_email": "not-an-address",
    "_phone_mobile": "600000000",
    "_nickname": "Ada",
    "address": {"city": "Madrid"},
    "tags": [["nested"]],
    "_first_name": "Ada",
    "fine": [1, "two"]
  })");
  const FieldErrors expected = {
      {"_user_id", {"Must not be empty"}},   {"_email", {"Invalid format"}},
      {"_phone_mobile", {"Invalid format"}}, {"_nickname", {"Unknown reserved attribute"}},
      {"address", {"Invalid value type"}},   {"tags", {"Invalid value type"}},
  };
  EXPECT_EQ(validate_contact(contact, kReserved), expected);
}

TEST(ValidateContact, MissingUserIdAndOtherErrors) {
  const FieldErrors expected = {{"_user_id", {"Required"}}, {"_email", {"Invalid format"}}};
  EXPECT_EQ(validate_contact(json{{"_email", "x"}}, kReserved), expected);
}

// ---------------------------------------------------------------------------------------------
// validate_event

json minimal_event() {
  return {{"_user_id", "U1"}, {"_event_id", "E1"}, {"_event_type", "ecommerce_order_create"}};
}

TEST(ValidateEvent, MinimalEventIsValid) {
  EXPECT_EQ(validate_event(minimal_event(), kReserved), FieldErrors{});
}

TEST(ValidateEvent, FullEventIsValid) {
  const json event = json::parse(R"({
    "_user_id": "USER-1",
    "_event_id": "order-1001",
    "_event_type": "ecommerce_order_create",
    "_event_date": "2026-11-28T10:00:00.000Z",
    "_event_parameters": {"amount": 12.5, "currency": "EUR", "items": [{"sku": "A"}]},
    "_user_data": {"_user_id": "USER-1", "_email": "ada@example.com", "tier": "gold"}
  })");
  EXPECT_EQ(validate_event(event, kReserved), FieldErrors{});
}

TEST(ValidateEvent, RequiredStringFields) {
  for (const char* field : {"_user_id", "_event_id", "_event_type"}) {
    json missing = minimal_event();
    missing.erase(field);
    EXPECT_EQ(validate_event(missing, kReserved), error(field, "Required")) << field;

    for (const json& value : {json(), json(1), json(true), json::array(), json::object()}) {
      json wrong = minimal_event();
      wrong[field] = value;
      EXPECT_EQ(validate_event(wrong, kReserved), error(field, "Must be a string"))
          << field << ' ' << value.dump();
    }

    json empty = minimal_event();
    empty[field] = "";
    EXPECT_EQ(validate_event(empty, kReserved), error(field, "Must not be empty")) << field;
  }
}

TEST(ValidateEvent, EverythingMissing) {
  const FieldErrors expected = {
      {"_user_id", {"Required"}}, {"_event_id", {"Required"}}, {"_event_type", {"Required"}}};
  EXPECT_EQ(validate_event(json::object(), kReserved), expected);
  EXPECT_EQ(validate_event(json::array(), kReserved), expected);
  EXPECT_EQ(validate_event(json(), kReserved), expected);
}

TEST(ValidateEvent, ValidDates) {
  for (const json& date : {json("2026-11-28T10:00:00.000Z"), json("2026-11-28T10:00:00Z"),
                           json("2026-11-28T11:00:00+01:00"), json("2026-11-28t10:00:00z"),
                           json("1999-12-31T23:59:59.999999999-0800"), json()}) {
    json event = minimal_event();
    event["_event_date"] = date;
    EXPECT_EQ(validate_event(event, kReserved), FieldErrors{}) << date.dump();
  }
}

TEST(ValidateEvent, InvalidDates) {
  for (const json& date :
       {json(""), json("yesterday"), json("2026-11-28"), json("2026-11-28T10:00:00"),
        json("2026-02-30T10:00:00Z"), json("2026-11-28T24:00:00Z"), json(1795860000), json(true),
        json::array({"2026-11-28T10:00:00Z"}), json::object()}) {
    json event = minimal_event();
    event["_event_date"] = date;
    EXPECT_EQ(validate_event(event, kReserved), error("_event_date", "Invalid date"))
        << date.dump();
  }
}

TEST(ValidateEvent, ParametersMustBeAnObject) {
  for (const json& parameters : {json::object(), json{{"a", 1}}, json()}) {
    json event = minimal_event();
    event["_event_parameters"] = parameters;
    EXPECT_EQ(validate_event(event, kReserved), FieldErrors{}) << parameters.dump();
  }
  for (const json& parameters :
       {json::array(), json::array({json{{"a", 1}}}), json("{}"), json(1), json(false)}) {
    json event = minimal_event();
    event["_event_parameters"] = parameters;
    EXPECT_EQ(validate_event(event, kReserved), error("_event_parameters", "Must be an object"))
        << parameters.dump();
  }
}

TEST(ValidateEvent, UserDataMustBeAnObject) {
  for (const json& user_data :
       {json::array(), json("U1"), json(1), json(true), json::array({json{{"_user_id", "U1"}}})}) {
    json event = minimal_event();
    event["_user_data"] = user_data;
    EXPECT_EQ(validate_event(event, kReserved), error("_user_data", "Must be an object"))
        << user_data.dump();
  }
  json event = minimal_event();
  event["_user_data"] = nullptr;
  EXPECT_EQ(validate_event(event, kReserved), FieldErrors{});
}

TEST(ValidateEvent, UserDataTakesTheEventsUserId) {
  json event = minimal_event();
  event["_user_data"] = json::object();
  EXPECT_EQ(validate_event(event, kReserved), FieldErrors{});
  event["_user_data"] = {{"_first_name", "Ada"}, {"_email", "ada@example.com"}};
  EXPECT_EQ(validate_event(event, kReserved), FieldErrors{});
  event["_user_data"]["_user_id"] = "U1";
  EXPECT_EQ(validate_event(event, kReserved), FieldErrors{});
}

TEST(ValidateEvent, UserDataUserIdMustMatch) {
  json event = minimal_event();
  event["_user_data"] = {{"_user_id", "U2"}};
  EXPECT_EQ(validate_event(event, kReserved),
            error("_user_data._user_id", "Must match the event's _user_id"));
  event["_user_data"] = {{"_user_id", "u1"}};
  EXPECT_EQ(validate_event(event, kReserved),
            error("_user_data._user_id", "Must match the event's _user_id"));
}

TEST(ValidateEvent, UserDataUserIdMustBeANonEmptyString) {
  json event = minimal_event();
  event["_user_data"] = {{"_user_id", 1}};
  EXPECT_EQ(validate_event(event, kReserved), error("_user_data._user_id", "Must be a string"));
  event["_user_data"] = {{"_user_id", nullptr}};
  EXPECT_EQ(validate_event(event, kReserved), error("_user_data._user_id", "Must be a string"));
  event["_user_data"] = {{"_user_id", ""}};
  EXPECT_EQ(validate_event(event, kReserved), error("_user_data._user_id", "Must not be empty"));
}

TEST(ValidateEvent, UserDataErrorsArePrefixed) {
  json event = minimal_event();
  event["_user_data"] = json::parse(R"({
    "_email": "nope", "_phone_mobile": "+1", "_nickname": "x", "address": {"city": "Madrid"},
    "_first_name": "Ada"
  })");
  const FieldErrors expected = {
      {"_user_data._email", {"Invalid format"}},
      {"_user_data._phone_mobile", {"Invalid format"}},
      {"_user_data._nickname", {"Unknown reserved attribute"}},
      {"_user_data.address", {"Invalid value type"}},
  };
  EXPECT_EQ(validate_event(event, kReserved), expected);
}

TEST(ValidateEvent, InvalidEventUserIdIsReportedOnce) {
  json event = minimal_event();
  event.erase("_user_id");
  event["_user_data"] = {{"_email", "ada@example.com"}};
  EXPECT_EQ(validate_event(event, kReserved), error("_user_id", "Required"));
  // With an invalid event _user_id there is nothing to match against.
  event["_user_data"] = {{"_user_id", "U2"}};
  EXPECT_EQ(validate_event(event, kReserved), error("_user_id", "Required"));
  event["_user_id"] = "";
  EXPECT_EQ(validate_event(event, kReserved), error("_user_id", "Must not be empty"));
}

TEST(ValidateEvent, UnknownTopLevelFields) {
  for (const char* field : {"_email", "name", "_event_params", "event_id", "_user_id ", ""}) {
    json event = minimal_event();
    event[field] = "x";
    EXPECT_EQ(validate_event(event, kReserved), error(field, "Unknown field")) << field;
  }
  json event = minimal_event();
  event["extra"] = nullptr;
  EXPECT_EQ(validate_event(event, kReserved), error("extra", "Unknown field"));
}

TEST(ValidateEvent, ReportsEveryError) {
  const json event = json::parse(R"({
    "_event_id": 7,
    "_event_type": "",
    "_event_date": "2026-11-28T10:00:00",
    "_event_parameters": [1, 2],
    "_user_data": {"_user_id": "OTHER", "_email": "x@y", "profile": {"a": 1}},
    "_user_id": "U1",
    "source": "web"
  })");
  const FieldErrors expected = {
      {"_event_id", {"Must be a string"}},
      {"_event_type", {"Must not be empty"}},
      {"_event_date", {"Invalid date"}},
      {"_event_parameters", {"Must be an object"}},
      {"_user_data._user_id", {"Must match the event's _user_id"}},
      {"_user_data._email", {"Invalid format"}},
      {"_user_data.profile", {"Invalid value type"}},
      {"source", {"Unknown field"}},
  };
  EXPECT_EQ(validate_event(event, kReserved), expected);
}

// ---------------------------------------------------------------------------------------------
// parse_iso8601

TEST(ParseIso8601, ContractExample) {
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.000Z"), at(1795860000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00Z"), at(1795860000));
}

TEST(ParseIso8601, KnownInstants) {
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z"), at(0));
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:01Z"), at(1));
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59Z"), at(-1));
  EXPECT_EQ(parse_iso8601("2000-01-01T00:00:00Z"), at(946684800));
  EXPECT_EQ(parse_iso8601("2024-02-29T12:00:00Z"), at(1709208000));
  EXPECT_EQ(parse_iso8601("1900-03-01T00:00:00Z"), at(-2203891200));
  EXPECT_EQ(parse_iso8601("2100-02-28T00:00:00Z"), at(4107456000));
  EXPECT_EQ(parse_iso8601("1700-01-01T00:00:00Z"), at(-8520336000));
  EXPECT_EQ(parse_iso8601("2261-12-31T23:59:59Z"), at(9214646399));
}

TEST(ParseIso8601, LowerCaseSeparatorAndZone) {
  EXPECT_EQ(parse_iso8601("2026-11-28t10:00:00z"), at(1795860000));
  EXPECT_EQ(parse_iso8601("2026-11-28t10:00:00Z"), at(1795860000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.5z"), at(1795860000, 500000000));
}

TEST(ParseIso8601, Fractions) {
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.5Z"), at(1795860000, 500000000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.0Z"), at(1795860000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.12Z"), at(1795860000, 120000000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.123Z"), at(1795860000, 123000000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.999Z"), at(1795860000, 999000000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.123456Z"), at(1795860000, 123456000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.123456789Z"), at(1795860000, 123456789));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.000000001Z"), at(1795860000, 1));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.999999999Z"), at(1795860000, 999999999));
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59.5Z"), at(-1, 500000000));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.250+01:00"), at(1795860000 - 3600, 250000000));
}

TEST(ParseIso8601, AtLeastMillisecondPrecision) {
  const auto a = parse_iso8601("2026-11-28T10:00:00.001Z");
  const auto b = parse_iso8601("2026-11-28T10:00:00.002Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*b - *a).count(), 1);
}

TEST(ParseIso8601, BadFractions) {
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.1234567890Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00,5Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00..5Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.5.5Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.-5Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.5"), std::nullopt);
}

TEST(ParseIso8601, Offsets) {
  const std::int64_t utc = 1795860000;  // 2026-11-28T10:00:00Z
  EXPECT_EQ(parse_iso8601("2026-11-28T12:00:00+02:00"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T12:00:00+0200"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T04:30:00-05:30"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T04:30:00-0530"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00+00:00"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00-00:00"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00+0000"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T15:45:00+05:45"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-29T09:59:00+23:59"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-27T10:01:00-23:59"), at(utc));
  EXPECT_EQ(parse_iso8601("2026-11-28T12:00:00.123+02:00"), at(utc, 123000000));
}

TEST(ParseIso8601, OffsetsCrossDays) {
  // 2024-03-01T00:30+01:00 is still February 29th in UTC.
  EXPECT_EQ(parse_iso8601("2024-03-01T00:30:00+01:00"), parse_iso8601("2024-02-29T23:30:00Z"));
  EXPECT_EQ(parse_iso8601("2023-12-31T23:00:00-01:00"), parse_iso8601("2024-01-01T00:00:00Z"));
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00+01:00"), at(-3600));
}

TEST(ParseIso8601, BadOffsets) {
  for (const char* text :
       {"2026-11-28T10:00:00+02", "2026-11-28T10:00:00+2:00", "2026-11-28T10:00:00+02:0",
        "2026-11-28T10:00:00+020", "2026-11-28T10:00:00+02:00:00", "2026-11-28T10:00:00+24:00",
        "2026-11-28T10:00:00+02:60", "2026-11-28T10:00:00+02:00Z", "2026-11-28T10:00:00Z+02:00",
        "2026-11-28T10:00:00+", "2026-11-28T10:00:00-", "2026-11-28T10:00:00 +02:00",
        "2026-11-28T10:00:00+02-00", "2026-11-28T10:00:00+ab:cd", "2026-11-28T10:00:00UTC",
        "2026-11-28T10:00:00GMT", "2026-11-28T10:00:00+02::00",
        "2026-11-28T10:00:00\u221202:00" /* U+2212 MINUS SIGN */}) {
    EXPECT_EQ(parse_iso8601(text), std::nullopt) << text;
  }
}

TEST(ParseIso8601, TimeZoneIsRequired) {
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.000"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:00.123456789"), std::nullopt);
}

TEST(ParseIso8601, LeapYears) {
  EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00Z"));
  EXPECT_EQ(parse_iso8601("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_TRUE(parse_iso8601("2023-02-28T23:59:59Z"));
  EXPECT_TRUE(parse_iso8601("2000-02-29T00:00:00Z"));
  EXPECT_EQ(parse_iso8601("1900-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_TRUE(parse_iso8601("2096-02-29T00:00:00Z"));
  EXPECT_EQ(parse_iso8601("2024-02-30T00:00:00Z"), std::nullopt);
  // The day after February 29th is March 1st.
  const auto feb29 = parse_iso8601("2024-02-29T00:00:00Z");
  const auto mar1 = parse_iso8601("2024-03-01T00:00:00Z");
  ASSERT_TRUE(feb29 && mar1);
  EXPECT_EQ(*mar1 - *feb29, std::chrono::hours(24));
  const auto feb28 = parse_iso8601("2023-02-28T00:00:00Z");
  const auto mar1_2023 = parse_iso8601("2023-03-01T00:00:00Z");
  ASSERT_TRUE(feb28 && mar1_2023);
  EXPECT_EQ(*mar1_2023 - *feb28, std::chrono::hours(24));
}

TEST(ParseIso8601, DayOfMonthRanges) {
  for (const char* text : {"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z",
                           "2026-06-30T00:00:00Z", "2026-09-30T00:00:00Z", "2026-11-30T00:00:00Z",
                           "2026-12-31T00:00:00Z", "2026-01-01T00:00:00Z"}) {
    EXPECT_TRUE(parse_iso8601(text)) << text;
  }
  for (const char* text : {"2026-01-32T00:00:00Z", "2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z",
                           "2026-09-31T00:00:00Z", "2026-11-31T00:00:00Z", "2026-12-32T00:00:00Z",
                           "2026-01-00T00:00:00Z", "2026-00-10T00:00:00Z", "2026-13-01T00:00:00Z",
                           "2026-99-01T00:00:00Z"}) {
    EXPECT_EQ(parse_iso8601(text), std::nullopt) << text;
  }
}

TEST(ParseIso8601, TimeOfDayRanges) {
  EXPECT_EQ(parse_iso8601("2026-11-28T23:59:59Z"), at(1795860000 + 14 * 3600 - 1));
  EXPECT_EQ(parse_iso8601("2026-11-28T00:00:00Z"), at(1795860000 - 10 * 3600));
  EXPECT_EQ(parse_iso8601("2026-11-28T24:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T24:00:00+01:00"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T25:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:60:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:61Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601("2026-11-28T10:00:99Z"), std::nullopt);
}

TEST(ParseIso8601, LeapSecondRollsIntoTheNextMinute) {
  EXPECT_EQ(parse_iso8601("2016-12-31T23:59:60Z"), at(1483228799 + 1));
  EXPECT_EQ(parse_iso8601("2016-12-31T23:59:60.5Z"), at(1483228800, 500000000));
}

TEST(ParseIso8601, Garbage) {
  for (const char* text : {"",
                           " ",
                           "garbage",
                           "Z",
                           "T",
                           "2026",
                           "2026-11-28",
                           "2026-11-28T",
                           "2026-11-28T10",
                           "2026-11-28T10:00",
                           "2026-11-28T10:00Z",
                           "2026-11-28T10:00+01:00",
                           "2026-11-28 10:00:00Z",
                           "2026-11-28_10:00:00Z",
                           "26-11-28T10:00:00Z",
                           "02026-11-28T10:00:00Z",
                           "+2026-11-28T10:00:00Z",
                           "-2026-11-28T10:00:00Z",
                           "2026/11/28T10:00:00Z",
                           "2026-1-28T10:00:00Z",
                           "2026-11-8T10:00:00Z",
                           "2026-11-28T1:00:00Z",
                           "2026-11-28T10:0:00Z",
                           "2026-11-28T10:00:0Z",
                           "2026-11-28T10.00.00Z",
                           "20261128T100000Z",
                           "2026-W48-6T10:00:00Z",
                           "2026-332T10:00:00Z",
                           "2026-11-28T-1:00:00Z",
                           "2026-11-28T+1:00:00Z",
                           "2O26-11-28T10:00:00Z",
                           "Sat, 28 Nov 2026 10:00:00 GMT",
                           "1795860000",
                           "null",
                           "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-11-28T10:00:00Z"}) {
    EXPECT_EQ(parse_iso8601(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseIso8601, TrailingAndLeadingJunk) {
  for (const char* text :
       {"2026-11-28T10:00:00Zjunk", "2026-11-28T10:00:00Z ", " 2026-11-28T10:00:00Z",
        "2026-11-28T10:00:00ZZ", "2026-11-28T10:00:00Z\n", "2026-11-28T10:00:00+02:00 ",
        "2026-11-28T10:00:00+02:00x", "2026-11-28T10:00:00.123Zx", "x2026-11-28T10:00:00Z",
        "2026-11-28T10:00:00Z[Europe/Madrid]"}) {
    EXPECT_EQ(parse_iso8601(text), std::nullopt) << '"' << text << '"';
  }
  EXPECT_EQ(parse_iso8601(std::string("2026-11-28T10:00:00Z\0", 21)), std::nullopt);
  EXPECT_EQ(parse_iso8601(std::string("2026-11-28\0T10:00:00Z", 21)), std::nullopt);
}

// Every day from 1700 to 2200, written out and parsed, is exactly one day after the one before,
// with 1970-01-01 at zero and 2000-01-01 at 10957 days.
TEST(ParseIso8601, EveryDayIsOneDayAfterThePrevious) {
  constexpr int kMonthDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  std::int64_t days = -98615;  // 1700-01-01
  for (int year = 1700; year <= 2200; ++year) {
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    for (int month = 1; month <= 12; ++month) {
      const int length = kMonthDays[month - 1] + (month == 2 && leap ? 1 : 0);
      for (int day = 1; day <= length; ++day) {
        char text[64];
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT00:00:00Z", year, month, day);
        const auto parsed = parse_iso8601(text);
        ASSERT_EQ(parsed, at(days * 86400)) << text;
        if (year == 1970 && month == 1 && day == 1) {
          EXPECT_EQ(days, 0);
        }
        if (year == 2000 && month == 1 && day == 1) {
          EXPECT_EQ(days, 10957);
        }
        ++days;
      }
    }
  }
}

TEST(ParseIso8601, InstantsTheClockCannotHoldAreRefused) {
  // With nanosecond ticks, system_clock spans about 1677-09-21 to 2262-04-11.
  const bool nanosecond_clock = std::ratio_equal<Clock::period, std::nano>::value;
  for (const char* text : {"0000-01-01T00:00:00Z", "1000-06-15T12:00:00Z", "9999-12-31T23:59:59Z",
                           "2262-04-12T00:00:00Z", "1677-09-20T00:00:00Z"}) {
    EXPECT_EQ(parse_iso8601(text).has_value(), !nanosecond_clock) << text;
  }
}

// ---------------------------------------------------------------------------------------------
// triggers_automations

TEST(TriggersAutomations, WithinAnHourEitherWay) {
  const Clock::time_point now = at(1795860000);
  const Clock::duration tick(1);
  EXPECT_TRUE(triggers_automations(now, now));
  EXPECT_TRUE(triggers_automations(now + std::chrono::minutes(59), now));
  EXPECT_TRUE(triggers_automations(now - std::chrono::minutes(59), now));
  EXPECT_TRUE(triggers_automations(now + std::chrono::hours(1), now));
  EXPECT_TRUE(triggers_automations(now - std::chrono::hours(1), now));
  EXPECT_TRUE(triggers_automations(now + std::chrono::hours(1) - tick, now));
  EXPECT_FALSE(triggers_automations(now + std::chrono::hours(1) + tick, now));
  EXPECT_FALSE(triggers_automations(now - std::chrono::hours(1) - tick, now));
  EXPECT_FALSE(
      triggers_automations(now + std::chrono::hours(1) + std::chrono::milliseconds(1), now));
  EXPECT_FALSE(
      triggers_automations(now - std::chrono::hours(1) - std::chrono::milliseconds(1), now));
  EXPECT_FALSE(triggers_automations(now + std::chrono::hours(2), now));
  EXPECT_FALSE(triggers_automations(now - std::chrono::hours(24 * 365), now));
}

TEST(TriggersAutomations, ExtremeInstantsDoNotOverflow) {
  const auto max = Clock::time_point::max();
  const auto min = Clock::time_point::min();
  EXPECT_FALSE(triggers_automations(max, min));
  EXPECT_FALSE(triggers_automations(min, max));
  EXPECT_TRUE(triggers_automations(max, max));
  EXPECT_TRUE(triggers_automations(min, min));
  EXPECT_TRUE(triggers_automations(max - std::chrono::minutes(30), max));
  EXPECT_TRUE(triggers_automations(max, max - std::chrono::minutes(30)));
  EXPECT_TRUE(triggers_automations(min + std::chrono::minutes(30), min));
  EXPECT_TRUE(triggers_automations(min, min + std::chrono::minutes(30)));
  EXPECT_TRUE(triggers_automations(max - std::chrono::hours(1), max));
  EXPECT_FALSE(triggers_automations(max - std::chrono::hours(2), max));
  EXPECT_FALSE(triggers_automations(min + std::chrono::hours(2), min));
}

TEST(TriggersAutomations, WithParsedDates) {
  const auto now = parse_iso8601("2026-11-28T11:00:00Z");
  ASSERT_TRUE(now);
  const auto exactly_an_hour_before = parse_iso8601("2026-11-28T10:00:00.000Z");
  const auto just_over_an_hour_before = parse_iso8601("2026-11-28T10:59:59.999+01:00");
  const auto exactly_an_hour_after = parse_iso8601("2026-11-28T13:00:00+01:00");
  const auto just_over_an_hour_after = parse_iso8601("2026-11-28T07:00:00.001-05:00");
  ASSERT_TRUE(exactly_an_hour_before && just_over_an_hour_before && exactly_an_hour_after &&
              just_over_an_hour_after);
  EXPECT_TRUE(triggers_automations(*exactly_an_hour_before, *now));
  EXPECT_FALSE(triggers_automations(*just_over_an_hour_before, *now));
  EXPECT_TRUE(triggers_automations(*exactly_an_hour_after, *now));
  EXPECT_FALSE(triggers_automations(*just_over_an_hour_after, *now));
}

}  // namespace
}  // namespace instasent::emulator
