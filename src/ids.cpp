// SPDX-License-Identifier: Apache-2.0
#include "ids.hpp"

#include <cstdint>
#include <random>

#include "instasent/error.hpp"
#include "instasent/limits.hpp"
#include "json_text.hpp"
#include "strings.hpp"

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

std::string random_event_id() {
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device();
  }());
  const std::uint64_t high = (random() & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  const std::uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return format_uuid(high, low);
}

}  // namespace instasent::detail
