// SPDX-License-Identifier: Apache-2.0
// What the stream's specification endpoints describe: its attributes, its event types and their
// parameters.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace instasent {

/// `GET /stream/specs/attributes`, one entry.
///
/// Each field is read from the entry's member of the same name in camelCase (`display_label` from
/// `displayLabel`). A member that is absent, or of a type that does not fit, leaves the field
/// empty, false or 0; a flag may be a JSON bool, a number (non-zero: true) or the text "1" or
/// "true". `EventSpec` and `EventParameterSpec` are read the same way.
struct AttributeSpec {
  std::string uid;            ///< `uid`: the attribute's name.
  std::string display_label;  ///< `displayLabel`.
  std::string description;    ///< `description`.
  std::string data_type;      ///< "string", "text", "date", "bool", "payload", ...
  int multivalue = 0;         ///< Greater than 1: the attribute takes an array of up to this many.
  bool read_only = false;     ///< `readOnly`.
  bool required_in_webhook = false;  ///< `requiredInWebhook`.
  bool important = false;            ///< `important`.
  bool visible = false;              ///< `visible`.
  bool custom = false;               ///< `custom`: a custom attribute rather than a reserved one.
  nlohmann::json raw;                ///< The entry as received.
};

/// `GET /stream/specs/events`, one entry. `uid` is what goes in `_event_type`.
struct EventSpec {
  std::string uid;           ///< `uid`: the event type.
  std::string name;          ///< `name`.
  std::string description;   ///< `description`.
  std::string category;      ///< `category`.
  bool attribution = false;  ///< `attribution`.
  bool automation = false;   ///< `automation`.
  std::string icon;          ///< `icon`.
  std::string emoji;         ///< `emoji`.
  bool important = false;    ///< `important`.
  nlohmann::json raw;        ///< The entry as received.
};

/// `GET /stream/specs/event-parameters/{eventType}`, one entry.
struct EventParameterSpec {
  std::string parameter;          ///< `parameter`: the key to pass to `Event::parameter`.
  std::string title;              ///< `title`.
  std::string description;        ///< `description`.
  std::string icon;               ///< `icon`.
  std::string data_type;          ///< `dataType`.
  std::string visual_type;        ///< `visualType`.
  std::optional<int> max_length;  ///< `maxLength`; nullopt when absent or unreadable.
  bool required = false;          ///< `required`.
  int multi_value = 0;            ///< `multiValue`.
  nlohmann::json raw;             ///< The entry as received.
};

}  // namespace instasent
