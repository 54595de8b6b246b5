// SPDX-License-Identifier: Apache-2.0
#include "members.hpp"

#include "instasent/limits.hpp"

namespace instasent::detail {

std::size_t end_of_value(std::string_view text, std::size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return pos + 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        ++depth;
        break;
      case ']':
      case '}':
        if (--depth == 0) return pos + 1;
        break;
      case ',':
        if (depth == 0) return pos;  // end of a number or literal
        break;
      default:
        break;
    }
  }
  return text.size();
}

std::size_t find_member_value(std::string_view members, std::string_view key_fragment) {
  // A quick search first: most keys are new. A hit may lie inside a nested object, so confirm it
  // by walking the top-level members.
  if (members.find(key_fragment) == std::string_view::npos) return std::string_view::npos;
  std::size_t pos = 0;
  while (pos < members.size()) {
    // members[pos] is the ',' that starts a member; its key string follows.
    const std::size_t key_end = end_of_value(members, pos + 1);
    const std::size_t value_start = key_end + 1;  // after ':'
    if (members.compare(pos, value_start - pos, key_fragment) == 0) return value_start;
    pos = end_of_value(members, value_start);
  }
  return std::string_view::npos;
}

const char* describe(Value::Problem problem) noexcept {
  switch (problem) {
    case Value::Problem::none:
      return "is valid";
    case Value::Problem::invalid_utf8:
      return "is not valid UTF-8";
    case Value::Problem::not_finite:
      return "is not a finite number (NaN or infinity)";
    case Value::Problem::too_deep:
      static_assert(kMaxValueDepth == 16, "the message names the limit");
      return "nests arrays and objects deeper than 16 levels";
  }
  return "is invalid";
}

}  // namespace instasent::detail
