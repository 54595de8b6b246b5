// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace instasent {

/// `GET /stream`: who the token belongs to. Each part is kept as the server's JSON object.
struct StreamInfo {
  nlohmann::json organization;  ///< The answer's `organization` (null when absent).
  nlohmann::json project;       ///< The answer's `project` (null when absent).
  nlohmann::json datasource;    ///< The answer's `datasource` (null when absent).
  nlohmann::json stream;        ///< The answer's `stream` (null when absent).
  nlohmann::json token;  ///< Metadata about the token (null when absent); not the token itself.
  nlohmann::json raw;    ///< The whole body.
};

/// `GET /stream/contacts/{userId}`.
struct ContactRecord {
  std::string user_id;  ///< The user id asked for.
  /// The stored attributes (`contact.contactData`), reserved and custom.
  nlohmann::json attributes;
  nlohmann::json raw;  ///< The whole body.
};

/// `DELETE /stream/contacts/{userId}`.
struct DeleteResult {
  int http_status = 0;     ///< The answer's status, a 2xx (any other status throws).
  std::string request_id;  ///< The answer's `X-Request-Id`; empty when there was none.
  nlohmann::json body;     ///< Null when the answer had no (JSON) body.
};

/// The latest `X-RateLimit-*` values seen on any answer.
struct RateLimit {
  std::optional<long> limit;      ///< `X-RateLimit-Limit`; nullopt until an answer had it.
  std::optional<long> remaining;  ///< `X-RateLimit-Remaining`; nullopt until an answer had it.
  /// `X-RateLimit-Reset` (Unix time, in seconds); nullopt until an answer had it.
  std::optional<std::chrono::system_clock::time_point> reset;
};

}  // namespace instasent
