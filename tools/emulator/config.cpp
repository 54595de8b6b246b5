// SPDX-License-Identifier: Apache-2.0
#include "config.hpp"

#include <climits>
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

long parse_long(const std::string& flag, const std::string& text, long min, long max) {
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < min || value > max) {
    throw std::invalid_argument(flag + " takes a whole number from " + std::to_string(min) +
                                " to " + std::to_string(max));
  }
  return value;
}

double parse_probability(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 0 || value > 1) {
    throw std::invalid_argument(flag + " takes a probability from 0 to 1");
  }
  return value;
}

ResponseShape parse_shape(const std::string& text) {
  if (text == "documented") return ResponseShape::documented;
  if (text == "connectors") return ResponseShape::connectors;
  throw std::invalid_argument("response shape must be 'documented' or 'connectors'");
}

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
    } else if (key == "max_body_bytes" && value.is_number_unsigned() && value.get<long>() > 0) {
      config.max_body_bytes = value.get<std::size_t>();
    } else if (key == "faults") {
      config.faults.update_from_json(value);
    } else {
      throw std::invalid_argument("unknown or invalid config key \"" + key + "\"");
    }
  }
}

const char* usage() {
  return R"(instasent-emulator: a local emulator of the Instasent Ingest API

usage: instasent-emulator [options]

  --port N               port on 127.0.0.1 (0, the default: a free one, printed on stdout's
                         first line)
  --host ADDR            address to listen on (default 127.0.0.1)
  --config FILE          JSON config: tenants, specs, response_shape, rate_limit_per_minute,
                         max_body_bytes, faults
  --project ID --datasource ID --token TOKEN
                         the tenant to serve (default proj_demo / ds_demo / demo-token)
  --response-shape S     documented (default) or connectors
  --rate-limit N         requests per minute per datasource and endpoint (default 0: off)
  --max-body-bytes N     larger request bodies get 413 (default 1048576)
  --threads N            connections served at once, each on its own thread; more wait to be
                         accepted (default 1024). Idle keep-alive connections close after 5 s,
                         and request heads not whole 5 s after their first byte are dropped
  --fault-500 P --fault-503 P --fault-429 P --fault-drop P --fault-slow P --fault-truncate P
                         probability of each fault per API request (default 0)
  --slow-ms N            delay of a slow answer (default 1500)
  --fault-seed N         seed of the fault sequence (default 1)
  --fault-script LIST    comma-separated faults for the first requests, e.g. 500,429,ok
  --help                 this text

Admin endpoints (no auth): GET /_emulator/health, /_emulator/state, /_emulator/stats,
/_emulator/faults; POST /_emulator/faults (JSON), /_emulator/reset.
)";
}

Config parse_command_line(int argc, const char* const* argv, bool& help) {
  Config config;
  config.specs = default_specs();
  help = false;

  // Split into (flag, value) pairs first, so that the config file can be read before the flags
  // that override it.
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      help = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + flag);
    if (const auto eq = flag.find('='); eq != std::string::npos) {
      flags.emplace_back(flag.substr(0, eq), flag.substr(eq + 1));
    } else if (i + 1 < argc) {
      flags.emplace_back(flag, argv[++i]);
    } else {
      throw std::invalid_argument(flag + " needs a value (see --help)");
    }
  }
  for (const auto& [flag, value] : flags) {
    if (flag == "--config") apply_config_file(config, value);
  }

  Tenant flag_tenant{"proj_demo", "ds_demo", {"demo-token"}};
  bool tenant_flags = false;
  json fault_flags = json::object();
  for (const auto& [flag, value] : flags) {
    if (flag == "--config") {
      continue;
    } else if (flag == "--port") {
      config.port = static_cast<int>(parse_long(flag, value, 0, 65535));
    } else if (flag == "--host") {
      config.host = value;
    } else if (flag == "--project") {
      flag_tenant.project = value;
      tenant_flags = true;
    } else if (flag == "--datasource") {
      flag_tenant.datasource = value;
      tenant_flags = true;
    } else if (flag == "--token") {
      flag_tenant.tokens = {value};
      tenant_flags = true;
    } else if (flag == "--response-shape") {
      config.response_shape = parse_shape(value);
    } else if (flag == "--rate-limit") {
      config.rate_limit_per_minute = parse_long(flag, value, 0, 1'000'000);
    } else if (flag == "--max-body-bytes") {
      config.max_body_bytes = static_cast<std::size_t>(parse_long(flag, value, 1, 1L << 30));
    } else if (flag == "--threads") {
      config.max_connections = static_cast<std::size_t>(parse_long(flag, value, 1, 65536));
    } else if (flag == "--fault-500") {
      fault_flags["p500"] = parse_probability(flag, value);
    } else if (flag == "--fault-503") {
      fault_flags["p503"] = parse_probability(flag, value);
    } else if (flag == "--fault-429") {
      fault_flags["p429"] = parse_probability(flag, value);
    } else if (flag == "--fault-drop") {
      fault_flags["drop"] = parse_probability(flag, value);
    } else if (flag == "--fault-slow") {
      fault_flags["slow"] = parse_probability(flag, value);
    } else if (flag == "--fault-truncate") {
      fault_flags["truncate"] = parse_probability(flag, value);
    } else if (flag == "--slow-ms") {
      fault_flags["slow_ms"] = parse_long(flag, value, 0, 600'000);
    } else if (flag == "--fault-seed") {
      fault_flags["seed"] = static_cast<std::uint64_t>(parse_long(flag, value, 0, LONG_MAX));
    } else if (flag == "--fault-script") {
      json script = json::array();
      std::stringstream list(value);
      for (std::string name; std::getline(list, name, ',');) script.push_back(name);
      fault_flags["script"] = script;
    } else {
      throw std::invalid_argument("unknown option " + flag + " (see --help)");
    }
  }
  // Flags name the first tenant; without flags or a config file, the built-in demo tenant.
  if (config.tenants.empty() || tenant_flags) {
    config.tenants.insert(config.tenants.begin(), flag_tenant);
  }
  config.faults.update_from_json(fault_flags);
  return config;
}

}  // namespace instasent::emulator
