// SPDX-License-Identifier: Apache-2.0
#include "server.hpp"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "connection_server.hpp"
#include "routes.hpp"
#include "validation.hpp"

namespace instasent::emulator {

using nlohmann::json;
using std::chrono::system_clock;

namespace {

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

Emulator::Emulator(Config config)
    : config_(std::move(config)),
      reserved_(reserved_attribute_names(config_.specs.value("attributes", json::array()))),
      faults_(config_.faults),
      limiter_(config_.rate_limit_per_minute, config_.rate_limit_mode, config_.rate_limit_burst),
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
  Call call{request, response, next_request_id(), {}, {}, {}, {}, {}};
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
  if (!route(call)) return send_json(call, 404, message("Not found"));
  const Access access = authorise(call);
  const RateDecision rate = rate_limit(call, access.allowed);
  if (!access.known) return send_json(call, 401, message("Unauthenticated."));
  if (!access.allowed) return send_json(call, 404, message("Datasource not found"));
  if (call.endpoint.empty()) return send_json(call, 404, message("Not found"));
  if (!rate.allowed) {
    call.response.status = 429;  // empty body, as documented
    if (rate.retry_after > 0) {
      call.response.set_header("Retry-After", std::to_string(rate.retry_after));
    }
    return;
  }
  if (inject_fault(call)) return;
  dispatch(call);
  spoil_answer(call);
}

// 401 without a known token; 404 for an unknown datasource or one the token may not use.
Emulator::Access Emulator::authorise(const Call& call) const {
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
  return {!token.empty() && known_token, allowed};
}

// Counts the request, refused or not, and sets the X-RateLimit headers. Requests the token may
// not make share one key per endpoint, so they cannot use up a datasource's window.
RateDecision Emulator::rate_limit(Call& call, bool allowed) {
  const RateDecision rate = limiter_.check((allowed ? call.datasource_key() : std::string("-")) +
                                               " " + (call.endpoint.empty() ? "?" : call.endpoint),
                                           system_clock::now());
  set_rate_limit_headers(call.response, rate);
  return rate;
}

// Draws the request's fault. The error faults are the answer (true: nothing is processed); a
// slow one waits here; drop and truncate are applied to the answer by spoil_answer().
bool Emulator::inject_fault(Call& call) {
  call.fault = faults_.next();
  if (call.fault != Fault::none) store_.count_fault();
  switch (call.fault) {
    case Fault::server_error:
      send_json(call, 500, message("Internal server error"));
      return true;
    case Fault::unavailable:
      send_json(call, 503, message("Service unavailable"));
      return true;
    case Fault::rate_limited: {
      const auto now =
          std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
              .count();
      call.response.set_header("X-RateLimit-Remaining", "0");
      call.response.set_header("X-RateLimit-Reset", std::to_string(now + 1));
      call.response.set_header("Retry-After", "1");
      call.response.status = 429;
      return true;
    }
    case Fault::slow:
      // Cut short by stop(), which would otherwise wait for it.
      server_->sleep_unless_shut_down(std::chrono::milliseconds(faults_.settings().slow_ms));
      return false;
    default:
      return false;
  }
}

// The faults that break an answer already made: truncate and drop.
void Emulator::spoil_answer(Call& call) const {
  if (call.fault == Fault::truncated_body && !call.response.body.empty()) {
    call.response.body.resize(call.response.body.size() / 2);
  } else if (call.fault == Fault::drop_connection) {
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

}  // namespace instasent::emulator
