// SPDX-License-Identifier: Apache-2.0
// The rules every id the SDK sends must follow (see limits.hpp), in one place.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace instasent::detail {

/// Why `id` cannot be sent as an id (empty, not UTF-8, longer than kMaxIdBytes), or nullopt.
std::optional<const char*> id_problem(std::string_view id) noexcept;

/// Why `id` cannot be a path segment: an id problem, or "." and "..", which HTTP stacks resolve
/// as "this" and "the parent" directory, so that the request would reach another resource.
std::optional<const char*> path_segment_problem(std::string_view id) noexcept;

/// Throw InvalidInputError naming `field` when the id breaks its rule.
void check_id(std::string_view id, const char* field);
void check_path_segment(std::string_view id, const char* field);

/// A random UUID (version 4): the `_event_id` of an event added to the Ingestor without one.
std::string random_event_id();

}  // namespace instasent::detail
