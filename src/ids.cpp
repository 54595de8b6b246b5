// SPDX-License-Identifier: Apache-2.0
#include "ids.hpp"

#include "instasent/error.hpp"
#include "instasent/limits.hpp"
#include "json_text.hpp"

namespace instasent::detail {

std::optional<const char*> id_problem(std::string_view id) noexcept {
  if (id.empty()) return "must not be empty";
  static_assert(kMaxIdBytes == 1024, "the message names the limit");
  if (id.size() > kMaxIdBytes) return "is longer than 1024 bytes";
  if (!is_valid_utf8(id)) return "is not valid UTF-8";
  return std::nullopt;
}

std::optional<const char*> path_segment_problem(std::string_view id) noexcept {
  if (const auto problem = id_problem(id)) return problem;
  if (id == "." || id == "..") return "cannot be \".\" or \"..\" (it would address another path)";
  return std::nullopt;
}

void check_id(std::string_view id, const char* field) {
  if (const auto problem = id_problem(id)) throw InvalidInputError(field, *problem);
}

void check_path_segment(std::string_view id, const char* field) {
  if (const auto problem = path_segment_problem(id)) throw InvalidInputError(field, *problem);
}

}  // namespace instasent::detail
