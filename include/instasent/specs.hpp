// SPDX-License-Identifier: Apache-2.0
// What the stream's specification endpoints describe: its attributes, its event types and their
// parameters.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace instasent {

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

}  // namespace instasent
