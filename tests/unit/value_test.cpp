// SPDX-License-Identifier: Apache-2.0
// Unit tests for instasent::Value: encoding of every kind, problems, nesting.

#include "instasent/value.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace instasent {
namespace {

using Kind = Value::Kind;
using Problem = Value::Problem;
using nlohmann::json;

// Parses the encoded text strictly; a parse failure is reported as a test failure, not a crash.
json Parse(const Value& v) {
  json parsed = json::parse(v.json(), nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << "not valid JSON: " << v.json();
  return parsed;
}

// The value is sendable, encodes to exactly `text`, and `text` parses to `expected`.
void ExpectEncodes(const Value& v, const std::string& text, const json& expected) {
  EXPECT_EQ(v.problem(), Problem::none);
  EXPECT_EQ(v.json(), text);
  EXPECT_EQ(Parse(v), expected) << "encoded as " << v.json();
}

// ---- null, bool ------------------------------------------------------------------------------

TEST(ValueTest, DefaultIsNull) {
  Value v;
  EXPECT_EQ(v.kind(), Kind::null);
  EXPECT_FALSE(v.nested());
  ExpectEncodes(v, "null", json(nullptr));
}

TEST(ValueTest, NullptrIsNull) {
  Value v = nullptr;
  EXPECT_EQ(v.kind(), Kind::null);
  ExpectEncodes(v, "null", json(nullptr));
}

TEST(ValueTest, EmptyBracesAreNullNotAnEmptyArray) {
  Value v{};  // value-initialization picks the default constructor
  EXPECT_EQ(v.kind(), Kind::null);
  EXPECT_EQ(v.json(), "null");
}

TEST(ValueTest, Booleans) {
  Value t = true;
  Value f = false;
  EXPECT_EQ(t.kind(), Kind::boolean);
  EXPECT_EQ(f.kind(), Kind::boolean);
  ExpectEncodes(t, "true", json(true));
  ExpectEncodes(f, "false", json(false));
}

// ---- integers --------------------------------------------------------------------------------

TEST(ValueTest, SmallIntegers) {
  Value zero = 0;
  Value pos = 42;
  Value neg = -7;
  EXPECT_EQ(pos.kind(), Kind::integer);
  ExpectEncodes(zero, "0", json(0));
  ExpectEncodes(pos, "42", json(42));
  ExpectEncodes(neg, "-7", json(-7));
}

TEST(ValueTest, EveryIntegerTypeIsAnInteger) {
  ExpectEncodes(Value(static_cast<short>(-300)), "-300", json(-300));
  ExpectEncodes(Value(static_cast<unsigned short>(65535)), "65535", json(65535));
  ExpectEncodes(Value(static_cast<signed char>(-5)), "-5", json(-5));
  ExpectEncodes(Value(static_cast<unsigned char>(200)), "200", json(200));
  ExpectEncodes(Value(123L), "123", json(123));
  ExpectEncodes(Value(123UL), "123", json(123));
  ExpectEncodes(Value(-123LL), "-123", json(-123));
  ExpectEncodes(Value(std::uint32_t{4294967295U}), "4294967295", json(4294967295U));
  EXPECT_EQ(Value(static_cast<unsigned char>(1)).kind(), Kind::integer);
  EXPECT_EQ(Value(std::size_t{1}).kind(), Kind::integer);
}

TEST(ValueTest, Int64Extremes) {
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  Value vmin = min;
  Value vmax = max;
  EXPECT_EQ(vmin.kind(), Kind::integer);
  ExpectEncodes(vmin, "-9223372036854775808", json(min));
  ExpectEncodes(vmax, "9223372036854775807", json(max));
  EXPECT_EQ(Parse(vmin).get<std::int64_t>(), min);
}

TEST(ValueTest, Uint64Max) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  Value v = max;
  EXPECT_EQ(v.kind(), Kind::integer);
  ExpectEncodes(v, "18446744073709551615", json(max));
  EXPECT_EQ(Parse(v).get<std::uint64_t>(), max);
}

// ---- floating point --------------------------------------------------------------------------

TEST(ValueTest, DoubleUsesShortestRoundTripText) {
  Value v = 49.9;
  EXPECT_EQ(v.kind(), Kind::floating);
  ExpectEncodes(v, "49.9", json(49.9));
  EXPECT_EQ(Parse(v).get<double>(), 49.9);
  ExpectEncodes(Value(0.1), "0.1", json(0.1));
  ExpectEncodes(Value(-2.5), "-2.5", json(-2.5));
}

TEST(ValueTest, DoubleRoundTripsExactly) {
  for (double d : {0.1 + 0.2, 1.0 / 3.0, 123456789.123456789, 5e-324, 2.2250738585072014e-308,
                   std::numeric_limits<double>::max(), -1e-7}) {
    Value v = d;
    EXPECT_EQ(v.problem(), Problem::none);
    json parsed = Parse(v);
    ASSERT_TRUE(parsed.is_number_float()) << v.json();
    EXPECT_EQ(parsed.get<double>(), d) << v.json();
  }
}

TEST(ValueTest, IntegralDoubleKeepsAFractionPart) {
  Value v = 1.0;
  EXPECT_EQ(v.kind(), Kind::floating);
  ExpectEncodes(v, "1.0", json(1.0));
  EXPECT_TRUE(Parse(v).is_number_float());
  ExpectEncodes(Value(0.0), "0.0", json(0.0));
  ExpectEncodes(Value(-3.0), "-3.0", json(-3.0));
}

TEST(ValueTest, HugeDoubleStaysAFloat) {
  Value v = 1e300;
  EXPECT_EQ(v.kind(), Kind::floating);
  EXPECT_EQ(v.problem(), Problem::none);
  json parsed = Parse(v);
  ASSERT_TRUE(parsed.is_number_float()) << v.json();
  EXPECT_EQ(parsed.get<double>(), 1e300) << v.json();
  EXPECT_EQ(v.json().find(' '), std::string::npos);
}

TEST(ValueTest, NegativeZeroKeepsItsSign) {
  Value v = -0.0;
  EXPECT_EQ(v.kind(), Kind::floating);
  EXPECT_EQ(v.problem(), Problem::none);
  EXPECT_EQ(v.json(), "-0.0");
  json parsed = Parse(v);
  ASSERT_TRUE(parsed.is_number_float()) << v.json();
  EXPECT_EQ(parsed.get<double>(), 0.0);
  EXPECT_TRUE(std::signbit(parsed.get<double>())) << v.json();
}

TEST(ValueTest, FloatIsEncodedAsTheEqualDouble) {
  Value half = 1.5f;
  EXPECT_EQ(half.kind(), Kind::floating);
  ExpectEncodes(half, "1.5", json(1.5));
  Value one = 1.0f;
  ExpectEncodes(one, "1.0", json(1.0));
  // 0.1f is not 0.1: the text is that of the double the float converts to, and round-trips.
  Value tenth = 0.1f;
  EXPECT_EQ(tenth.problem(), Problem::none);
  EXPECT_EQ(Parse(tenth).get<double>(), static_cast<double>(0.1f)) << tenth.json();
}

TEST(ValueTest, NonFiniteIsAProblemNotAnException) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_NO_THROW({
    Value v = nan;
    (void)v;
  });
  EXPECT_EQ(Value(nan).problem(), Problem::not_finite);
  EXPECT_EQ(Value(-nan).problem(), Problem::not_finite);
  EXPECT_EQ(Value(inf).problem(), Problem::not_finite);
  EXPECT_EQ(Value(-inf).problem(), Problem::not_finite);
  EXPECT_EQ(Value(std::numeric_limits<float>::quiet_NaN()).problem(), Problem::not_finite);
  EXPECT_EQ(Value(std::numeric_limits<float>::infinity()).problem(), Problem::not_finite);
  EXPECT_EQ(Value(-std::numeric_limits<float>::infinity()).problem(), Problem::not_finite);
}

