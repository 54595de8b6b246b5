// SPDX-License-Identifier: Apache-2.0
// Unit tests for instasent::Contact: exact JSON, field order, and validation.

#include "instasent/contact.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "instasent/error.hpp"
#include "instasent/value.hpp"
#include "unit/builder_checks.hpp"

namespace instasent::testing {
namespace {

using nlohmann::json;

// A marker put in every rejected value: error messages must never echo it.
constexpr const char* kSecret = "SECRET-7f3a";

// Runs `action`, expects an InvalidInputError whose field() contains `field_part`, whose message
// and field do not contain kSecret, and that names no item.
void ExpectRejected(const std::function<void()>& action, const std::string& field_part) {
  testing::ExpectRejected(action, field_part, kSecret, /*item_index=*/-1);
}

// ---- serialization ---------------------------------------------------------------------------

TEST(ContactTest, OnlyUserId) {
  Contact c("U1");
  EXPECT_EQ(c.user_id(), "U1");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, UserIdIsEscaped) {
  Contact c("a\"b\\c\xC3\xA9");
  EXPECT_EQ(c.user_id(), "a\"b\\c\xC3\xA9");
  ExpectJson(c, "{\"_user_id\":\"a\\\"b\\\\c\xC3\xA9\"}");
}

TEST(ContactTest, FirstName) {
  ExpectJson(Contact("U1").first_name("Ada"), R"({"_user_id":"U1","_first_name":"Ada"})");
}

TEST(ContactTest, LastName) {
  ExpectJson(Contact("U1").last_name("Lovelace"), R"({"_user_id":"U1","_last_name":"Lovelace"})");
}

TEST(ContactTest, Email) {
  ExpectJson(Contact("U1").email("ada@example.com"),
             R"({"_user_id":"U1","_email":"ada@example.com"})");
}

TEST(ContactTest, PhoneMobile) {
  ExpectJson(Contact("U1").phone_mobile("+34600000000"),
             R"({"_user_id":"U1","_phone_mobile":"+34600000000"})");
}

TEST(ContactTest, CountryCode) {
  ExpectJson(Contact("U1").country_code("ES"), R"({"_user_id":"U1","_country_code":"ES"})");
}

TEST(ContactTest, EmailVerifiedIsSentAsOneOrZero) {
  ExpectJson(Contact("U1").email_verified(true), R"({"_user_id":"U1","_email_verified":"1"})");
  ExpectJson(Contact("U1").email_verified(false), R"({"_user_id":"U1","_email_verified":"0"})");
}

TEST(ContactTest, PhoneMobileVerifiedIsSentAsOneOrZero) {
  ExpectJson(Contact("U1").phone_mobile_verified(true),
             R"({"_user_id":"U1","_phone_mobile_verified":"1"})");
  ExpectJson(Contact("U1").phone_mobile_verified(false),
             R"({"_user_id":"U1","_phone_mobile_verified":"0"})");
}

TEST(ContactTest, TypedSettersEscapeText) {
  ExpectJson(Contact("U1").first_name("O'Brien \"Bob\"\n"),
             R"({"_user_id":"U1","_first_name":"O'Brien \"Bob\"\n"})");
  ExpectJson(Contact("U1").last_name("Mu\xC3\xB1oz"),
             "{\"_user_id\":\"U1\",\"_last_name\":\"Mu\xC3\xB1oz\"}");
}

TEST(ContactTest, GenericReserved) {
  ExpectJson(Contact("U1").reserved("_foo", "bar"), R"({"_user_id":"U1","_foo":"bar"})");
  ExpectJson(Contact("U1").reserved("_score", 7), R"({"_user_id":"U1","_score":7})");
  ExpectJson(Contact("U1").reserved("_gender", nullptr), R"({"_user_id":"U1","_gender":null})");
}

TEST(ContactTest, CustomAttributesOfEveryKind) {
  Contact c("U1");
  c.attribute("plan", "pro")
      .attribute("visits", 42)
      .attribute("big", std::numeric_limits<std::int64_t>::min())
      .attribute("ltv", 49.9)
      .attribute("ratio", 1.0)
      .attribute("vip", true)
      .attribute("churned", false)
      .attribute("tags", {"vip", "beta"})
      .attribute("scores", {1, 2.5, "x", true, nullptr})
      .attribute("none", Value::array({}))
      .attribute("gone", nullptr);
  ExpectJson(c, R"({"_user_id":"U1","plan":"pro","visits":42,"big":-9223372036854775808,)"
                R"("ltv":49.9,"ratio":1.0,"vip":true,"churned":false,"tags":["vip","beta"],)"
                R"("scores":[1,2.5,"x",true,null],"none":[],"gone":null})");
}

TEST(ContactTest, CustomAttributeKeyIsEscaped) {
  ExpectJson(Contact("U1").attribute("a\"b\\c", 1), R"({"_user_id":"U1","a\"b\\c":1})");
  ExpectJson(Contact("U1").attribute("pa\xC3\xADs", "ES"),
             "{\"_user_id\":\"U1\",\"pa\xC3\xADs\":\"ES\"}");
}

TEST(ContactTest, ClearSendsNull) {
  ExpectJson(Contact("U1").clear("plan"), R"({"_user_id":"U1","plan":null})");
  ExpectJson(Contact("U1").clear("_email"), R"({"_user_id":"U1","_email":null})");
}

TEST(ContactTest, AttributeSetToNullptrSendsNull) {
  ExpectJson(Contact("U1").attribute("plan", nullptr), R"({"_user_id":"U1","plan":null})");
  ExpectJson(Contact("U1").attribute("plan", Value()), R"({"_user_id":"U1","plan":null})");
}

TEST(ContactTest, MembersFollowFirstSetOrder) {
  Contact c("U1");
  c.email("a@example.com").attribute("plan", "pro").first_name("Ada").reserved("_x", 1);
  ExpectJson(c, R"({"_user_id":"U1","_email":"a@example.com","plan":"pro","_first_name":"Ada",)"
                R"("_x":1})");
}

TEST(ContactTest, SettingAFieldTwiceKeepsTheLastValueInTheFirstPosition) {
  Contact c("U1");
  c.first_name("A").email("e@example.com").attribute("plan", "free");
  c.first_name("B").attribute("plan", "pro");
  ExpectJson(c, R"({"_user_id":"U1","_first_name":"B","_email":"e@example.com","plan":"pro"})");
}

TEST(ContactTest, TypedSetterAndGenericReservedAreTheSameField) {
  Contact c("U1");
  c.first_name("A").attribute("plan", "free").reserved("_first_name", "B");
  ExpectJson(c, R"({"_user_id":"U1","_first_name":"B","plan":"free"})");
}

TEST(ContactTest, ClearAfterSetReplacesInPlaceAndSetAfterClearToo) {
  Contact c("U1");
  c.attribute("plan", "pro").email("e@example.com").clear("plan");
  ExpectJson(c, R"({"_user_id":"U1","plan":null,"_email":"e@example.com"})");
  c.attribute("plan", "team").email_verified(true).email_verified(false);
  ExpectJson(c,
             R"({"_user_id":"U1","plan":"team","_email":"e@example.com","_email_verified":"0"})");
}

TEST(ContactTest, AppendJsonAppendsWithoutClearing) {
  Contact c("U1");
  c.first_name("Ada").attribute("n", 1);
  const std::string out = AppendedTwice(c);
  EXPECT_EQ(out, "[" + c.to_json() + "," + c.to_json() + "]");
  EXPECT_EQ(out, R"([{"_user_id":"U1","_first_name":"Ada","n":1},)"
                 R"({"_user_id":"U1","_first_name":"Ada","n":1}])");
  EXPECT_TRUE(json::accept(out));
}

TEST(ContactTest, IsCopyableAndCopiesAreIndependent) {
  Contact a("U1");
  a.first_name("Ada");
  Contact b = a;
  b.first_name("Bea").attribute("plan", "pro");
  ExpectJson(a, R"({"_user_id":"U1","_first_name":"Ada"})");
  ExpectJson(b, R"({"_user_id":"U1","_first_name":"Bea","plan":"pro"})");
}

TEST(ContactTest, JsonTakenLeavesTheUserIdAndNoAttributes) {
  Contact c("U1");
  c.first_name("Ada").attribute("plan", "pro");
  EXPECT_EQ(std::move(c).to_json(), R"({"_user_id":"U1","_first_name":"Ada","plan":"pro"})");
  EXPECT_EQ(c.user_id(), "U1");
  ExpectJson(c, R"({"_user_id":"U1"})");
  c.first_name("Bea").first_name("Cy").attribute("plan", "team");
  ExpectJson(c, R"({"_user_id":"U1","_first_name":"Cy","plan":"team"})");
  std::string attributes;
  c.append_attributes_json(attributes);
  EXPECT_EQ(attributes, R"({"_first_name":"Cy","plan":"team"})");
}

TEST(ContactTest, JsonTakenKeepsAtMost64SpareBytes) {
  // A queued contact holds this text while it waits: the room reserved for more attributes must
  // not stay with a small one.
  for (const std::size_t size : {0u, 1u, 20u, 100u, 200u, 1000u}) {
    Contact c("U1");
    if (size > 0) c.attribute("note", std::string(size, 'x'));
    const std::string json = std::move(Contact(c)).to_json();
    EXPECT_EQ(json, c.to_json());
    EXPECT_LE(json.capacity() - json.size(), 64u) << "a note of " << size << " bytes";
  }
}

TEST(ContactTest, AContactMovedFromSerializesWithAnEmptyIdAndTakesSettersAgain) {
  // What the standard libraries leave in a moved-from string (empty) is what this relies on.
  Contact a("U1");
  a.email("e@example.com");
  const Contact b = std::move(a);
  ExpectJson(b, R"({"_user_id":"U1","_email":"e@example.com"})");
  ExpectJson(a, R"({"_user_id":""})");  // NOLINT(bugprone-use-after-move): what is left
  a.email("f@example.com").email("g@example.com");
  ExpectJson(a, R"({"_user_id":"","_email":"g@example.com"})");
}

// ---- rejections ------------------------------------------------------------------------------

TEST(ContactTest, EmptyUserIdIsRejected) {
  ExpectRejected([] { Contact c(""); }, "_user_id");
}

TEST(ContactTest, UserIdWithInvalidUtf8IsRejected) {
  ExpectRejected([] { Contact c(std::string(kSecret) + "\xC3"); }, "_user_id");
  ExpectRejected([] { Contact c(std::string(kSecret) + "\xED\xA0\x80"); }, "_user_id");
}

TEST(ContactTest, CustomKeyStartingWithUnderscoreIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("_plan", kSecret); }, "_plan");
  ExpectRejected([&] { c.attribute("_", kSecret); }, "_");
}

