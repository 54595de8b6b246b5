// SPDX-License-Identifier: Apache-2.0
// JSON text and Value: UTF-8 validation, string escaping (which must read back as the same text),
// printable text for terminals, the nesting check that guards every parse, and values built from
// any string.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "instasent/limits.hpp"
#include "instasent/value.hpp"
#include "json_text.hpp"
#include "outcome.hpp"

using namespace instasent;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  const bool valid = detail::is_valid_utf8(text);

  if (valid) {
    std::string quoted;
    detail::append_json_string(quoted, text);
    const nlohmann::json back = nlohmann::json::parse(quoted, nullptr, false);
    require(back.is_string() && back.get<std::string>() == text, "escaping reads back");
  }

  const std::string shown = detail::printable_name(text, 64);
  require(fuzz::printable(shown) && shown.size() <= 67, "printable text is printable");
  require(detail::is_valid_utf8(shown), "printable text is UTF-8");

  // The nesting check sees what the parser would: a text it passes never nests deeper.
  // What is parsed is never deeper than the limit (measured on the tree, without recursion), so
  // that copying or printing it cannot overflow the stack.
  const nlohmann::json parsed = detail::parse_body(std::string(text));
  std::vector<std::pair<const nlohmann::json*, std::size_t>> stack{{&parsed, 0}};
  while (!stack.empty()) {
    const auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_structured()) continue;
    require(depth < kMaxAnswerNesting, "parsed within the nesting limit");
    for (const auto& child : *node) stack.emplace_back(&child, depth + 1);
  }
  (void)parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  const Value value(text);
  require((value.problem() == Value::Problem::none) == valid, "a string value checks UTF-8");
  if (valid) {
    require(nlohmann::json::parse(value.json()) == nlohmann::json(std::string(text)),
            "a string value is its JSON");
  }
  return 0;
}
