// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace instasent {

/// `GET /stream`: who the token belongs to. Each part is kept as the server's JSON object.
struct StreamInfo {
  nlohmann::json organization;
  nlohmann::json project;
  nlohmann::json datasource;
  nlohmann::json stream;
  nlohmann::json token;  ///< Metadata about the token (null when absent); not the token itself.
  nlohmann::json raw;    ///< The whole body.
};

/// `GET /stream/contacts/{userId}`.
struct ContactRecord {
  std::string user_id;
  /// The stored attributes (`contact.contactData`), reserved and custom.
  nlohmann::json attributes;
  nlohmann::json raw;
};

/// `DELETE /stream/contacts/{userId}`.
struct DeleteResult {
  int http_status = 0;
  std::string request_id;
  nlohmann::json body;  ///< Null when the answer had no (JSON) body.
};

/// The latest `X-RateLimit-*` values seen on any answer.
struct RateLimit {
  std::optional<long> limit;
  std::optional<long> remaining;
  std::optional<std::chrono::system_clock::time_point> reset;
};

}  // namespace instasent
