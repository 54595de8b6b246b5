// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

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

/// `GET /stream/specs/attributes`, one entry.
struct AttributeSpec {
  std::string uid;
  std::string display_label;
  std::string description;
  std::string data_type;  ///< "string", "text", "date", "bool", "payload", ...
  int multivalue = 0;     ///< Greater than 1: the attribute takes an array of up to this many.
  bool read_only = false;
  bool required_in_webhook = false;
  bool important = false;
  bool visible = false;
  bool custom = false;
  nlohmann::json raw;
};

/// `GET /stream/specs/events`, one entry. `uid` is what goes in `_event_type`.
struct EventSpec {
  std::string uid;
  std::string name;
  std::string description;
  std::string category;
  bool attribution = false;
  bool automation = false;
  std::string icon;
  std::string emoji;
  bool important = false;
  nlohmann::json raw;
};

/// `GET /stream/specs/event-parameters/{eventType}`, one entry.
struct EventParameterSpec {
  std::string parameter;
  std::string title;
  std::string description;
  std::string icon;
  std::string data_type;
  std::string visual_type;
  std::optional<int> max_length;
  bool required = false;
  int multi_value = 0;
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
