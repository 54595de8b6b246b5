// SPDX-License-Identifier: Apache-2.0
#include "instasent/http.hpp"

#include "strings.hpp"

namespace instasent {

void Headers::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [key, value] : entries_) {
    if (detail::iequals(key, name)) return value;
  }
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string value) {
  for (auto& [key, current] : entries_) {
    if (detail::iequals(key, name)) {
      current = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::move(value));
}

}  // namespace instasent
