// SPDX-License-Identifier: Apache-2.0
// The tools' JSON reader (tools/common/json_body.hpp) against nlohmann::json::parse, which it
// replaced on the emulator's batch endpoints and the CLI's NDJSON lines: the same texts accepted
// and refused, the same values read, duplicate names kept as nlohmann keeps them. Generated
// documents, hostile mutations of them, and hand-picked edge cases.
#include "json_body.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace instasent::tools {
namespace {

using nlohmann::json;
using namespace std::string_literals;

constexpr std::size_t kNoDepthLimit = std::numeric_limits<std::size_t>::max();

// Empty when the Body and nlohmann agree on `text`, else what differs.
std::string disagreement(const std::string& text) {
  Body body;
  const bool accepted = body.parse(text, kNoDepthLimit);
  const json expected = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (accepted != !expected.is_discarded()) {
    return std::string(accepted ? "accepted" : "refused") + " what nlohmann " +
           (accepted ? "refuses" : "accepts") + ": " + json(text).dump(-1, ' ', true);
  }
  if (!accepted) return "";
  // dump() tells apart what == would not (-0.0 and 0.0, 1 and 1.0).
  const json read = body.to_json(0);
  if (read.dump() != expected.dump() || read != expected) {
    return "read " + read.dump() + " where nlohmann reads " + expected.dump() + " from " +
           json(text).dump(-1, ' ', true);
  }
  return "";
}

// Random JSON text, shaped like batches and their worst cases: escapes, every kind of number,
// multi-byte and escaped characters, repeated member names and odd whitespace.
class Generator {
 public:
  explicit Generator(std::uint32_t seed) : random_(seed) {}

  std::string document() {
    std::string out;
    if (chance(20)) out += "\xEF\xBB\xBF";
    value(out, 0);
    space(out);
    return out;
  }

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  bool chance(std::size_t one_in) { return below(one_in) == 0; }

