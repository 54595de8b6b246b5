// SPDX-License-Identifier: Apache-2.0
// The command-line tool's NDJSON item builder: any JSON line becomes a contact and an event, or an
// ItemError naming the field; nothing else may escape.
#include <string>

#include "fuzz_support.hpp"
#include "items.hpp"
#include "json_text.hpp"

using namespace instasent::cli;
using instasent::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = instasent::fuzz::text_of(data, size);
  if (instasent::detail::json_nested_deeper_than(text, 64)) return 0;  // refused before parsing
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return 0;  // an unreadable line, reported as such
  }
  if (!object.is_object()) return 0;
  try {
    const instasent::Contact contact = contact_from_json(object);
    require(!contact.user_id().empty(), "a contact has its id");
    require(nlohmann::json::parse(contact.to_json()).is_object(), "a contact is valid JSON");
  } catch (const ItemError&) {
  }
  try {
    const instasent::Event event = event_from_json(object);
    require(nlohmann::json::parse(event.to_json()).is_object(), "an event is valid JSON");
  } catch (const ItemError&) {
  }
  return 0;
}