// ---- strings ---------------------------------------------------------------------------------

TEST(ValueTest, EveryStringTypeIsAString) {
  const std::string s = "abc";
  const std::string_view sv = "abc";
  EXPECT_EQ(Value("abc").kind(), Kind::string);
  EXPECT_EQ(Value(s).kind(), Kind::string);
  EXPECT_EQ(Value(sv).kind(), Kind::string);
  ExpectEncodes(Value("abc"), "\"abc\"", json("abc"));
  ExpectEncodes(Value(s), "\"abc\"", json("abc"));
  ExpectEncodes(Value(sv), "\"abc\"", json("abc"));
  ExpectEncodes(Value(""), "\"\"", json(""));
}

TEST(ValueTest, StringEscapesQuoteAndBackslash) {
  ExpectEncodes(Value("say \"hi\""), R"("say \"hi\"")", json("say \"hi\""));
  ExpectEncodes(Value("C:\\dir\\"), R"("C:\\dir\\")", json("C:\\dir\\"));
}

TEST(ValueTest, StringEscapesNewlineAndTab) {
  ExpectEncodes(Value("a\nb"), R"("a\nb")", json("a\nb"));
  ExpectEncodes(Value("a\tb"), R"("a\tb")", json("a\tb"));
}

TEST(ValueTest, StringEscapesOtherControlCharactersAsUnicode) {
  ExpectEncodes(Value("\x01"), R"("\u0001")", json("\x01"));
  const std::string with_nul("a\0b", 3);
  ExpectEncodes(Value(with_nul), R"("a\u0000b")", json(with_nul));
  // Every other control character parses back to itself (short escapes like \r are allowed).
  for (int c = 0; c < 0x20; ++c) {
    const std::string s(1, static_cast<char>(c));
    Value v = s;
    EXPECT_EQ(v.problem(), Problem::none) << c;
    EXPECT_EQ(Parse(v), json(s)) << "control " << c << " encoded as " << v.json();
    for (char raw : v.json()) {
      EXPECT_GE(static_cast<unsigned char>(raw), 0x20) << "raw control " << c << " in output";
    }
  }
}

