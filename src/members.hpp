// SPDX-License-Identifier: Apache-2.0
// The JSON members a builder has set, kept as ready-to-send text: `,"key":value` per member, in
// the order first set. Serializing a builder is then a copy of this text; a contact keeps its whole
// object but the closing brace, so that the Ingestor takes it without a copy.
#pragma once

#include <cstdint>
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

/// A bit of 64 for `key`, by its hash (FNV-1a): `keys`, the bits of every key set, tells a key that
/// was never set without a search.
inline std::uint64_t key_bit(std::string_view key) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : key) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return std::uint64_t{1} << (hash >> 58);
}

/// How a member's key is written: escaped as any text, or as it is (a name of this SDK's, which
/// needs no escape).
enum class KeyText { any, plain };

/// Sets member `key` (valid UTF-8) to the JSON text that `write_value(std::string&)` appends: at
/// the end when new, in place when the key is already there. The members are `text` from
/// `members_at` on (what comes before is not searched). `keys` holds a bit per key set in the
/// members (key_bit); a key whose bit is clear is new, with no search.
template <typename WriteValue>
void set_member(std::string& text, std::size_t members_at, std::uint64_t& keys,
                std::string_view key, KeyText key_text, WriteValue write_value) {
  constexpr std::size_t kTypicalSize = 128;  // a few members: grow once, not four times
  if (text.capacity() < kTypicalSize) text.reserve(kTypicalSize);
  const std::size_t old_size = text.size();
  text.push_back(',');
  if (key_text == KeyText::plain) {
    text.push_back('"');
    text.append(key);
    text.push_back('"');
  } else {
    append_json_string(text, key);
  }
  text.push_back(':');
  const std::uint64_t bit = key_bit(key);
  const bool maybe_set = (keys & bit) != 0;
  keys |= bit;
  const std::string_view fragment(text.data() + old_size, text.size() - old_size);
  std::size_t existing = std::string::npos;
  if (maybe_set) {
    existing = find_member_value(std::string_view(text.data() + members_at, old_size - members_at),
                                 fragment);
  }
  if (existing == std::string::npos) {
    write_value(text);
    return;
  }
  existing += members_at;
  text.resize(old_size);
  std::string value;
  write_value(value);
  text.replace(existing, end_of_value(text, existing) - existing, value);
}

}  // namespace instasent::detail
