// SPDX-License-Identifier: Apache-2.0
// The API's routes: which endpoint a request names, and the answer of each endpoint.
#include "routes.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_body.hpp"
#include "json_text.hpp"
#include "validation.hpp"

namespace instasent::emulator {

using nlohmann::json;
using std::chrono::system_clock;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a raw path into percent-decoded segments; nullopt for a malformed escape.
std::optional<std::vector<std::string>> decode_segments(std::string_view path) {
  std::vector<std::string> segments;
  std::string current;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '/') {
      segments.push_back(std::move(current));
      current.clear();
    } else if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      const int high = hex_value(path[i + 1]);
      const int low = hex_value(path[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      current.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      current.push_back(c);
    }
  }
  segments.push_back(std::move(current));
  return segments;
}

// A bare flag (`?_sync`) or one set to true/1 is on.
bool query_flag(std::string_view query, std::string_view name) {
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view part = query.substr(start, end - start);
    const std::size_t eq = part.find('=');
    if (part.substr(0, eq) == name) {
      if (eq == std::string_view::npos) return true;
      const std::string_view value = part.substr(eq + 1);
      return value.empty() || value == "true" || value == "1";
    }
    start = end + 1;
  }
  return false;
}

std::string iso8601_now(system_clock::time_point now) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

// Bodies nested deeper than any item needs are refused before they are parsed, copied or
// written back.
constexpr std::size_t kMaxNesting = 32;

}  // namespace

// Reads the project, datasource and endpoint from the path; false when the path is not under
// /v1/project/{p}/datasource/{d}/stream. An unknown endpoint leaves `endpoint` empty; handle_api
// refuses it after authorisation, so a bad token gets 401 on any such path.
bool Emulator::route(Call& call) {
  const auto segments =
      decode_segments(call.request.target.substr(0, call.request.target.find('?')));
  // "", "v1", "project", P, "datasource", D, "stream", rest...
  if (!segments || segments->size() < 7 || !(*segments)[0].empty() || (*segments)[1] != "v1" ||
      (*segments)[2] != "project" || (*segments)[4] != "datasource" || (*segments)[6] != "stream") {
    return false;
  }
  call.project = (*segments)[3];
  call.datasource = (*segments)[5];
  call.rest.assign(segments->begin() + 7, segments->end());
  const std::string& method = call.request.method;
  const auto& rest = call.rest;
  std::string& endpoint = call.endpoint;
  if (rest.empty() && method == "GET") {
    endpoint = "GET /stream";
  } else if (rest.size() == 1 && rest[0] == "contacts" && method == "POST") {
    endpoint = "POST /stream/contacts";
  } else if (rest.size() == 1 && rest[0] == "events" && method == "POST") {
    endpoint = "POST /stream/events";
  } else if (rest.size() == 2 && rest[0] == "contacts" && !rest[1].empty() &&
             (method == "GET" || method == "DELETE")) {
    endpoint = method + " /stream/contacts/{userId}";
  } else if (rest.size() == 2 && rest[0] == "specs" && method == "GET" &&
             (rest[1] == "attributes" || rest[1] == "events")) {
    endpoint = "GET /stream/specs/" + rest[1];
  } else if (rest.size() == 3 && rest[0] == "specs" && rest[1] == "event-parameters" &&
             !rest[2].empty() && method == "GET") {
    endpoint = "GET /stream/specs/event-parameters/{eventType}";
  }
  return true;
}

