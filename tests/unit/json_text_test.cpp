// SPDX-License-Identifier: Apache-2.0
// json_text.hpp: UTF-8 validation, printable names for messages, and the JSON nesting check.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "json_text.hpp"

namespace instasent {
namespace {

TEST(Utf8, ValidatesStrictly) {
  EXPECT_TRUE(detail::is_valid_utf8(""));
  EXPECT_TRUE(detail::is_valid_utf8("plain"));
  EXPECT_TRUE(detail::is_valid_utf8("\xC3\xB1 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xC3"));
  EXPECT_FALSE(detail::is_valid_utf8("\xC0\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(detail::is_valid_utf8("\x80"));
}

TEST(PrintableName, EscapesUnsafeTextAndCuts) {
  EXPECT_EQ(detail::printable_name("plan"), "plan");
  EXPECT_EQ(detail::printable_name("a\nb\xC3"), "a\\x0Ab\\xC3");
  EXPECT_EQ(detail::printable_name(std::string(100, 'x')), std::string(64, 'x') + "...");
  EXPECT_EQ(detail::printable_name("\xC3\xB1"
                                   "and"
                                   "\xC3\xBA"),
            "\xC3\xB1"
            "and"
            "\xC3\xBA");
}

// What a hostile server could put in a request id or message to take over a terminal or forge a
// log line: each becomes a visible escape.
TEST(PrintableName, EscapesEveryTerminalControl) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x1B[2J", "\\x1B[2J"},                         // ESC: clear the screen
      {"\x1B]0;title\x07", "\\x1B]0;title\\x07"},      // OSC: set the title, BEL
      {"line\r\nFAKE: ok", "line\\x0D\\x0AFAKE: ok"},  // a forged log line
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"del\x7F", "del\\x7F"},
      {"\xC2\x9B"
       "31m",
       "\\u009B31m"},  // C1 CSI
      {"\xE2\x80\xAE"
       "txt.exe",
       "\\u202Etxt.exe"},                   // right-to-left override
      {"\xE2\x81\xA6x", "\\u2066x"},        // left-to-right isolate
      {"\xE2\x80\xA8", "\\u2028"},          // line separator
      {"\xFF\xFE", "\\xFF\\xFE"},           // not UTF-8
      {"\xED\xA0\x80", "\\xED\\xA0\\x80"},  // a surrogate
  };
  for (const auto& [raw, shown] : cases) EXPECT_EQ(detail::printable_name(raw), shown) << shown;
}

TEST(PrintableName, NeverCutsAnEscapeInTwo) {
  // 62 bytes, then an escape of 4 that does not fit in 64: cut before it.
  EXPECT_EQ(detail::printable_name(std::string(62, 'x') + "\n"), std::string(62, 'x') + "...");
  EXPECT_EQ(detail::printable_name(std::string(63, 'x') + "\xC3\xB1"),
            std::string(63, 'x') + "...");
}

TEST(JsonNesting, CountsBracketsOutsideStrings) {
  EXPECT_FALSE(detail::json_nested_deeper_than("", 0));
  EXPECT_FALSE(detail::json_nested_deeper_than("[[1]]", 2));
  EXPECT_TRUE(detail::json_nested_deeper_than("[[1]]", 1));
  EXPECT_FALSE(detail::json_nested_deeper_than(R"(["[[[[", "\"[[["])", 1));
  EXPECT_TRUE(detail::json_nested_deeper_than(std::string(200000, '['), 64));
  EXPECT_FALSE(detail::json_nested_deeper_than(std::string(64, '[') + std::string(64, ']'), 64));
  EXPECT_FALSE(detail::json_nested_deeper_than("]]]]][", 1));  // stray closers do not go negative
}

}  // namespace
}  // namespace instasent
