// SPDX-License-Identifier: Apache-2.0
#include "text.hpp"

#include "json_text.hpp"  // the SDK's own UTF-8 checks

namespace instasent::cli {

bool is_valid_utf8(std::string_view text) noexcept { return detail::is_valid_utf8(text); }

std::string printable(std::string_view text, std::size_t max_bytes) {
  return detail::printable_name(text, max_bytes);
}

std::string display_path(std::string_view path) { return printable(path, 1024); }

bool json_nested_deeper_than(std::string_view json_text, std::size_t limit) noexcept {
  return detail::json_nested_deeper_than(json_text, limit);
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string with_thousands(unsigned long long value) {
  std::string digits = std::to_string(value);
  for (auto at = static_cast<long>(digits.size()) - 3; at > 0; at -= 3) {
    digits.insert(static_cast<std::size_t>(at), 1, ',');
  }
  return digits;
}

}  // namespace instasent::cli