// Answers a request that passed every check, by its endpoint.
void Emulator::dispatch(Call& call) {
  const std::string& endpoint = call.endpoint;
  const auto& rest = call.rest;
  if (endpoint == "GET /stream") {
    send_json(call, 200, stream_info(call));
  } else if (endpoint == "POST /stream/contacts") {
    write_batch(call, false);
  } else if (endpoint == "POST /stream/events") {
    write_batch(call, true);
  } else if (endpoint == "GET /stream/contacts/{userId}") {
    const auto contact = store_.contact(call.datasource_key(), rest[1]);
    if (!contact) {
      send_json(call, 404, message("Contact not found"));
    } else {
      send_json(call, 200, {{"contact", {{"userId", rest[1]}, {"contactData", *contact}}}});
    }
  } else if (endpoint == "DELETE /stream/contacts/{userId}") {
    if (store_.delete_contact(call.datasource_key(), rest[1])) {
      send_json(call, 200, message("Contact deleted"));
    } else {
      send_json(call, 404, message("Contact not found"));
    }
  } else if (endpoint == "GET /stream/specs/attributes") {
    send_json(call, 200, {{"specs", config_.specs.value("attributes", json::array())}});
  } else if (endpoint == "GET /stream/specs/events") {
    send_json(call, 200, {{"specs", config_.specs.value("events", json::array())}});
  } else {
    const json parameters = config_.specs.value("event_parameters", json::object());
    const auto it = parameters.find(rest[2]);
    if (it == parameters.end()) {
      send_json(call, 404, message("Event type not found"));
    } else {
      send_json(call, 200, {{"specs", *it}});
    }
  }
}

json Emulator::stream_info(const Call& call) const {
  return {{"organization", {{"id", "org_emulator"}, {"name", "Emulated organization"}}},
          {"project", {{"id", call.project}, {"name", call.project}}},
          {"datasource", {{"id", call.datasource}, {"name", call.datasource}, {"type", "api"}}},
          {"stream", {{"id", "stream_" + call.datasource}, {"status", "active"}}},
          {"token", {{"type", "datasource"}, {"scopes", json::array({"ingest"})}}}};
}

namespace {

// Appends a whole number as JSON text.
void append_number(std::string& out, std::uint64_t number) {
  char digits[24];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + number % 10);
    number /= 10;
  } while (number != 0);
  while (n > 0) out.push_back(digits[--n]);
}

// The documented answer, {"entity": {"failed", "items", "successful"}}, written as
// nlohmann::json's dump() writes the same tree (members by name, no spaces), without the tree.
std::string documented_answer(const Body& body, const std::vector<FieldErrors>& outcomes,
                              std::uint64_t accepted, bool events) {
  std::string out;
  out.reserve(64 + outcomes.size() * 48);
  out.append(R"({"entity":{"failed":)");
  append_number(out, outcomes.size() - accepted);
  out.append(R"(,"items":[)");
  std::size_t i = 0;
  for (const std::uint32_t item : body.children(0)) {
    const FieldErrors& errors = outcomes[i];
    if (i++ > 0) out.push_back(',');
    out.push_back('{');
    // Ids are echoed when the item had them as strings, and left out otherwise.
    bool first = true;
    for (const char* field : {"_event_id", "_user_id"}) {
      if (field[1] == 'e' && !events) continue;
      const BodyValue* id = body.find(item, field);
      if (id == nullptr || id->kind != JsonKind::string) continue;
      if (!first) out.push_back(',');
      first = false;
      detail::append_json_string(out, field);
      out.push_back(':');
      detail::append_json_string(out, id->text);
    }
    if (!first) out.push_back(',');
    if (!errors.empty()) {
      out.append(R"("errors":{)");
      bool first_field = true;
      for (const auto& [field, messages] : errors) {
        if (!first_field) out.push_back(',');
        first_field = false;
        detail::append_json_string(out, field);
        out.append(":[");
        for (std::size_t m = 0; m < messages.size(); ++m) {
          if (m > 0) out.push_back(',');
          detail::append_json_string(out, messages[m]);
        }
        out.push_back(']');
      }
      out.append(R"(},"status":"error"})");
    } else {
      out.append(R"("status":"success"})");
    }
  }
  out.append(R"(],"successful":)");
  append_number(out, accepted);
  out.append("}}");
  return out;
}

}  // namespace

