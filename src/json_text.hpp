// SPDX-License-Identifier: Apache-2.0
// JSON text helpers shared by the builders: UTF-8 validation and string escaping.
#pragma once

#include <string>
#include <string_view>

namespace instasent::detail {

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text) noexcept;

/// Appends `text` (valid UTF-8) as a quoted JSON string. Escapes `"`, `\` and control
/// characters the way nlohmann::json's dump() does; other characters are kept as they are.
void append_json_string(std::string& out, std::string_view text);

/// A name that is safe to put in an error message: invalid UTF-8 and control characters are
/// replaced by '?', and the text is cut after `max_bytes` bytes.
std::string printable_name(std::string_view name, std::size_t max_bytes = 64);

}  // namespace instasent::detail
