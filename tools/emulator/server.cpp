// SPDX-License-Identifier: Apache-2.0
#include "server.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <vector>

#include "connection_server.hpp"
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

json message(const std::string& text) { return {{"message", text}}; }

// Bodies nested deeper than any item needs are refused before they are parsed, copied or
// written back.
constexpr std::size_t kMaxNesting = 32;

// IMF-fixdate, as HTTP's Date header wants it: "Sat, 28 Nov 2026 10:00:00 GMT".
std::string http_date(system_clock::time_point now) {
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return buffer;
}

// X-Request-Id and Date, which every answer carries.
void set_common_headers(httplib::Response& response, const std::string& request_id,
                        system_clock::time_point now) {
  response.set_header("X-Request-Id", request_id);
  response.set_header("Date", http_date(now));
}

// X-RateLimit-Limit, -Remaining and -Reset.
void set_rate_limit_headers(httplib::Response& response, const RateDecision& rate) {
  response.set_header("X-RateLimit-Limit", std::to_string(rate.limit));
  response.set_header("X-RateLimit-Remaining", std::to_string(rate.remaining));
  response.set_header("X-RateLimit-Reset", std::to_string(rate.reset));
}

}  // namespace

struct Emulator::Call {
  const httplib::Request& request;
  httplib::Response& response;
  std::string request_id;
  std::string project;
  std::string datasource;
  std::vector<std::string> rest;  // decoded segments after /stream
  std::string query;
  std::string datasource_key() const { return project + "/" + datasource; }
};

Emulator::Emulator(Config config)
    : config_(std::move(config)),
      reserved_(reserved_attribute_names(config_.specs.value("attributes", json::array()))),
      faults_(config_.faults),
      limiter_(config_.rate_limit_per_minute),
      server_(std::make_unique<ConnectionServer>(ConnectionLimits{config_.max_connections})) {
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1'000'000);
  server_->set_payload_max_length(config_.max_body_bytes);
  const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    handle(request, response);
  };
  // HTTP/1.1 gives a request without Content-Length or Transfer-Encoding no body, but httplib
  // reads one for these methods until the client closes, and answers 400 when its read times
  // out: answer such a request before httplib reads.
  server_->set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        const std::string& method = request.method;
        const bool reads_body =
            method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
        if (!reads_body || request.has_header("Content-Length") ||
            request.has_header("Transfer-Encoding")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        handle(request, response);
        return httplib::Server::HandlerResponse::Handled;
      });
  // Every path goes to handle(), which parses the raw target itself. `.` would not match a
  // decoded line break (user ids may hold one), so match any character.
  const char* const any_path = R"([\s\S]*)";
  server_->Get(any_path, handler);
  server_->Post(any_path, handler);
  server_->Put(any_path, handler);
  server_->Delete(any_path, handler);
  server_->Patch(any_path, handler);
  server_->Options(any_path, handler);
  // Answers httplib writes itself (413 for an oversized body, 414 for a long target, 400 for a
  // malformed request): give them the headers every answer has and a JSON message.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& response) {
        if (response.has_header("X-Request-Id")) return httplib::Server::HandlerResponse::Unhandled;
        const auto now = system_clock::now();
        set_common_headers(response, next_request_id(), now);
        const RateDecision rate = limiter_.check("-", now);
        set_rate_limit_headers(response, rate);
        const char* text = response.status == 413   ? "Body too large"
                           : response.status == 414 ? "Request target too long"
                           : response.status == 404 ? "Not found"
                                                    : "Bad request";
        response.set_content(message(text).dump(), "application/json");
        store_.count_response(response.status);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_exception_handler(
      [this](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        response.status = 500;
        if (!response.has_header("X-Request-Id")) {
          response.set_header("X-Request-Id", next_request_id());
        }
        response.set_content(message("Internal error").dump(), "application/json");
      });
}

Emulator::~Emulator() { stop(); }

int Emulator::bind() {
  const int port = server_->bind_and_listen(config_.host, config_.port);
  if (port < 0) {
    throw std::runtime_error("cannot listen on " + config_.host + ":" +
                             std::to_string(config_.port));
  }
  return port;
}

void Emulator::serve() {
  serving_ = true;
  if (!stop_requested_) server_->listen_after_bind();
  serving_ = false;
}

