// SPDX-License-Identifier: Apache-2.0
// An NDJSON line read in one pass (read_json_line, build_item from the Body) against the same line
// read into a nlohmann::json tree (read_json_object, build_item from the tree), which it replaced
// on the import's way: for generated contacts and events, hostile mutations of them and edge
// cases, the same problem when the line is unreadable, else the same item JSON (members in the
// same order, the same derived _event_id) or the same errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "items.hpp"
#include "records.hpp"

namespace instasent::cli {
namespace {

using nlohmann::json;

// What a way of reading makes of a line: its problem, else the item's JSON or its errors.
template <typename Item>
std::string outcome(const std::string& line, bool one_pass) {
  Record record;
  record.text = line;
  if (one_pass) {
    read_json_line(record);
  } else {
    read_json_object(record);
  }
  if (!record.problem.empty()) {
    if (one_pass && record.has_body) return "read, with a problem: " + record.problem;
    return "problem: " + record.problem;
  }
  if (one_pass && !record.has_body) {
    // Only the tree's way may have read it: a line with a NUL byte (what follows is ignored).
    if (line.find('\0') == std::string::npos) return "read as a tree without a NUL byte";
  }
  FieldErrors errors;
  const std::optional<Item> item = record.has_body ? build_item<Item>(record.body, errors)
                                                   : build_item<Item>(record.object, errors);
  if (!item) return "errors: " + json(errors).dump(-1, ' ', false, json::error_handler_t::replace);
  return "item: " + item->to_json();
}

template <typename Item>
std::string disagreement(const std::string& line) {
  const std::string tree = outcome<Item>(line, false);
  const std::string one_pass = outcome<Item>(line, true);
  if (tree == one_pass) return "";
  return "line " + json(line).dump(-1, ' ', true, json::error_handler_t::replace) +
         "\n  tree:     " + tree + "\n  one pass: " + one_pass;
}

// Lines shaped like contacts and events, with the values that take other ways: every kind of
// number, booleans on reserved and custom names, escapes, repeated and escaped names, nested
// values up to beyond the builders' depth limit, dates, _event_parameters and _user_data.
class LineGenerator {
 public:
  explicit LineGenerator(std::uint32_t seed) : random_(seed) {}

  std::string line() {
    std::string out;
    if (chance(30)) out += "\xEF\xBB\xBF";
    space(out);
    event_shaped_ = chance(2);
    object(out, 0, true);
    space(out);
    return out;
  }

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  bool chance(std::size_t one_in) { return below(one_in) == 0; }

 private:
  void space(std::string& out) {
    static const char* const kSpaces[] = {"", "", "", "", " ", "\t", "\r", "  "};
    out += kSpaces[below(std::size(kSpaces))];
  }

  // An event's own names, with values of the kind each takes (mostly), so that many build.
  void event_member(std::string& out, int depth) {
    switch (below(7)) {
      case 0:
        out += "\"_user_id\":\"U" + std::to_string(below(10)) + '"';
        return;
      case 1:
        out += "\"_event_type\":\"purchase\"";
        return;
      case 2:
        out += "\"_event_date\":";
        date(out);
        return;
      case 3:
        out += "\"_event_parameters\":";
        object(out, depth + 1, false);
        return;
      case 4:
        out += "\"_user_data\":";
        object(out, depth + 1, false);
        return;
      case 5:
        out += "\"_event_id\":";
        string(out);
        return;
      default:
        name(out, true);
        out += ':';
        value(out, depth);
    }
  }

  void name(std::string& out, bool top) {
    static const char* const kTop[] = {"_user_id",
                                       "_user_id",
                                       "_event_type",
                                       "_event_id",
                                       "_event_date",
                                       "_event_parameters",
                                       "_user_data",
                                       "_email",
                                       "_first_name",
                                       "_phone_mobile",
                                       "_email_verified",
                                       "plan",
                                       "tags",
                                       "score",
                                       "\\u005fuser_id",
                                       "_",
                                       "",
                                       "é",
                                       "a\\\"b",
                                       "_unknown_reserved",
                                       "\\u0000",
                                       "x\\ud83d\\ude00"};
    static const char* const kInner[] = {"a", "b", "_user_id", "amount", "", "\\u0061", "é"};
    out += '"';
    out += top ? kTop[below(std::size(kTop))] : kInner[below(std::size(kInner))];
    out += '"';
  }

  void value(std::string& out, int depth) {
    space(out);
    const std::size_t kind = depth > 6 ? below(6) : below(9);
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
        date(out);
        break;
      case 6:
        object(out, depth + 1, false);
        break;
      case 7:
        array(out, depth + 1);
        break;
      default:
        nest(out, depth);
    }
    space(out);
  }