TEST(ValueTest, DelIsValidAndParsesBack) {
  Value v = "\x7f";
  EXPECT_EQ(v.problem(), Problem::none);
  // JSON does not require escaping DEL; either form is correct.
  EXPECT_TRUE(v.json() == "\"\x7f\"" || v.json() == R"("\u007f")" || v.json() == R"("\u007F")")
      << v.json();
  EXPECT_EQ(Parse(v), json("\x7f"));
}

TEST(ValueTest, Utf8IsKeptRaw) {
  const std::string text =
      "Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE6\x97\xA5";  // e-acute, euro, emoji, CJK
  ExpectEncodes(Value(text), "\"" + text + "\"", json(text));
}

TEST(ValueTest, Utf8BoundaryCodePointsAreValid) {
  for (const char* s : {
           "\x7f",              // U+007F
           "\xC2\x80",          // U+0080
           "\xDF\xBF",          // U+07FF
           "\xE0\xA0\x80",      // U+0800
           "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
           "\xEE\x80\x80",      // U+E000, just above the surrogates
           "\xEF\xBF\xBF",      // U+FFFF
           "\xF0\x90\x80\x80",  // U+10000
           "\xF4\x8F\xBF\xBF",  // U+10FFFF
       }) {
    Value v = s;
    EXPECT_EQ(v.problem(), Problem::none) << "rejected valid " << json(s).dump();
    if (std::strcmp(s, "\x7f") != 0) {
      EXPECT_EQ(v.json(), "\"" + std::string(s) + "\"");
    }
  }
}

