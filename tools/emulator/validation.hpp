// SPDX-License-Identifier: Apache-2.0
// The Ingest API's rules for request bodies and items, as the emulator enforces them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_body.hpp"

namespace instasent::emulator {

// The JSON reader of the batch bodies, shared with the CLI (tools/common).
using tools::Body;
using tools::BodyValue;
using tools::JsonKind;

/// Field name -> messages, as in the API's per-item errors ({"_email": ["Invalid format"]}).
using FieldErrors = std::map<std::string, std::vector<std::string>>;

/// The most items one batch may carry.
inline constexpr std::size_t kMaxBatchItems = 100;

/// Why a batch body (value 0 of `body`) is refused as a whole (400 {"message": ...}), or nullopt
/// when it is an array of 1 to 100 objects.
std::optional<std::string> check_batch(const Body& body);

/// The reserved (`_`-prefixed) attribute names a contact may carry: the `uid`s of the attribute
/// specs that start with '_'.
std::set<std::string> reserved_attribute_names(const nlohmann::json& attribute_specs);

/// Per-item rules for a contact (value `contact` of `body`): `_user_id` a non-empty string;
/// `_email` an address; `_phone_mobile` '+' and 8 to 15 digits; no unknown reserved key; values
/// string, number, bool, null or an array of those. Empty when the contact is valid.
FieldErrors validate_contact(const Body& body, std::uint32_t contact,
                             const std::set<std::string>& reserved);

/// Per-item rules for an event (value `event` of `body`): `_user_id`, `_event_id`, `_event_type`
/// non-empty strings; `_event_date` ISO 8601 with a time zone; `_event_parameters` an object;
/// `_user_data` a valid contact (errors reported as `_user_data.<field>`) whose `_user_id`, if
/// given, is the event's; no other top-level keys.
FieldErrors validate_event(const Body& body, std::uint32_t event,
                           const std::set<std::string>& reserved);

/// The same rules for a nlohmann::json value, read from its text (dump()) as a request's body.
std::optional<std::string> check_batch(const nlohmann::json& body);
FieldErrors validate_contact(const nlohmann::json& contact, const std::set<std::string>& reserved);
FieldErrors validate_event(const nlohmann::json& event, const std::set<std::string>& reserved);

/// Parses ISO 8601 date-time with a time zone ("2026-11-28T10:00:00.000Z", "...+02:00").
std::optional<std::chrono::system_clock::time_point> parse_iso8601(const std::string& text);

/// True when `when` lies within ±1 hour of `now`: such an event triggers automations.
bool triggers_automations(std::chrono::system_clock::time_point when,
                          std::chrono::system_clock::time_point now);

}  // namespace instasent::emulator
