// SPDX-License-Identifier: Apache-2.0
// The command-line tool's NDJSON item builder: any JSON line becomes a contact and an event, or an
// ItemError naming the field; nothing else may escape. The one-pass way (read_json_line, then
// build_item from the Body) must give what the tree's way gives: the same item JSON or the same
// errors.
#include <string>

#include "fuzz_support.hpp"
#include "items.hpp"
#include "json_text.hpp"
#include "records.hpp"

using namespace instasent::cli;
using instasent::fuzz::require;

namespace {

// The item's JSON, or its errors, built either way from a line both read.
template <typename Item>
std::string built(const Record& record) {
  instasent::FieldErrors errors;
  const std::optional<Item> item = record.has_body ? build_item<Item>(record.body, errors)
                                                   : build_item<Item>(record.object, errors);
  if (item) return item->to_json();
  return nlohmann::json(errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = instasent::fuzz::text_of(data, size);
  {
    Record tree;
    Record one_pass;
    tree.text = one_pass.text = std::string(text);
    read_json_object(tree);
    read_json_line(one_pass);
    require(tree.problem == one_pass.problem, "both ways find the same problem");
    if (tree.problem.empty()) {
      require(built<instasent::Contact>(tree) == built<instasent::Contact>(one_pass),
              "both ways build the same contact");
      require(built<instasent::Event>(tree) == built<instasent::Event>(one_pass),
              "both ways build the same event");
    }
  }
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