TEST(ValueTest, InvalidUtf8IsAProblemNotAnException) {
  const std::pair<const char*, const char*> cases[] = {
      {"lone lead byte", "a\xC3"},
      {"lead byte then ASCII", "\xC3("},
      {"lone continuation byte", "\x80"},
      {"overlong NUL", "\xC0\x80"},
      {"overlong 2-byte", "\xC1\xBF"},
      {"overlong 3-byte", "\xE0\x80\xAF"},
      {"overlong 4-byte", "\xF0\x80\x80\xAF"},
      {"surrogate D800", "\xED\xA0\x80"},
      {"surrogate DFFF", "\xED\xBF\xBF"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"},
      {"F5 lead", "\xF5\x80\x80\x80"},
      {"F8 lead", "\xF8\x88\x80\x80\x80"},
      {"FE", "\xFE"},
      {"FF", "\xFF"},
      {"truncated 4-byte", "\xF0\x9F\x98"},
      {"truncated 4-byte then text", "\xF0\x9F\x98x"},
      {"truncated 3-byte", "\xE2\x82"},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_NO_THROW({
      Value v = std::string_view(bytes);
      (void)v;
    }) << name;
    EXPECT_EQ(Value(bytes).problem(), Problem::invalid_utf8) << name;
    EXPECT_EQ(Value(std::string(bytes)).problem(), Problem::invalid_utf8) << name;
  }
}

TEST(ValueTest, ProblemsHaveNames) {
  EXPECT_STREQ(to_string(Problem::none), "none");
  EXPECT_STREQ(to_string(Problem::invalid_utf8), "invalid_utf8");
  EXPECT_STREQ(to_string(Problem::not_finite), "not_finite");
  EXPECT_STREQ(to_string(Problem::too_deep), "too_deep");
}

// ---- arrays and objects ----------------------------------------------------------------------

TEST(ValueTest, BracedListIsAnArray) {
  Value v{"a", "b"};
  EXPECT_EQ(v.kind(), Kind::array);
  EXPECT_FALSE(v.nested());
  ExpectEncodes(v, R"(["a","b"])", json::array({"a", "b"}));
}

TEST(ValueTest, BracedListOfOneIsAnArray) {
  Value v{42};
  EXPECT_EQ(v.kind(), Kind::array);
  ExpectEncodes(v, "[42]", json::array({42}));
}

TEST(ValueTest, BracedListOfMixedScalars) {
  Value v{1, "x", true, nullptr, 2.5, 1.0};
  EXPECT_EQ(v.kind(), Kind::array);
  EXPECT_FALSE(v.nested());
  ExpectEncodes(v, R"([1,"x",true,null,2.5,1.0])", json::array({1, "x", true, nullptr, 2.5, 1.0}));
}

TEST(ValueTest, ArrayFactory) {
  Value empty = Value::array({});
  EXPECT_EQ(empty.kind(), Kind::array);
  EXPECT_FALSE(empty.nested());
  ExpectEncodes(empty, "[]", json::array());

  std::vector<Value> items = {Value("q\""), Value(7), Value(false)};
  Value v = Value::array(items);
  EXPECT_EQ(v.kind(), Kind::array);
  ExpectEncodes(v, R"(["q\"",7,false])", json::array({"q\"", 7, false}));
}

TEST(ValueTest, ObjectFactoryKeepsMemberOrder) {
  Value v = Value::object({{"sku", "A-1"}, {"qty", 2}, {"price", 9.5}, {"gift", false}});
  EXPECT_EQ(v.kind(), Kind::object);
  EXPECT_FALSE(v.nested());
  ExpectEncodes(v, R"({"sku":"A-1","qty":2,"price":9.5,"gift":false})",
                json{{"sku", "A-1"}, {"qty", 2}, {"price", 9.5}, {"gift", false}});
}

TEST(ValueTest, EmptyObject) {
  Value v = Value::object({});
  EXPECT_EQ(v.kind(), Kind::object);
  ExpectEncodes(v, "{}", json::object());
}