TEST(ContactTest, ReservedNameNotStartingWithUnderscoreIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.reserved("first_name", kSecret); }, "first_name");
}

TEST(ContactTest, ReservedUserIdIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.reserved("_user_id", kSecret); }, "_user_id");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, ClearUserIdIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.clear("_user_id"); }, "_user_id");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, EmptyKeyIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("", kSecret); }, "");
  ExpectRejected([&] { c.reserved("", kSecret); }, "");
  ExpectRejected([&] { c.clear(""); }, "");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, KeyWithInvalidUtf8IsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("pl\xC3", kSecret); }, "");
  ExpectRejected([&] { c.reserved("_pl\xC0\x80", kSecret); }, "");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, NonFiniteAttributeValueIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("score", kNaN); }, "score");
  ExpectRejected([&] { c.attribute("score", std::numeric_limits<double>::infinity()); }, "score");
  ExpectRejected([&] { c.attribute("scores", {1.0, kNaN}); }, "scores");
  ExpectRejected([&] { c.reserved("_score", kNaN); }, "_score");
  try {
    c.attribute("score", kNaN);
  } catch (const InvalidInputError& e) {
    // The value itself must not be echoed either.
    const std::string what = e.what();
    EXPECT_FALSE(Contains(what, "nan")) << what;
  }
}

