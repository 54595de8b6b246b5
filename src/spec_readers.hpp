// SPDX-License-Identifier: Apache-2.0
// Reading the spec endpoints' answers into typed specs, leniently: a missing or oddly typed field
// gets its default, and the spec's JSON stays in `raw`.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/specs.hpp"
#include "outcome.hpp"

namespace instasent::detail {

AttributeSpec read_attribute_spec(const nlohmann::json& j);
EventSpec read_event_spec(const nlohmann::json& j);
EventParameterSpec read_event_parameter_spec(const nlohmann::json& j);

/// The `specs` array of `answer`, each object read by `read`; UnreadableResponseError when the
/// answer has no such array.
template <typename Spec, typename Read>
std::vector<Spec> read_specs(const char* operation, const JsonAnswer& answer, Read read) {
  const auto specs = answer.body.find("specs");
  if (specs == answer.body.end() || !specs->is_array()) {
    raise_unreadable(operation, answer.response, "answer has no \"specs\" array");
  }
  std::vector<Spec> out;
  out.reserve(specs->size());
  for (const auto& spec : *specs) {
    if (spec.is_object()) out.push_back(read(spec));
  }
  return out;
}

}  // namespace instasent::detail
