// SPDX-License-Identifier: Apache-2.0
// The emulator's request validation: a batch body and each of its items, as contacts and as
// events, and the dates in them. Whatever comes in gets an answer, never a crash.
#include <nlohmann/json.hpp>

#include <string>

#include "fuzz_support.hpp"
#include "json_text.hpp"
#include "validation.hpp"

using namespace instasent;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  static const std::set<std::string> reserved = emulator::reserved_attribute_names(
      nlohmann::json::parse(R"([{"uid":"_user_id"},{"uid":"_email"},{"uid":"_first_name"},
                                {"uid":"_phone_mobile"}])"));
  emulator::parse_iso8601(std::string(text));
  if (detail::json_nested_deeper_than(text, 32)) return 0;  // the server refuses these first
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  const auto problem = emulator::check_batch(body);
  if (problem) return 0;
  for (const auto& item : body) {
    const auto contact = emulator::validate_contact(item, reserved);
    const auto event = emulator::validate_event(item, reserved);
    for (const auto& errors : {contact, event}) {
      for (const auto& [field, messages] : errors) {
        require(!messages.empty(), "an error has a message");
      }
    }
  }
  return 0;
}
