// SPDX-License-Identifier: Apache-2.0
// The JSON members a builder has set, kept as ready-to-send text: `,"key":value` per member, in
// the order first set. Serializing a builder is then a copy of this text.
#pragma once

#include <string>
#include <string_view>

#include "instasent/value.hpp"
#include "json_text.hpp"

namespace instasent::detail {

/// What is wrong with a value, as the end of a sentence that names it ("is not valid UTF-8").
const char* describe(Value::Problem problem) noexcept;

/// Where the value of top-level member `key_fragment` (`,"key":`) starts in `members`, or npos.
std::size_t find_member_value(std::string_view members, std::string_view key_fragment);

/// Where the JSON value that starts at `pos` in `text` (written by this SDK) ends.
std::size_t end_of_value(std::string_view text, std::size_t pos);

/// Sets member `key` (valid UTF-8) to the JSON text that `write_value(std::string&)` appends: at
/// the end when new, in place when the key is already there.
template <typename WriteValue>
void set_member(std::string& members, std::string_view key, WriteValue write_value) {
  constexpr std::size_t kTypicalSize = 128;  // a few members: grow once, not four times
  if (members.capacity() < kTypicalSize) members.reserve(kTypicalSize);
  const std::size_t old_size = members.size();
  members.push_back(',');
  append_json_string(members, key);
  members.push_back(':');
  const std::string_view fragment(members.data() + old_size, members.size() - old_size);
  const std::size_t existing =
      find_member_value(std::string_view(members.data(), old_size), fragment);
  if (existing == std::string::npos) {
    write_value(members);
    return;
  }
  members.resize(old_size);
  std::string value;
  write_value(value);
  members.replace(existing, end_of_value(members, existing) - existing, value);
}

}  // namespace instasent::detail
