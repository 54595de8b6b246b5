// SPDX-License-Identifier: Apache-2.0
// json_text.hpp: UTF-8 validation, printable names for messages, and the JSON nesting check.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
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

// The reference both word-at-a-time scans must agree with: byte by byte, as the JSON and UTF-8
// specifications put it.
bool reference_utf8(const std::string& text) {
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < text.size()) {
    const unsigned char lead = at(i);
    std::size_t length = lead < 0x80                    ? 1
                         : lead >= 0xC2 && lead <= 0xDF ? 2
                         : lead >= 0xE0 && lead <= 0xEF ? 3
                         : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                        : 0;
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      if ((at(i + k) & 0xC0) != 0x80) return false;
      code = (code << 6) | (at(i + k) & 0x3F);
    }
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < least[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string reference_quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      const char* const named[] = {"\\b", "\\f", "\\n", "\\r", "\\t"};
      const char controls[] = "\b\f\n\r\t";
      const char* found = std::strchr(controls, c);
      if (c != 0 && found != nullptr) {
        out += named[found - controls];
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
        out += escaped;
      }
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// How many bytes from the start of `text` a JSON string holds as they are, one by one.
std::size_t reference_plain_length(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80 || c < 0x20 || c == '"' || c == '\\') break;
    ++i;
  }
  return i;
}

// Every byte value at every position of texts of every length up to three words, after plain
// bytes and before bytes of every kind: the first byte that stops the scan is found exactly,
// whatever follows it (a borrow must not move it), and the tail word sees the last bytes.
TEST(PlainAsciiLength, FindsTheFirstByteToStopAt) {
  for (std::size_t length = 0; length <= 24; ++length) {
    ASSERT_EQ(detail::plain_ascii_length(std::string(length, 'a')), length);
    for (std::size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        for (const char after : {'a', '\0', '"', '\x80', '\x1F', '!'}) {
          std::string text(length, 'a');
          text[at] = static_cast<char>(byte);
          for (std::size_t k = at + 1; k < length; ++k) text[k] = after;
          ASSERT_EQ(detail::plain_ascii_length(text), reference_plain_length(text))
              << "length " << length << ", byte " << byte << " at " << at << ", then "
              << int(static_cast<unsigned char>(after));
        }
      }
    }
  }
}

// Strings of every length around the 8-byte words, from bytes at every boundary the scans test
// (below and at a space, the quote, the backslash, DEL, the high bit, UTF-8 leads and
// continuations), at every position.
TEST(Utf8, WordAtATimeScansAgreeWithByteByByte) {
  const unsigned char bytes[] = {'a',  ' ',  0x1F, 0x00, '"',  '\\', 0x7F, 0x80, 0xBF, 0xC3, 0xA9,
                                 0xE2, 0x82, 0xAC, 0xED, 0xA0, 0xF0, 0x9F, 0x98, 0xF4, 0x90, 0xFF,
                                 '\n', '!',  '#',  '[',  ']',  '{',  0x21, 0x5B, 0x5D};
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int round = 0; round < 20'000; ++round) {
    const std::size_t length = next() % 41;
    std::string text(length, 'x');
    // Mostly plain text, with a few bytes from the list, so that words of each kind occur.
    for (char& c : text) {
      if (next() % 4 == 0) c = static_cast<char>(bytes[next() % sizeof bytes]);
    }
    ASSERT_EQ(detail::is_valid_utf8(text), reference_utf8(text)) << testing::PrintToString(text);
    ASSERT_EQ(detail::plain_ascii_length(text), reference_plain_length(text))
        << testing::PrintToString(text);
    std::string quoted = "prefix";
    detail::append_json_string(quoted, text);
    ASSERT_EQ(quoted, "prefix" + reference_quoted(text)) << testing::PrintToString(text);
  }
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