  // Values nested around the builders' limit (32 levels) and the reader's (64).
  void nest(std::string& out, int depth) {
    static const int kLevels[] = {1, 30, 31, 32, 33, 62, 63, 64};
    const int levels = kLevels[below(std::size(kLevels))] - depth;
    if (levels <= 0) {
      out += "0";
      return;
    }
    const bool objects = chance(2);
    for (int i = 0; i < levels; ++i) out += objects ? "{\"a\":" : "[";
    out += "1";
    for (int i = 0; i < levels; ++i) out += objects ? "}" : "]";
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
                                           "1e999",
                                           "-1E+999",
                                           "1e-400",
                                           "123456789012345678901",
                                           "18446744073709551615",
                                           "18446744073709551616",
                                           "-9223372036854775808",
                                           "-9223372036854775809",
                                           "0.1",
                                           "49.90",
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
                                          "ada@example.com",
                                          "+34600000000",
                                          "\\\"",
                                          "\\\\",
                                          "\\/",
                                          "\\b",
                                          "\\n",
                                          "\\t",
                                          "\\u0041",
                                          "\\u00e9",
                                          "\\u0000",
                                          "\\u001f",
                                          "\\ud83d\\ude00",
                                          "é",
                                          "€",
                                          "😀",
                                          "\x7f",
                                          " ",
                                          "purchase",
                                          "1",
                                          "ES",
                                          "true",
                                          "\\u2028",
                                          "\xC2\x85"};
    out += '"';
    const std::size_t pieces = below(4);
    for (std::size_t i = 0; i < pieces; ++i) out += kPieces[below(std::size(kPieces))];
    out += '"';
  }

  void date(std::string& out) {
    static const char* const kDates[] = {
        "\"2026-11-28T10:00:00Z\"",        "\"2026-11-28 11:00:00.250+01:00\"",
        "\"2026-02-30T10:00:00Z\"",        "\"2026-11-28T10:00:00\"",
        "\"2300-01-01T00:00:00Z\"",        "\"2026-11-28T10:00+0200\"",
        "\"2026-11-28t10:00:00.123456z\"", "\"yesterday\""};
    out += kDates[below(std::size(kDates))];
  }

  void object(std::string& out, int depth, bool top) {
    out += '{';
    std::size_t members = top ? 1 + below(7) : below(4);
    bool first = true;
    if (top && !chance(6)) {  // mostly with an id (and a type), so that many build
      out += "\"_user_id\":\"U" + std::to_string(below(10)) + '"';
      if (event_shaped_) out += ",\"_event_type\":\"purchase\"";
      first = false;
      --members;
    }
    for (std::size_t i = 0; i < members; ++i) {
      if (!first) out += ',';
      first = false;
      space(out);
      if (top && event_shaped_ && !chance(8)) {
        event_member(out, depth);
        continue;
      }
      name(out, top || chance(4));
      space(out);
      out += ':';
      value(out, depth);
    }
    space(out);
    out += '}';
  }

  void array(std::string& out, int depth) {
    out += '[';
    const std::size_t elements = below(4);
    for (std::size_t i = 0; i < elements; ++i) {
      if (i > 0) out += ',';
      value(out, depth);
    }
    space(out);
    out += ']';
  }

  std::mt19937 random_;
  bool event_shaped_ = false;
};

// A hostile change: a byte dropped, doubled or replaced by one that breaks JSON, UTF-8 or both.
std::string mutated(std::string line, LineGenerator& random) {
  static const char kBytes[] = {'"',    '\\',   '{',    '}',    '[',    ']', ',',
                                ':',    '0',    '-',    'e',    '.',    ' ', '\0',
                                '\x01', '\x7f', '\x80', '\xC3', '\xFF', 'u', 'n'};
  const std::size_t changes = 1 + random.below(3);
  for (std::size_t i = 0; i < changes && !line.empty(); ++i) {
    const std::size_t at = random.below(line.size());
    switch (random.below(4)) {
      case 0:
        line.erase(at, 1);
        break;
      case 1:
        line.insert(at, 1, line[at]);
        break;
      case 2:
        line[at] = kBytes[random.below(sizeof kBytes)];
        break;
      default:
        line.insert(at, 1, kBytes[random.below(sizeof kBytes)]);
    }
  }
  return line;
}