void Emulator::stop() {
  // httplib ignores a stop that comes before its loop runs: keep asking until serve() returns.
  stop_requested_ = true;
  while (serving_) {
    server_->shut_down();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Emulator::next_request_id() { return "req-" + std::to_string(next_request_id_++); }

void Emulator::send_json(Call& call, int status, const json& body) {
  call.response.status = status;
  call.response.set_content(body.dump(), "application/json");
}

void Emulator::handle(const httplib::Request& request, httplib::Response& response) {
  Call call{request, response, next_request_id(), {}, {}, {}, {}};
  set_common_headers(response, call.request_id, system_clock::now());
  const std::string& target = request.target;
  const std::size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  call.query = question == std::string::npos ? std::string() : target.substr(question + 1);

  if (path.rfind("/_emulator/", 0) == 0) {
    handle_admin(path.substr(11), request, response);  // not counted: the counters are the API's
  } else {
    handle_api(call);
    store_.count_response(response.status);
  }
}

void Emulator::handle_admin(const std::string& path, const httplib::Request& request,
                            httplib::Response& response) {
  // `?pretty` indents the JSON, for people reading it in a terminal.
  const int indent = request.has_param("pretty") ? 2 : -1;
  const auto reply = [&response, indent](int status, const json& body) {
    response.status = status;
    response.set_content(body.dump(indent) + (indent > 0 ? "\n" : ""), "application/json");
  };
  const bool get = request.method == "GET";
  const bool post = request.method == "POST" || request.method == "PUT";
  if (path == "health" && get) return reply(200, {{"ok", true}});
  if (path == "state" && get) {
    const std::string project = request.get_param_value("project");
    const std::string datasource = request.get_param_value("datasource");
    const std::string key = project.empty() && datasource.empty() ? "" : project + "/" + datasource;
    return reply(200, store_.snapshot(key));
  }
  if (path == "event-ids" && get) {
    const std::string key =
        request.get_param_value("project") + "/" + request.get_param_value("datasource");
    return reply(200, store_.event_ids(key));
  }
  if (path == "stats" && get) {
    const Counters counters = store_.counters();
    json by_status = json::object();
    for (const auto& [status, count] : counters.responses_by_status) {
      by_status[std::to_string(status)] = count;
    }
    return reply(200, {{"requests", counters.requests},
                       {"responsesByStatus", by_status},
                       {"itemsAccepted", counters.items_accepted},
                       {"itemsRejected", counters.items_rejected},
                       {"duplicateEvents", counters.duplicate_events},
                       {"faultsInjected", counters.faults_injected}});
  }
  if (path == "reset" && post) {
    store_.reset();
    limiter_.reset();
    faults_.configure(config_.faults);  // back to the faults the emulator started with
    return reply(200, {{"ok", true}});
  }
  if (path == "faults" && get) return reply(200, faults_.settings().to_json());
  if (path == "faults" && post) {
    const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    FaultSettings settings = faults_.settings();
    try {
      settings.update_from_json(body);
    } catch (const std::invalid_argument& error) {
      return reply(400, message(error.what()));
    }
    faults_.configure(settings);
    return reply(200, settings.to_json());
  }
  reply(404, message("Unknown admin endpoint"));
}

void Emulator::handle_api(Call& call) {
  const auto segments =
      decode_segments(call.request.target.substr(0, call.request.target.find('?')));
  // "", "v1", "project", P, "datasource", D, "stream", rest...
  if (!segments || segments->size() < 7 || !(*segments)[0].empty() || (*segments)[1] != "v1" ||
      (*segments)[2] != "project" || (*segments)[4] != "datasource" || (*segments)[6] != "stream") {
    return send_json(call, 404, message("Not found"));
  }
  call.project = (*segments)[3];
  call.datasource = (*segments)[5];
  call.rest.assign(segments->begin() + 7, segments->end());
  const std::string& method = call.request.method;

  // The endpoint, as a rate-limit key and for routing.
  std::string endpoint;
  const auto& rest = call.rest;
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

  // Auth: 401 without a known token; 404 for an unknown datasource or one the token may not use.
  const std::string authorization = call.request.get_header_value("Authorization");
  const std::string token =
      authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : std::string();
  bool known_token = false;
  bool allowed = false;
  for (const Tenant& tenant : config_.tenants) {
    for (const std::string& candidate : tenant.tokens) {
      if (candidate != token) continue;
      known_token = true;
      allowed = allowed || (tenant.project == call.project && tenant.datasource == call.datasource);
    }
  }
  const RateDecision rate = limiter_.check((allowed ? call.datasource_key() : std::string("-")) +
                                               " " + (endpoint.empty() ? "?" : endpoint),
                                           system_clock::now());
  set_rate_limit_headers(call.response, rate);
  if (token.empty() || !known_token) return send_json(call, 401, message("Unauthenticated."));
  if (!allowed) return send_json(call, 404, message("Datasource not found"));
  if (endpoint.empty()) return send_json(call, 404, message("Not found"));
  if (!rate.allowed) {
    call.response.status = 429;  // empty body, as documented
    return;
  }

  const Fault fault = faults_.next();
  if (fault != Fault::none) store_.count_fault();
  switch (fault) {
    case Fault::server_error:
      return send_json(call, 500, message("Internal server error"));
    case Fault::unavailable:
      return send_json(call, 503, message("Service unavailable"));
    case Fault::rate_limited: {
      const auto now =
          std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
              .count();
      call.response.set_header("X-RateLimit-Remaining", "0");
      call.response.set_header("X-RateLimit-Reset", std::to_string(now + 1));
      call.response.set_header("Retry-After", "1");
      call.response.status = 429;
      return;
    }
    case Fault::slow:
      // Cut short by stop(), which would otherwise wait for it.
      server_->sleep_unless_shut_down(std::chrono::milliseconds(faults_.settings().slow_ms));
      break;
    default:
      break;
  }

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

  if (fault == Fault::truncated_body && !call.response.body.empty()) {
    call.response.body.resize(call.response.body.size() / 2);
  } else if (fault == Fault::drop_connection) {
    // Announce the whole body, send half of it, then close the connection.
    auto body = std::make_shared<std::string>(std::move(call.response.body));
    const std::string content_type = call.response.get_header_value("Content-Type");
    call.response.body.clear();
    call.response.set_content_provider(
        body->size(), content_type.empty() ? "application/json" : content_type,
        [body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          if (offset == 0 && body->size() > 1) sink.write(body->data(), body->size() / 2);
          return false;
        });
  }
}

json Emulator::stream_info(const Call& call) const {
  return {{"organization", {{"id", "org_emulator"}, {"name", "Emulated organization"}}},
          {"project", {{"id", call.project}, {"name", call.project}}},
          {"datasource", {{"id", call.datasource}, {"name", call.datasource}, {"type", "api"}}},
          {"stream", {{"id", "stream_" + call.datasource}, {"status", "active"}}},
          {"token", {{"type", "datasource"}, {"scopes", json::array({"ingest"})}}}};
}

void Emulator::write_batch(Call& call, bool events) {
  if (detail::json_nested_deeper_than(call.request.body, kMaxNesting)) {
    return send_json(call, 400, message("Body nested too deeply"));
  }
  const json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return send_json(call, 400, message("Malformed JSON body"));
  if (const auto problem = check_batch(body)) return send_json(call, 400, message(*problem));
  const bool dry_run = query_flag(call.query, "_dryRun");
  const auto now = system_clock::now();
  const std::string key = call.datasource_key();

  std::vector<FieldErrors> outcomes;
  outcomes.reserve(body.size());
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  for (const json& item : body) {
    FieldErrors errors =
        events ? validate_event(item, reserved_) : validate_contact(item, reserved_);
    if (errors.empty()) {
      ++accepted;
      if (!dry_run && !events) store_.upsert_contact(key, item);
      if (!dry_run && events) {
        // The embedded contact is upserted first; only a valid one gets here.
        if (const auto user_data = item.find("_user_data");
            user_data != item.end() && user_data->is_object()) {
          json contact = *user_data;
          contact["_user_id"] = item["_user_id"];
          store_.upsert_contact(key, contact);
        }
        StoredEvent stored{
            item, true,
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()};
        const auto date = item.find("_event_date");
        if (date == item.end() || date->is_null()) {
          stored.event["_event_date"] = iso8601_now(now);  // omitted: "now", may trigger
        } else {
          stored.triggers_automations = triggers_automations(
              parse_iso8601(date->get<std::string>()).value_or(system_clock::time_point()), now);
        }
        if (!store_.record_event(key, std::move(stored))) ++duplicates;
      }
    }
    outcomes.push_back(std::move(errors));
  }
  store_.count_items(accepted, outcomes.size() - accepted, duplicates);

  const int status = accepted > 0 ? 202 : 422;
  if (config_.response_shape == ResponseShape::documented) {
    json items = json::array();
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      json entry = {{"status", outcomes[i].empty() ? "success" : "error"}};
      // Ids are echoed when the item had them as strings, and left out otherwise.
      for (const char* field : {"_user_id", "_event_id"}) {
        if (field[1] == 'e' && !events) continue;
        if (const auto it = body[i].find(field); it != body[i].end() && it->is_string()) {
          entry[field] = *it;
        }
      }
      if (!outcomes[i].empty()) entry["errors"] = outcomes[i];
      items.push_back(std::move(entry));
    }
    return send_json(call, status,
                     {{"entity",
                       {{"successful", accepted},
                        {"failed", outcomes.size() - accepted},
                        {"items", std::move(items)}}}});
  }
  json accepted_list = json::array();
  json error_list = json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].empty()) {
      accepted_list.push_back({{"position", i}, {"item", body[i]}});
    } else {
      error_list.push_back({{"position", i}, {"item", body[i]}, {"error", outcomes[i]}});
    }
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