 private:
  void space(std::string& out) {
    static const char* const kSpaces[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    out += kSpaces[below(std::size(kSpaces))];
  }

  void value(std::string& out, int depth) {
    space(out);
    const std::size_t kind = depth > 4 ? below(5) : below(8);
    switch (kind) {
      case 0:
        out += chance(2) ? "true" : (chance(2) ? "false" : "null");
        break;
      case 1:
      case 2:
        number(out);
        break;
      case 3:
      case 4:
        string(out);
        break;
      case 5:
      case 6:
        object(out, depth);
        break;
      default:
        array(out, depth);
    }
    space(out);
  }

  void number(std::string& out) {
    static const char* const kNumbers[] = {"0",
                                           "-0",
                                           "1",
                                           "-1",
                                           "42",
                                           "0.5",
                                           "-0.0",
                                           "1.0",
                                           "1e2",
                                           "1E+2",
                                           "1e-2",
                                           "-1.5e300",
                                           "1e308",
                                           "1e-400",
                                           "123456789012345678901",
                                           "18446744073709551615",
                                           "18446744073709551616",
                                           "-9223372036854775808",
                                           "-9223372036854775809",
                                           "3.141592653589793238462643383279"};
    if (chance(2)) {
      out += kNumbers[below(std::size(kNumbers))];
    } else {
      out += std::to_string(static_cast<long long>(below(2'000'000)) - 1'000'000);
    }
  }

  void string(std::string& out) {
    static const char* const kPieces[] = {"a",
                                          "USER-1",
                                          "_email",
                                          "ada@example.com",
                                          "+34600000000",
                                          "\\\"",
                                          "\\\\",
                                          "\\/",
                                          "\\b",
                                          "\\f",
                                          "\\n",
                                          "\\r",
                                          "\\t",
                                          "\\u0041",
                                          "\\u00e9",
                                          "\\u0000",
                                          "\\u001f",
                                          "\\ud83d\\ude00",
                                          "\\uD834\\uDD1E",
                                          "é",
                                          "€",
                                          "😀",
                                          "\x7f",
                                          " ",
                                          "_user_id",
                                          "null",
                                          "1"};
    out += '"';
    const std::size_t pieces = below(4);
    for (std::size_t i = 0; i < pieces; ++i) out += kPieces[below(std::size(kPieces))];
    out += '"';
  }

  void object(std::string& out, int depth) {
    static const char* const kNames[] = {"\"_user_id\"", "\"_email\"",  "\"a\"", "\"b\"",
                                         "\"\"",         "\"\\u0061\"", "\"é\"", "\"_first_name\""};
    out += '{';
    const std::size_t members = below(6);
    for (std::size_t i = 0; i < members; ++i) {
      if (i > 0) out += ',';
      space(out);
      // Few names, so that some repeat.
      out += chance(3) ? std::string(kNames[below(std::size(kNames))])
                       : "\"k" + std::to_string(below(4)) + '"';
      space(out);
      out += ':';
      value(out, depth + 1);
    }
    space(out);
    out += '}';
  }

  void array(std::string& out, int depth) {
    out += '[';
    const std::size_t elements = below(5);
    for (std::size_t i = 0; i < elements; ++i) {
      if (i > 0) out += ',';
      value(out, depth + 1);
    }
    space(out);
    out += ']';
  }

  std::mt19937 random_;
};

TEST(Body, GeneratedDocumentsReadAsNlohmannReadsThem) {
  Generator generator(20261203);
  for (int i = 0; i < 20'000; ++i) {
    const std::string text = generator.document();
    ASSERT_EQ(disagreement(text), "") << "document " << i;
  }
}

TEST(Body, MutatedDocumentsAreAcceptedOrRefusedAsNlohmannDoes) {
  // Bytes that matter to a JSON reader, and a few that never should appear.
  static const std::string kBytes = "{}[],:\"\\/ \t\n\r\f\v0123456789.-+eEuUtfnalsx"s +
                                    "\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe0\xed\xef\xf0\xf4\xf5\xff"s;
  Generator generator(7);
  int refused = 0;
  for (int i = 0; i < 40'000; ++i) {
    std::string text = generator.document();
    const std::size_t edits = 1 + generator.below(3);
    for (std::size_t e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = generator.below(text.size());
      switch (generator.below(4)) {
        case 0:
          text[at] = kBytes[generator.below(kBytes.size())];
          break;
        case 1:
          text.insert(at, 1, kBytes[generator.below(kBytes.size())]);
          break;
        case 2:
          text.erase(at, 1);
          break;
        default:
          text.resize(at);
      }
    }
    const std::string problem = disagreement(text);
    ASSERT_EQ(problem, "") << "mutation " << i;
    if (json::parse(text, nullptr, false).is_discarded()) ++refused;
  }
  // The mutations reach both sides of the question.
  EXPECT_GT(refused, 10'000);
  EXPECT_LT(refused, 39'000);
}

TEST(Body, EdgeCasesAgreeWithNlohmann) {
  const std::vector<std::string> cases = {
      "", " ", "[]", "{}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\"1}", "{a:1}", "{\"a\":}", "[1 2]",
      "[1]x", "[1] ", " [1]\n", "[1]\f", "\f[1]", "[1]\v", "\xEF\xBB\xBF[1]", "\xEF\xBB[1]",
      "\xEF[1]", " \xEF\xBB\xBF[1]", "\xEF\xBB\xBF", "[\"\xEF\xBB\xBF\"]", "[tru]", "[true1]",
      "[nul]", "[NaN]", "[Infinity]", "[-]", "[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[1e+]",
      "[1E-0]", "[-0]", "[0e0]", "[1e400]", "[-1e400]", "[1e-400]", "[1.7976931348623157e308]",
      "[1.7976931348623159e308]", std::string(400, '9'), "[" + std::string(308, '9') + "]",
      "[" + std::string(309, '9') + "]", "[" + std::string(308, '9') + ".5]", "[\"a\nb\"]",
      "[\"a\tb\"]", "[\"\x7f\"]", "[\"\\u0000\"]", "[\"\\x41\"]", "[\"\\'\"]", "[\"\\u12\"]",
      "[\"\\u12g4\"]", "[\"\\uD800\"]", "[\"\\uDC00\"]", "[\"\\uD800\\u0041\"]",
      "[\"\\uD800\\uD800\"]", "[\"\\uD800x\"]", "[\"\\uDBFF\\uDFFF\"]", "[\"\\ud800\\udc00\"]",
      "[\"\xC0\xAF\"]", "[\"\xC2\"]", "[\"\xE0\x80\x80\"]", "[\"\xED\xA0\x80\"]",
      "[\"\xF4\x90\x80\x80\"]", "[\"\xF0\x9F\x98\x80\"]", "[\"\xF0\x9F\x98\"]", "[\"\xFF\"]",
      "[\xC3\xA9]", "[\"a\"\"b\"]", "[\"", "[\"\\", "[\"\\u", "{\"a\":1,\"a\":2}",
      "{\"a\":{\"x\":1},\"a\":[2]}", "{\"\":0}", "{\"\\u0000\":0}", std::string("[\0]", 3),
      std::string("[1]\0", 4), std::string("[\"\0\"]", 5),
      // nlohmann ends the text at a NUL between tokens.
      std::string("[1] \0x", 6), std::string("[1\0]", 4), std::string("\0[1]", 4),
      std::string("{\"a\":1\0}", 8)};
  for (const std::string& text : cases) EXPECT_EQ(disagreement(text), "");
}

TEST(Body, DepthBeyondTheLimitIsRefused) {
  const auto nested = [](std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  Body body;
  EXPECT_TRUE(body.parse(nested(32), 32));
  EXPECT_FALSE(body.parse(nested(33), 32));
  EXPECT_TRUE(body.parse("[{\"a\":[{}]}]", 4));
  EXPECT_FALSE(body.parse("[{\"a\":[{}]}]", 3));
  EXPECT_TRUE(body.parse("1", 0));
  EXPECT_FALSE(body.parse("[]", 0));
}

TEST(Body, MembersAndFindKeepTheLastOfARepeatedName) {
  Generator generator(11);
  std::vector<std::uint32_t> members;
  for (int i = 0; i < 5'000; ++i) {
    std::string text = "{";
    const std::size_t count = generator.below(40);  // past the few-members path
    for (std::size_t m = 0; m < count; ++m) {
      if (m > 0) text += ',';
      text += "\"k" + std::to_string(generator.below(count + 1)) + "\":" + std::to_string(m);
    }
    text += '}';
    Body body;
    ASSERT_TRUE(body.parse(text, 32)) << text;
    const json expected = json::parse(text);
    body.members(0, members);
    ASSERT_EQ(members.size(), expected.size()) << text;
    for (const std::uint32_t member : members) {
      const std::string key(body[member].key);
      ASSERT_TRUE(expected.contains(key)) << text;
      EXPECT_EQ(body.to_json(member), expected[key]) << text;
      ASSERT_NE(body.find(0, key), nullptr);
      EXPECT_EQ(body.find(0, key), &body[member]) << text;
    }
    EXPECT_EQ(body.find(0, "absent"), nullptr);
  }
}

TEST(Body, ValuesKeepTheirTextAndDecodedStrings) {
  Body body;
  const std::string text = R"([ {"a\u0062" : "x\n\u00e9" , "n": -1.5e3, "l": [1, "2"] }, true ])";
  ASSERT_TRUE(body.parse(text, 32));
  EXPECT_EQ(body[0].kind, JsonKind::array);
  EXPECT_EQ(body.count(0), 2u);
  const BodyValue* string = body.find(1, "ab");
  ASSERT_NE(string, nullptr);
  EXPECT_EQ(string->kind, JsonKind::string);
  EXPECT_EQ(string->text, "x\n\xC3\xA9");
  EXPECT_EQ(string->raw, R"("x\n\u00e9")");
  EXPECT_EQ(body.find(1, "n")->raw, "-1.5e3");
  EXPECT_EQ(body.find(1, "l")->raw, R"([1, "2"])");
  EXPECT_EQ(body.find(1, "l")->kind, JsonKind::array);
  const std::uint32_t second = *++body.children(0).begin();
  EXPECT_EQ(body[second].kind, JsonKind::boolean);
  EXPECT_TRUE(body[second].truth);
}

}  // namespace
}  // namespace instasent::tools
