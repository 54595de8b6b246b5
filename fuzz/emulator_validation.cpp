// SPDX-License-Identifier: Apache-2.0
// The emulator's request reading and validation: a batch body read by its body reader, which must
// accept exactly what nlohmann::json::parse accepts and read the same values, then each item as a
// contact and as an event, and the dates in them. Whatever comes in gets an answer, never a crash.
#include <nlohmann/json.hpp>

#include <string>

#include "fuzz_support.hpp"
#include "json_body.hpp"
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
  constexpr std::size_t kMaxNesting = 32;  // as the server reads bodies
  emulator::Body body;
  const bool read = body.parse(text, kMaxNesting);
  // The server refuses a body nested too deeply before it looks further.
  const bool deep = detail::json_nested_deeper_than(text, kMaxNesting);
  const nlohmann::json expected = nlohmann::json::parse(text, nullptr, false);
  if (!deep) {
    require(read == !expected.is_discarded(), "the body reader accepts what nlohmann accepts");
  } else if (read) {
    // Only what follows a NUL, which ends the text for both readers, can be nested deeper.
    require(text.find('\0') != std::string_view::npos, "a body read is nested within the limit");
  }
  if (!read) return 0;
  require(body.to_json(0).dump() == expected.dump(), "the body reader reads what nlohmann reads");
  if (deep || emulator::check_batch(body)) return 0;
  for (const std::uint32_t item : body.children(0)) {
    const auto contact = emulator::validate_contact(body, item, reserved);
    const auto event = emulator::validate_event(body, item, reserved);
    for (const auto& errors : {contact, event}) {
      for (const auto& [field, messages] : errors) {
        require(!messages.empty(), "an error has a message");
      }
    }
  }
  return 0;
}
