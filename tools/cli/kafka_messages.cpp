// SPDX-License-Identifier: Apache-2.0
#include "kafka_messages.hpp"

#include <nlohmann/json.hpp>

#include "records.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

std::string kafka_event_id(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  std::string id = "kafka-";
  id += topic;
  id += "-" + std::to_string(partition) + "-" + std::to_string(offset);
  return id;
}

MappedMessage map_message(ItemKind kind, const KafkaMessage& message, std::size_t max_value_bytes) {
  MappedMessage mapped;
  mapped.item_json = "null";
  if (!message.value) {
    mapped.errors[""].push_back("has no value (a tombstone): there is no item to send");
    return mapped;
  }
  if (message.value->size() > max_value_bytes) {
    // Not copied into the dead letter: the source topic still holds it at its offset.
    mapped.errors[""].push_back("is longer than " + std::to_string(max_value_bytes) + " bytes");
    return mapped;
  }
  Record record;
  record.text = std::string(*message.value);
  read_json_object(record);
  if (!record.problem.empty()) {
    mapped.item_json = dump_json(json(record.text));
    mapped.errors[""].push_back(record.problem);
    return mapped;
  }
  json& object = record.object;
  if (message.key && !message.key->empty()) {
    if (!is_valid_utf8(*message.key)) {
      mapped.item_json = dump_json(object);
      mapped.errors["_user_id"].push_back("is taken from the message key, which is not UTF-8");
      return mapped;
    }
    const auto user_id = object.find("_user_id");
    if (user_id == object.end()) {
      object["_user_id"] = std::string(*message.key);
    } else if (!user_id->is_string() || user_id->get_ref<const std::string&>() != *message.key) {
      mapped.item_json = dump_json(object);
      mapped.errors["_user_id"].push_back("does not match the message key");
      return mapped;
    }
  }
  if (kind == ItemKind::events && !object.contains("_event_id")) {
    object["_event_id"] = kafka_event_id(message.topic, message.partition, message.offset);
  }
  mapped.item_json = dump_json(object);
  if (kind == ItemKind::contacts) {
    if (auto contact = build_item<Contact>(object, mapped.errors))
      mapped.item = std::move(*contact);
  } else {
    if (auto event = build_item<Event>(object, mapped.errors)) mapped.item = std::move(*event);
  }
  return mapped;
}

}  // namespace instasent::cli
