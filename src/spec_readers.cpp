// SPDX-License-Identifier: Apache-2.0
#include "spec_readers.hpp"

#include "strings.hpp"

namespace instasent::detail {

using nlohmann::json;

namespace {

std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string()) return *it == "1" || *it == "true";
  return false;
}

std::optional<int> int_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int>();
  if (it->is_number()) return static_cast<int>(it->get<double>());
  if (it->is_boolean()) return it->get<bool>() ? 1 : 0;
  if (it->is_string()) {
    if (const auto n = detail::parse_non_negative(it->get_ref<const std::string&>())) {
      return static_cast<int>(*n);
    }
  }
  return std::nullopt;
}

}  // namespace

AttributeSpec read_attribute_spec(const json& j) {
  AttributeSpec spec;
  spec.uid = string_field(j, "uid");
  spec.display_label = string_field(j, "displayLabel");
  spec.description = string_field(j, "description");
  spec.data_type = string_field(j, "dataType");
  spec.multivalue = int_field(j, "multivalue").value_or(0);
  spec.read_only = bool_field(j, "readOnly");
  spec.required_in_webhook = bool_field(j, "requiredInWebhook");
  spec.important = bool_field(j, "important");
  spec.visible = bool_field(j, "visible");
  spec.custom = bool_field(j, "custom");
  spec.raw = j;
  return spec;
}

EventSpec read_event_spec(const json& j) {
  EventSpec spec;
  spec.uid = string_field(j, "uid");
  spec.name = string_field(j, "name");
  spec.description = string_field(j, "description");
  spec.category = string_field(j, "category");
  spec.attribution = bool_field(j, "attribution");
  spec.automation = bool_field(j, "automation");
  spec.icon = string_field(j, "icon");
  spec.emoji = string_field(j, "emoji");
  spec.important = bool_field(j, "important");
  spec.raw = j;
  return spec;
}

EventParameterSpec read_event_parameter_spec(const json& j) {
  EventParameterSpec spec;
  spec.parameter = string_field(j, "parameter");
  spec.title = string_field(j, "title");
  spec.description = string_field(j, "description");
  spec.icon = string_field(j, "icon");
  spec.data_type = string_field(j, "dataType");
  spec.visual_type = string_field(j, "visualType");
  spec.max_length = int_field(j, "maxLength");
  spec.required = bool_field(j, "required");
  spec.multi_value = int_field(j, "multiValue").value_or(0);
  spec.raw = j;
  return spec;
}

}  // namespace instasent::detail
