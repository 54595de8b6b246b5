// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "instasent/contact.hpp"
#include "instasent/export.hpp"
#include "instasent/value.hpp"

namespace instasent {

/// How far an event's date may lie from the moment it is received for it to trigger automations.
inline constexpr std::chrono::hours kAutomationWindow{1};

/// True when `event_date` lies within ±1 hour of `now`, the window in which an event triggers
/// automations (outside it the event is stored but fires none).
INSTASENT_EXPORT bool within_automation_window(std::chrono::system_clock::time_point event_date,
                                               std::chrono::system_clock::time_point now);

/// Formats a time point as ISO 8601 UTC with milliseconds, e.g. "2026-11-28T10:00:00.000Z".
INSTASENT_EXPORT std::string format_iso8601(std::chrono::system_clock::time_point t);

/// An event to record: who (`_user_id`), a stable id that makes retries idempotent
/// (`_event_id`), what (`_event_type`, a uid from the event specs), and optionally when, parameters
/// and a contact to upsert first (`_user_data`). Setters validate at once, naming the field.
///
///     instasent::Event("USER-123", "ORDER-987", "purchase").parameter("amount", 49.90);
class INSTASENT_EXPORT Event {
 public:
  /// An event with its id. Throws `InvalidInputError` naming the field ("_user_id", "_event_id",
  /// "_event_type") when one is empty, longer than `kMaxIdBytes` or not valid UTF-8.
  Event(std::string user_id, std::string event_id, std::string event_type);
  /// An event without an `_event_id` yet: the Ingestor generates one when it accepts the event
  /// (and keeps it across retries); `Client::record_events` refuses it until `event_id()` is set.
  /// Throws as the constructor above, for `user_id` and `event_type`.
  Event(std::string user_id, std::string event_type);

  /// Sets the stable id that makes retries idempotent; checked as in the constructor.
  Event& event_id(std::string id);

  /// When it happened. Left unset, the server uses the time it receives the event.
  Event& date(std::chrono::system_clock::time_point when);
  /// One entry of `_event_parameters`; any JSON value, including objects, nested at most
  /// `kMaxValueDepth` levels.
  Event& parameter(std::string_view key, const Value& value);
  /// A contact upserted before the event is processed (if that fails, the event is skipped).
  /// Its `user_id()` must equal the event's. It is sent in the documented shape: its attributes
  /// without `_user_id`, since the event's `_user_id` names the contact. Another user id throws
  /// `InvalidInputError` (field "_user_data._user_id").
  Event& user_data(Contact contact);

  /// `_user_id`: the contact the event belongs to.
  const std::string& user_id() const noexcept { return user_id_; }
  /// `_event_id`; empty until set when the event was made without one.
  const std::string& event_id() const noexcept { return event_id_; }
  /// `_event_type`.
  const std::string& event_type() const noexcept { return event_type_; }
  /// The date set with `date(when)`, if any.
  const std::optional<std::chrono::system_clock::time_point>& date() const noexcept {
    return date_;
  }

  /// Whether this event would trigger automations if received at `now`: true when it has no
  /// date (the server uses "now") or its date is within ±1 hour of `now`.
  bool within_automation_window(
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  /// The JSON object this event serializes to.
  std::string to_json() const;
  /// Appends `to_json()` to `out` without a temporary.
  void append_json(std::string& out) const;

 private:
  std::string user_id_;
  std::string event_id_;
  std::string event_type_;
  std::optional<std::chrono::system_clock::time_point> date_;
  std::string parameters_;  // `,"key":value` per parameter set, ready to send
  std::uint64_t keys_ = 0;  // a bit per parameter set, by its key's hash (see Contact)
  std::optional<Contact> user_data_;
};

}  // namespace instasent
