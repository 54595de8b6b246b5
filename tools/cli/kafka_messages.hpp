// SPDX-License-Identifier: Apache-2.0
// From a Kafka message to the item it carries, as `consume` maps it: its value read exactly as an
// NDJSON line of an import, with its key as the `_user_id` and, for an event without
// `_event_id`, an id derived from where the message is (docs/kafka.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "instasent/batch_result.hpp"
#include "instasent/contact.hpp"
#include "instasent/event.hpp"
#include "items.hpp"

namespace instasent::cli {

/// Where a message is, and what it holds (no key, or no value, is nullopt).
struct KafkaMessage {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
};

/// A message mapped: its item, or the errors that make it unreadable.
struct MappedMessage {
  std::variant<std::monostate, Contact, Event> item;  ///< monostate when unreadable
  FieldErrors errors;                                 ///< Why it is unreadable.
  /// What a dead letter shows as its `item` (JSON text): the object as sent (with the `_user_id`
  /// taken from the key and the derived `_event_id`), or the value as a JSON string when it is
  /// not an object, or null when there is none.
  std::string item_json;

  bool readable() const noexcept { return item.index() != 0; }
};

/// The `_event_id` of an event without one: `kafka-TOPIC-PARTITION-OFFSET`. The same message
/// always gets the same id, so that reading it again records nothing twice. Topic names hold
/// no more than 249 bytes of [A-Za-z0-9._-], so the id stays far below the SDK's 1,024 bytes.
std::string kafka_event_id(std::string_view topic, std::int32_t partition, std::int64_t offset);

/// Maps `message` to a contact or an event. Never throws for a bad message: a value that is
/// missing (a tombstone), longer than `max_value_bytes`, not a JSON object, a key that is not
/// UTF-8 or does not match the value's `_user_id`, or an object the builders refuse, each gives
/// errors that name the field and never quote the value.
MappedMessage map_message(ItemKind kind, const KafkaMessage& message, std::size_t max_value_bytes);

}  // namespace instasent::cli