TEST(ContactTest, InvalidUtf8AttributeValueIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("plan", std::string(kSecret) + "\xC3"); }, "plan");
  ExpectRejected([&] { c.attribute("tags", {kSecret, "\xF5\x80\x80\x80"}); }, "tags");
  ExpectRejected([&] { c.reserved("_foo", std::string(kSecret) + "\xF0\x9F\x98"); }, "_foo");
}

TEST(ContactTest, InvalidUtf8InTypedSetterIsRejected) {
  Contact c("U1");
  const std::string bad = std::string(kSecret) + "\xC3";
  ExpectRejected([&] { c.first_name(bad); }, "_first_name");
  ExpectRejected([&] { c.last_name(bad); }, "_last_name");
  ExpectRejected([&] { c.email(bad); }, "_email");
  ExpectRejected([&] { c.phone_mobile(bad); }, "_phone_mobile");
  ExpectRejected([&] { c.country_code(bad); }, "_country_code");
  ExpectJson(c, R"({"_user_id":"U1"})");
}

TEST(ContactTest, ObjectAttributeValueIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("address", Value::object({{"city", kSecret}})); }, "address");
}

TEST(ContactTest, NestedArrayAttributeValueIsRejected) {
  Contact c("U1");
  ExpectRejected([&] { c.attribute("matrix", {Value{kSecret}, Value{2}}); }, "matrix");
  ExpectRejected(
      [&] {
        c.attribute("lines", Value::array({Value::object({{"k", kSecret}})}));
      },
      "lines");
}

TEST(ContactTest, ContactIsUnchangedAndUsableAfterARejectedSet) {
  Contact c("U1");
  c.first_name("Ada").attribute("plan", "pro");
  const std::string before = c.to_json();

  EXPECT_THROW(c.attribute("plan", kNaN), InvalidInputError);
  EXPECT_THROW(c.attribute("_plan", "x"), InvalidInputError);
  EXPECT_THROW(c.first_name("\xC3"), InvalidInputError);
  EXPECT_THROW(c.attribute("address", Value::object({{"city", "x"}})), InvalidInputError);
  EXPECT_THROW(c.attribute("new", "\xC3"), InvalidInputError);
  EXPECT_THROW(c.reserved("_user_id", "U2"), InvalidInputError);
  EXPECT_EQ(c.to_json(), before);
  EXPECT_EQ(c.user_id(), "U1");

  c.last_name("Lovelace").attribute("plan", "team");
  ExpectJson(c, R"({"_user_id":"U1","_first_name":"Ada","plan":"team","_last_name":"Lovelace"})");
}

TEST(ContactTest, InvalidInputErrorIsAnInstasentError) {
  try {
    Contact c("");
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(e.http_status(), 0);
    EXPECT_NE(dynamic_cast<const InvalidInputError*>(&e), nullptr);
  }
}

}  // namespace
}  // namespace instasent::testing
