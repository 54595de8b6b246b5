// SPDX-License-Identifier: Apache-2.0
// JSON text helpers shared by the builders: UTF-8 validation and string escaping.
#pragma once

#include <string>
#include <string_view>

namespace instasent::detail {

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text) noexcept;

/// How many bytes from the start of `text` are ASCII that a JSON string holds as it is: no control
/// character, `"` or `\`. When that is all of it, the text is valid UTF-8 and needs no escape.
std::size_t plain_ascii_length(std::string_view text) noexcept;

/// Appends `text` (valid UTF-8) as a quoted JSON string. Escapes `"`, `\` and control
/// characters the way nlohmann::json's dump() does; other characters are kept as they are.
void append_json_string(std::string& out, std::string_view text);

/// Text from elsewhere (a field name, a server's message or request id) made safe to print on a
/// terminal or write to a log: control characters (C0, DEL and C1), line and paragraph separators
/// and bidirectional overrides become visible escapes (`\x1B`, `\u202E`), as does every byte that
/// is not valid UTF-8; the rest is kept. At most `max_bytes` bytes of it are kept, then "...".
std::string printable_name(std::string_view name, std::size_t max_bytes = 64);

/// True when the JSON text nests arrays and objects more than `limit` levels deep (strings are
/// skipped; the text need not be valid JSON). Checked before parsing, so that no parser, copy or
/// dump of the tree ever recurses deeper than the limit.
bool json_nested_deeper_than(std::string_view text, std::size_t limit) noexcept;

}  // namespace instasent::detail
