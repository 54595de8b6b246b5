// SPDX-License-Identifier: Apache-2.0
// From the API's JSON object for one contact or event to the SDK's checked builders.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "instasent/batch_result.hpp"
#include "instasent/contact.hpp"
#include "instasent/event.hpp"
#include "instasent/value.hpp"
#include "json_body.hpp"

namespace instasent::cli {

enum class ItemKind { contacts, events };

const char* to_string(ItemKind kind) noexcept;

/// One item cannot be sent as it is: `field()` names the field (a JSON key such as "_email",
/// "plan" or "_event_parameters.amount", or "" for the whole item), `problem()` says what is
/// wrong without quoting the value.
class ItemError : public std::runtime_error {
 public:
  ItemError(std::string field, std::string problem);
  const std::string& field() const noexcept { return field_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string field_;
  std::string problem_;
};

/// A contact from its JSON object: `_user_id` (a non-empty string), reserved attributes (keys
/// starting with `_`) and custom ones. A JSON bool on a reserved attribute is sent as "1"/"0", the
/// form Instasent's connectors use. Throws `ItemError`.
Contact contact_from_json(const nlohmann::json& object);

/// An event from its JSON object: `_user_id`, `_event_type`, optional `_event_id`,
/// `_event_date` (ISO 8601 with a time zone), `_event_parameters` (an object) and `_user_data`
/// (a contact object; its `_user_id` defaults to the event's). Any other key is an error. An
/// event without `_event_id` gets one derived from its content (see `derived_event_id`), so
/// that sending the same line again never records it twice. Throws `ItemError`.
Event event_from_json(const nlohmann::json& object);

/// `Contact` or `Event` from its JSON object (`contact_from_json`, `event_from_json`); nullopt
/// when it cannot be built, with why in `errors`: an `ItemError` or the SDK's
/// `InvalidInputError` as its field and problem, anything else as a problem of the whole item.
/// A bad object never throws.
template <typename Item>
std::optional<Item> build_item(const nlohmann::json& object, FieldErrors& errors);

/// As `build_item` above, from the object at index 0 of `body` (a line read by the tools' one-pass
/// reader), without a nlohmann::json tree: the same item (the same JSON, members in the same
/// order, the same derived `_event_id`) or the same errors, for every object.
template <typename Item>
std::optional<Item> build_item(const tools::Body& body, FieldErrors& errors);

/// A stable `_event_id` for an event object that has none: a UUID-shaped 128-bit hash of the
/// object's canonical JSON. Identical objects get identical ids.
std::string derived_event_id(const nlohmann::json& object);

/// The SDK value for a JSON value (objects and arrays included).
Value value_from_json(const nlohmann::json& value);

/// Parses an ISO 8601 date-time with a time zone: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by
/// `Z` or an offset (`+02:00`, `+0200`, `+02`); a space may replace the `T`. Fractions beyond
/// milliseconds are cut. Nullopt when the text is not such a date-time.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

/// JSON text of `value` that never throws: invalid UTF-8 is replaced by U+FFFD.
std::string dump_json(const nlohmann::json& value);

}  // namespace instasent::cli