TEST(NdjsonLine, GeneratedLinesGiveWhatTheTreeGives) {
  LineGenerator generator(20261204);
  int contacts = 0;
  int events = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::string line = generator.line();
    ASSERT_EQ(disagreement<Contact>(line), "");
    ASSERT_EQ(disagreement<Event>(line), "");
    contacts += outcome<Contact>(line, true).rfind("item: ", 0) == 0;
    events += outcome<Event>(line, true).rfind("item: ", 0) == 0;
  }
  // Not only errors: many lines build, both ways.
  EXPECT_GT(contacts, 2'000);
  EXPECT_GT(events, 2'000);
}

TEST(NdjsonLine, MutatedLinesGiveWhatTheTreeGives) {
  LineGenerator generator(7);
  for (int i = 0; i < 20'000; ++i) {
    const std::string line = mutated(generator.line(), generator);
    ASSERT_EQ(disagreement<Contact>(line), "");
    ASSERT_EQ(disagreement<Event>(line), "");
  }
}

TEST(NdjsonLine, EdgeCasesGiveWhatTheTreeGives) {
  const std::string deep_array = std::string(65, '[') + std::string(65, ']');
  const std::string lines[] = {
      "",
      " ",
      "{}",
      "[]",
      "\"text\"",
      "null",
      "{\"_user_id\":\"U1\"}",
      "{\"_user_id\":\"U1\",\"_user_id\":\"U2\"}",          // the last one counts
      "{\"_user_id\":\"U1\",\"_user_id\":null}",            // and it may be null
      "{\"_user_id\":\"\"}",                                // refused by the SDK
      "{\"_user_id\":7}",                                   // not a string
      "{\"_user_id\":\"U1\",\"b\":1,\"a\":2,\"_c\":true}",  // set in the order of their names
      "{\"_user_id\":\"U1\",\"_email\":\"not an email\"}",
      "{\"_user_id\":\"U1\",\"plan\":{\"b\":1,\"a\":[1,{\"z\":null,\"y\":2}],\"b\":3}}",
      "{\"_user_id\":\"U1\",\"x\":1e999}",  // beyond a double
      "{\"_user_id\":\"U1\",\"x\":-0,\"y\":-0.0,\"z\":18446744073709551616}",
      "{\"_user_id\":\"U1\",\"x\":\"\\ud800\"}",                // a lone surrogate
      "{\"_user_id\":\"U1\",\"x\":\"\xC3\x28\"}",               // not UTF-8
      std::string("{\"_user_id\":\"U1\"}\0\xFF", 20),           // a NUL, then not UTF-8
      std::string("{\"_user_id\":\"U1\"}\0", 18) + deep_array,  // a NUL, then too deep
      "{\"_user_id\":\"U1\",\"x\":" + deep_array + "}",
      "\xEF\xBB\xBF{\"_user_id\":\"U1\"}",
      "\xEF\xBB{\"_user_id\":\"U1\"}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\"}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"zzz\":1,\"aaa\":2}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_parameters\":{\"b\":1.5,\"a\":[]}}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_parameters\":[]}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_user_data\":{\"_email\":\"a@b.co\"}}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_user_data\":{\"_user_id\":\"U2\"}}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_user_data\":{\"_user_id\":null}}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_user_data\":7}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_id\":\"E1\",\"_event_id\":null}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_date\":\"2026-11-28T10:00:00Z\"}",
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_date\":1}",
      "{\"_event_type\":\"buy\",\"_user_id\":\"U1\",\"_event_parameters\":{\"\\u00e9\":\"\\n\"}}",
  };
  for (const std::string& line : lines) {
    EXPECT_EQ(disagreement<Contact>(line), "");
    EXPECT_EQ(disagreement<Event>(line), "");
  }
  // More members than are sorted without the heap (16), names repeated, at the top and within.
  for (const int members : {15, 16, 17, 40}) {
    std::string many;
    for (int i = members; i > 0; --i)
      many += ",\"k" + std::to_string(i % 23) + "\":" + std::to_string(i);
    const std::string line = "{\"_user_id\":\"U1\"" + many + ",\"o\":{" + many.substr(1) + "}}";
    EXPECT_EQ(disagreement<Contact>(line), "");
    const std::string event = "{\"_user_id\":\"U1\",\"_event_type\":\"t\",\"_event_parameters\":{" +
                              many.substr(1) + "}}";
    EXPECT_EQ(disagreement<Event>(event), "");
  }
}

// Derived _event_ids hash the tree's canonical JSON: pinned, so that a file imported again after
// an upgrade never records its events twice.
TEST(NdjsonLine, DerivedEventIdsAreTheTreesIds) {
  Record record;
  record.text =
      "{\"_user_id\":\"U1\",\"_event_type\":\"buy\",\"_event_parameters\":"
      "{\"amount\":49.9,\"n\":2}}";
  read_json_line(record);
  ASSERT_TRUE(record.has_body);
  FieldErrors errors;
  const std::optional<Event> event = build_item<Event>(record.body, errors);
  ASSERT_TRUE(event) << json(errors).dump();
  EXPECT_EQ(event->event_id(), derived_event_id(json::parse(record.text)));
}

}  // namespace
}  // namespace instasent::cli