void Emulator::write_batch(Call& call, bool events) {
  Body body;
  const std::string& text = call.request.body;
  const bool read = body.parse(text, kMaxNesting);
  // Nesting is checked first, over the whole text, however malformed the rest: a text read
  // whole is nested no deeper than the limit, but the reader stops at a NUL between tokens (as
  // nlohmann does) and what follows the NUL counts too.
  if ((!read || text.find('\0') != std::string::npos) &&
      detail::json_nested_deeper_than(text, kMaxNesting)) {
    return send_json(call, 400, message("Body nested too deeply"));
  }
  if (!read) return send_json(call, 400, message("Malformed JSON body"));
  if (const auto problem = check_batch(body)) return send_json(call, 400, message(*problem));
  const bool dry_run = query_flag(call.query, "_dryRun");
  const auto now = system_clock::now();
  const std::string key = call.datasource_key();

  std::vector<FieldErrors> outcomes;
  outcomes.reserve(kMaxBatchItems);
  std::vector<ContactUpdate> contacts;
  std::vector<AttributeUpdate> attributes;
  std::vector<std::uint32_t> members;
  // The attributes of contact `object` (its `_user_id` from `user_id` when given) to store.
  const auto add_contact = [&](std::uint32_t object, const BodyValue* user_id) {
    const std::size_t first = attributes.size();
    body.members(object, members);
    for (const std::uint32_t member : members) {
      if (user_id != nullptr && body[member].key == "_user_id") continue;
      attributes.push_back({body[member].key, body[member].raw});
    }
    if (user_id == nullptr)
      user_id = body.find(object, "_user_id");
    else
      attributes.push_back({"_user_id", user_id->raw});
    contacts.push_back({user_id->text, first, attributes.size() - first});
  };
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  for (const std::uint32_t item : body.children(0)) {
    FieldErrors errors =
        events ? validate_event(body, item, reserved_) : validate_contact(body, item, reserved_);
    if (errors.empty()) {
      ++accepted;
      if (!dry_run && !events) add_contact(item, nullptr);
      if (!dry_run && events) {
        // The embedded contact is upserted first; only a valid one gets here.
        if (const BodyValue* user_data = body.find(item, "_user_data");
            user_data != nullptr && user_data->kind == JsonKind::object) {
          contacts.clear();
          attributes.clear();
          add_contact(static_cast<std::uint32_t>(user_data - &body[0]),
                      body.find(item, "_user_id"));
          store_.upsert_contacts(key, contacts, attributes);
        }
        StoredEvent stored{
            body.to_json(item), true,
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()};
        const BodyValue* date = body.find(item, "_event_date");
        if (date == nullptr || date->kind == JsonKind::null) {
          stored.event["_event_date"] = iso8601_now(now);  // omitted: "now", may trigger
        } else {
          stored.triggers_automations = triggers_automations(
              parse_iso8601(std::string(date->text)).value_or(system_clock::time_point()), now);
        }
        if (!store_.record_event(key, std::move(stored))) ++duplicates;
      }
    }
    outcomes.push_back(std::move(errors));
  }
  if (!events && !contacts.empty()) store_.upsert_contacts(key, contacts, attributes);
  store_.count_items(accepted, outcomes.size() - accepted, duplicates);

  const int status = accepted > 0 ? 202 : 422;
  if (config_.response_shape == ResponseShape::documented) {
    call.response.status = status;
    call.response.set_content(documented_answer(body, outcomes, accepted, events),
                              "application/json");
    return;
  }
  json accepted_list = json::array();
  json error_list = json::array();
  std::size_t i = 0;
  for (const std::uint32_t item : body.children(0)) {
    if (outcomes[i].empty()) {
      accepted_list.push_back({{"position", i}, {"item", body.to_json(item)}});
    } else {
      error_list.push_back({{"position", i}, {"item", body.to_json(item)}, {"error", outcomes[i]}});
    }
    ++i;
  }
  send_json(call, status,
            {{"success", accepted == outcomes.size()},
             {"status", accepted == outcomes.size() ? "ok" : (accepted > 0 ? "partial" : "failed")},
             {"entitiesSuccess", accepted},
             {"entitiesFailures", outcomes.size() - accepted},
             {"entitiesLimit", kMaxBatchItems},
             {"dryRun", dry_run},
             {"streamId", "stream_" + call.datasource},
             {"projectId", call.project},
             {"datasourceId", call.datasource},
             {"accepted", std::move(accepted_list)},
             {"errors", std::move(error_list)}});
}

}  // namespace instasent::emulator