TEST(ValueTest, ObjectKeysAreEscaped) {
  Value v = Value::object({{"a\"b\\c\n", 1}, {"\xC3\xA9", 2}});
  ExpectEncodes(v, "{\"a\\\"b\\\\c\\n\":1,\"\xC3\xA9\":2}",
                json{{"a\"b\\c\n", 1}, {"\xC3\xA9", 2}});
}

TEST(ValueTest, ObjectKeyWithInvalidUtf8IsAProblem) {
  Value v = Value::object({{"k\xC3", 1}});
  EXPECT_EQ(v.problem(), Problem::invalid_utf8);
}

TEST(ValueTest, ArrayContainingABadValueCarriesTheProblem) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ((Value{"ok", "\xC3"}).problem(), Problem::invalid_utf8);
  EXPECT_EQ((Value{1.0, nan}).problem(), Problem::not_finite);
  EXPECT_EQ(Value::array({Value("ok"), Value("\xED\xA0\x80")}).problem(), Problem::invalid_utf8);
  EXPECT_EQ(Value::array({Value(1), Value(std::numeric_limits<double>::infinity())}).problem(),
            Problem::not_finite);
  // Deeper down, and through objects.
  EXPECT_EQ(Value::array({Value::array({Value{"\xC0\x80"}})}).problem(), Problem::invalid_utf8);
  EXPECT_EQ(Value::object({{"a", Value{1, nan}}}).problem(), Problem::not_finite);
  EXPECT_EQ(Value::array({Value::object({{"k", "\xF5\x80\x80\x80"}})}).problem(),
            Problem::invalid_utf8);
}

TEST(ValueTest, ScalarsAreNotNested) {
  EXPECT_FALSE(Value().nested());
  EXPECT_FALSE(Value(1).nested());
  EXPECT_FALSE(Value(1.5).nested());
  EXPECT_FALSE(Value("s").nested());
  EXPECT_FALSE(Value(true).nested());
}

TEST(ValueTest, ArrayOfArraysIsNested) {
  Value v{Value{1, 2}, Value{3}};
  EXPECT_EQ(v.kind(), Kind::array);
  EXPECT_TRUE(v.nested());
  ExpectEncodes(v, "[[1,2],[3]]", json::array({json::array({1, 2}), json::array({3})}));

  Value empty_inner = Value::array({Value::array({})});
  EXPECT_TRUE(empty_inner.nested());
  ExpectEncodes(empty_inner, "[[]]", json::array({json::array()}));
}

TEST(ValueTest, ArrayOfObjectsIsNested) {
  Value v = Value::array({Value::object({{"sku", "A"}}), Value::object({{"sku", "B"}})});
  EXPECT_TRUE(v.nested());
  ExpectEncodes(v, R"([{"sku":"A"},{"sku":"B"}])",
                json::array({json{{"sku", "A"}}, json{{"sku", "B"}}}));
}

TEST(ValueTest, ObjectContainingArrayOrObjectIsNested) {
  Value with_array = Value::object({{"tags", Value{"a", "b"}}});
  EXPECT_TRUE(with_array.nested());
  ExpectEncodes(with_array, R"({"tags":["a","b"]})", json{{"tags", json::array({"a", "b"})}});

  Value with_object = Value::object({{"inner", Value::object({{"x", 1}})}});
  EXPECT_TRUE(with_object.nested());
  ExpectEncodes(with_object, R"({"inner":{"x":1}})", json{{"inner", json{{"x", 1}}}});
}

TEST(ValueTest, CopiesKeepEverything) {
  Value original = Value::array({Value::object({{"k", "v"}})});
  Value copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.kind(), original.kind());
  EXPECT_EQ(copy.problem(), original.problem());
  EXPECT_EQ(copy.nested(), original.nested());
  EXPECT_EQ(copy.json(), original.json());

  Value bad = "\xC3";
  Value bad_copy = bad;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(bad_copy.problem(), Problem::invalid_utf8);
}

}  // namespace
}  // namespace instasent
