// SPDX-License-Identifier: Apache-2.0
#include "config.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace instasent::emulator {

using nlohmann::json;

namespace {

json attribute(const char* uid, const char* label, const char* type, bool read_only = false,
               int multivalue = 0, bool custom = false) {
  return {{"uid", uid},
          {"displayLabel", label},
          {"description", label},
          {"dataType", type},
          {"multivalue", multivalue},
          {"readOnly", read_only},
          {"requiredInWebhook", false},
          {"important", !custom},
          {"visible", true},
          {"custom", custom}};
}

json event_spec(const char* uid, const char* name, const char* category, const char* emoji) {
  return {{"uid", uid},           {"name", name},        {"description", name},
          {"category", category}, {"attribution", true}, {"automation", true},
          {"icon", "event"},      {"emoji", emoji},      {"important", true}};
}

json parameter(const char* name, const char* title, const char* type, bool required,
               int max_length = 255, int multi_value = 0) {
  return {{"parameter", name},       {"title", title},       {"description", title},
          {"icon", "tag"},           {"dataType", type},     {"visualType", type},
          {"maxLength", max_length}, {"required", required}, {"multiValue", multi_value}};
}

ResponseShape parse_shape(const std::string& text) {
  if (text == "documented") return ResponseShape::documented;
  if (text == "connectors") return ResponseShape::connectors;
  throw std::invalid_argument("response shape must be 'documented' or 'connectors'");
}

}  // namespace

RateLimitMode parse_rate_limit_mode(const std::string& text) {
  if (text == "window") return RateLimitMode::window;
  if (text == "bucket") return RateLimitMode::bucket;
  throw std::invalid_argument("rate limit mode must be 'window' or 'bucket'");
}

namespace {

std::vector<Tenant> read_tenants(const json& list) {
  if (!list.is_array()) throw std::invalid_argument("\"tenants\" must be an array");
  std::vector<Tenant> tenants;
  for (const auto& entry : list) {
    const auto text = [&](const char* key) {
      const auto it = entry.find(key);
      if (it == entry.end() || !it->is_string() || it->get<std::string>().empty()) {
        throw std::invalid_argument(std::string("every tenant needs a non-empty \"") + key + "\"");
      }
      return it->get<std::string>();
    };
    Tenant tenant{text("project"), text("datasource"), {}};
    const auto tokens = entry.find("tokens");
    if (tokens == entry.end() || !tokens->is_array() || tokens->empty()) {
      throw std::invalid_argument("every tenant needs a non-empty \"tokens\" array");
    }
    for (const auto& token : *tokens) {
      if (!token.is_string() || token.get<std::string>().empty()) {
        throw std::invalid_argument("tokens must be non-empty strings");
      }
      tenant.tokens.push_back(token.get<std::string>());
    }
    tenants.push_back(std::move(tenant));
  }
  return tenants;
}

}  // namespace

json default_specs() {
  json attributes = json::array({
      attribute("_user_id", "User id", "string", true),
      attribute("_first_name", "First name", "string"),
      attribute("_last_name", "Last name", "string"),
      attribute("_email", "Email", "string"),
      attribute("_phone_mobile", "Mobile phone", "string"),
      attribute("_country_code", "Country", "string"),
      attribute("_language", "Language", "string"),
      attribute("_gender", "Gender", "string"),
      attribute("_birthdate", "Birth date", "date"),
      attribute("_email_verified", "Email verified", "bool", true),
      attribute("_phone_mobile_verified", "Mobile phone verified", "bool", true),
      attribute("_subscribed_email", "Subscribed to email", "bool"),
      attribute("_subscribed_sms", "Subscribed to SMS", "bool"),
      attribute("plan", "Plan", "string", false, 0, true),
      attribute("tags", "Tags", "string", false, 10, true),
  });
  json events = json::array({
      event_spec("purchase", "Purchase", "ecommerce", "🛒"),
      event_spec("cart_abandoned", "Cart abandoned", "ecommerce", "🧺"),
      event_spec("page_view", "Page view", "web", "👀"),
      event_spec("signup", "Sign up", "lifecycle", "✍️"),
  });
  json parameters = {
      {"purchase", json::array({parameter("amount", "Amount", "string", true),
                                parameter("currency", "Currency", "string", false, 3),
                                parameter("order_id", "Order id", "string", false),
                                parameter("products", "Products", "payload", false, 4096, 50)})},
      {"cart_abandoned", json::array({parameter("amount", "Amount", "string", false),
                                      parameter("cart_url", "Cart URL", "string", false, 2048)})},
      {"page_view", json::array({parameter("url", "URL", "string", true, 2048),
                                 parameter("title", "Title", "string", false)})},
      {"signup", json::array({parameter("source", "Source", "string", false)})},
  };
  return {{"attributes", std::move(attributes)},
          {"events", std::move(events)},
          {"event_parameters", std::move(parameters)}};
}

void apply_config_file(Config& config, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw std::invalid_argument("config file is not a JSON object: " + path);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (key == "tenants") {
      config.tenants = read_tenants(value);
    } else if (key == "specs") {
      if (!value.is_object()) throw std::invalid_argument("\"specs\" must be an object");
      for (const char* part : {"attributes", "events"}) {
        if (value.contains(part)) {
          if (!value[part].is_array()) {
            throw std::invalid_argument(std::string("\"specs.") + part + "\" must be an array");
          }
          config.specs[part] = value[part];
        }
      }
      if (value.contains("event_parameters")) {
        if (!value["event_parameters"].is_object()) {
          throw std::invalid_argument("\"specs.event_parameters\" must be an object");
        }
        config.specs["event_parameters"] = value["event_parameters"];
      }
    } else if (key == "response_shape" && value.is_string()) {
      config.response_shape = parse_shape(value.get<std::string>());
    } else if (key == "rate_limit_per_minute" && value.is_number_unsigned()) {
      config.rate_limit_per_minute = value.get<long>();
    } else if (key == "rate_limit_mode" && value.is_string()) {
      config.rate_limit_mode = parse_rate_limit_mode(value.get<std::string>());
    } else if (key == "rate_limit_burst" && value.is_number_unsigned() &&
               value.get<std::uint64_t>() <= kMaxRateLimitBurst) {
      config.rate_limit_burst = value.get<long>();
    } else if (key == "max_body_bytes" && value.is_number_unsigned() && value.get<long>() > 0) {
      config.max_body_bytes = value.get<std::size_t>();
    } else if (key == "faults") {
      config.faults.update_from_json(value);
    } else {
      throw std::invalid_argument("unknown or invalid config key \"" + key + "\"");
    }
  }
}

}  // namespace instasent::emulator
