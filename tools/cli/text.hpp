// SPDX-License-Identifier: Apache-2.0
// Small text helpers of the command-line tool.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace instasent::cli {

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no cut sequence.
bool is_valid_utf8(std::string_view text) noexcept;

/// `text` made safe for a message on a terminal: control characters, bidirectional overrides and
/// invalid UTF-8 become visible escapes, and it is cut after `max_bytes` (with "...").
std::string printable(std::string_view text, std::size_t max_bytes = 80);

/// A path as a message shows it: through `printable`, with room for a long one. Paths come from
/// the command line and from checkpoint files, and may hold anything but a NUL byte.
std::string display_path(std::string_view path);

/// Arrays and objects in JSON text nest deeper than this are refused before they are parsed:
/// the JSON library walks values recursively (to print them, for one).
inline constexpr std::size_t kMaxJsonNesting = 64;

/// Whether arrays and objects in `json_text` nest deeper than `limit` (strings are skipped; the
/// text need not be valid JSON).
bool json_nested_deeper_than(std::string_view json_text, std::size_t limit) noexcept;

/// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view text) noexcept;

/// "1234567" -> "1,234,567".
std::string with_thousands(unsigned long long value);

}  // namespace instasent::cli
