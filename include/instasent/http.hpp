// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "instasent/export.hpp"

namespace instasent {

/// HTTP header fields, looked up case-insensitively, in the order received.
class INSTASENT_EXPORT Headers {
 public:
  /// Appends a field, even when one of that name is already there.
  void add(std::string name, std::string value);
  /// The first value of `name` (any case), or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  /// Replaces the value of the first field named `name` (any case), or adds the field.
  void set(std::string_view name, std::string value);
  /// Every field as (name, value), in the order added.
  const std::vector<std::pair<std::string, std::string>>& entries() const noexcept {
    return entries_;
  }
  /// True when there is no field.
  bool empty() const noexcept { return entries_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

/// A request the SDK asks a `Transport` to send.
struct HttpRequest {
  std::string method;  ///< "GET", "POST", "DELETE"
  std::string url;     ///< Absolute, already percent-encoded.
  Headers headers;     ///< Includes Authorization: never log these.
  std::string body;    ///< The JSON body; empty when there is none.
};

/// The answer a `Transport` returns, whatever its status.
struct HttpResponse {
  int status = 0;    ///< The HTTP status code.
  Headers headers;   ///< The answer's header fields.
  std::string body;  ///< Decoded (gzip already undone).
};

}  // namespace instasent
