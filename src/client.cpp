// SPDX-License-Identifier: Apache-2.0
#include "instasent/client.hpp"

#include <mutex>
#include <optional>
#include <random>

#include "batch_reader.hpp"
#include "instasent/error.hpp"
#include "json_text.hpp"
#include "retry_logic.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

void check_token(const std::string& token) {
  if (token.empty()) throw InvalidInputError("token (INSTASENT_TOKEN)", "is not set");
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      throw InvalidInputError("token (INSTASENT_TOKEN)",
                              "contains a space, a control character (such as CR or LF) or a "
                              "non-ASCII byte");
    }
  }
}

void check_id_option(const std::string& value, const char* field) {
  if (value.empty()) throw InvalidInputError(field, "is not set");
  if (!detail::is_valid_utf8(value)) throw InvalidInputError(field, "is not valid UTF-8");
}

void check_path_argument(std::string_view value, const char* field) {
  if (value.empty()) throw InvalidInputError(field, "must not be empty");
  if (!detail::is_valid_utf8(value)) throw InvalidInputError(field, "is not valid UTF-8");
}

json parse_body(const std::string& body) {
  if (body.empty()) return nullptr;
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json() : parsed;
}

// The server's `message`, made safe to quote: printable, at most a few hundred bytes.
std::string server_message_of(const json& body) {
  if (!body.is_object()) return {};
  const auto it = body.find("message");
  if (it == body.end() || !it->is_string()) return {};
  return detail::printable_name(it->get_ref<const std::string&>(), 300);
}

// An error message names the operation and the status, and quotes nothing the server said (the
// server's text may echo the token or what was sent; it is in server_message()).
std::string describe(const char* operation, const char* what, int status,
                     const std::string& request_id) {
  std::string message = std::string("instasent: ") + operation + ": " + what;
  if (status != 0) message += " (HTTP " + std::to_string(status) + ")";
  if (!request_id.empty()) message += " [request id " + detail::printable_name(request_id) + "]";
  return message;
}

// Replaces every occurrence of the token in `text`.
std::string redact(std::string text, const std::string& token) {
  if (token.empty()) return text;
  for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + 3)) {
    text.replace(at, token.size(), "***");
  }
  return text;
}

struct JsonAnswer {
  json body;
  HttpResponse response;
};

bool is_success(int status) { return status >= 200 && status < 300; }

// The result of one request after retries: the last answer, or the last transport failure.
struct Outcome {
  std::optional<HttpResponse> response;
  std::optional<TransportError> transport_error;
  int attempts = 0;
};

// Throws the error that a final, unsuccessful outcome stands for, carrying `partial` if given.
[[noreturn]] void raise(const char* operation, const Outcome& outcome, const std::string& token,
                        std::shared_ptr<const BatchResult> partial = nullptr) {
  const std::string after =
      outcome.attempts > 1 ? " after " + std::to_string(outcome.attempts) + " attempts" : "";
  if (!outcome.response) {
    const TransportError& cause = *outcome.transport_error;
    // The transport's message starts with "instasent: "; put the operation in front of the rest.
    std::string detail_text = cause.what();
    if (detail_text.rfind("instasent: ", 0) == 0) detail_text.erase(0, 11);
    TransportError error(cause.failure(),
                         std::string("instasent: ") + operation + ": " + detail_text + after);
    error.set_partial_result(std::move(partial));
    throw error;
  }
  const HttpResponse& response = *outcome.response;
  const int status = response.status;
  const std::string server_message = redact(server_message_of(parse_body(response.body)), token);
  const std::string request_id = response.headers.get("X-Request-Id").value_or("");
  const auto raise_as = [&](auto* type, ErrorKind kind, const char* what) {
    using ErrorType = std::remove_pointer_t<decltype(type)>;
    ErrorType error(kind, describe(operation, what, status, request_id) + after, status,
                    server_message, request_id);
    error.set_partial_result(std::move(partial));
    throw error;
  };
  if (status == 401) raise_as((UnauthorizedError*)nullptr, ErrorKind::unauthorized, "unauthorized");
  if (status == 404) raise_as((NotFoundError*)nullptr, ErrorKind::not_found, "not found");
  if (status == 429) raise_as((RateLimitedError*)nullptr, ErrorKind::rate_limited, "rate limited");
  if (status >= 500) raise_as((ServerError*)nullptr, ErrorKind::server_error, "server error");
  if (status >= 400) raise_as((BadRequestError*)nullptr, ErrorKind::bad_request, "request refused");
  raise_as((UnreadableResponseError*)nullptr, ErrorKind::unreadable_response, "unexpected answer");
  throw;  // not reached
}

[[noreturn]] void raise_unreadable(const char* operation, const HttpResponse& response,
                                   const char* what) {
  const std::string request_id = response.headers.get("X-Request-Id").value_or("");
  throw UnreadableResponseError(ErrorKind::unreadable_response,
                                describe(operation, what, response.status, request_id),
                                response.status, std::string(), request_id);
}

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

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {
    check_id_option(options_.project, "project (INSTASENT_PROJECT)");
    check_id_option(options_.datasource, "datasource (INSTASENT_DATASOURCE)");
    check_token(options_.token);
    const std::string base = detail::normalize_base_url(
        options_.base_url, options_.allow_insecure_http, "base URL (INSTASENT_BASE_URL)");
    if (options_.max_batch_items < 1 || options_.max_batch_items > kMaxBatchItems) {
      throw InvalidInputError("max_batch_items", "must be between 1 and 100");
    }
    if (options_.max_batch_bytes < 64) {
      throw InvalidInputError("max_batch_bytes", "must be at least 64");
    }
    prefix_ = base + "/project/" + detail::encode_path_segment(options_.project) + "/datasource/" +
              detail::encode_path_segment(options_.datasource);
    authorization_ = "Bearer " + options_.token;
    transport_ = options_.transport ? options_.transport : make_curl_transport(options_.curl);
    clock_ = options_.clock ? options_.clock : system_clock();
    rng_.seed(options_.retry.jitter_seed != 0
                  ? options_.retry.jitter_seed
                  : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  }

  // GET or DELETE `path`; throws unless the final answer is 2xx.
  HttpResponse call(const char* operation, const char* method, const std::string& path) {
    const Outcome outcome = execute(make_request(method, path, std::string()));
    if (!outcome.response || !is_success(outcome.response->status)) {
      raise(operation, outcome, options_.token);
    }
    return *outcome.response;
  }

  // GET `path` and read its body as a JSON object.
  JsonAnswer get_object(const char* operation, const std::string& path) {
    JsonAnswer answer{json(), call(operation, "GET", path)};
    answer.body = parse_body(answer.response.body);
    if (!answer.body.is_object()) {
      raise_unreadable(operation, answer.response, "answer is not a JSON object");
    }
    return answer;
  }

  template <typename Item, typename IdOf>
  BatchResult write(const char* operation, const char* path, BatchKind kind,
                    const std::vector<Item>& items, const WriteOptions& write_options, IdOf id_of) {
    // Serialize every item once, comma-separated, so that each request body is one slice.
    std::string buffer;
    std::vector<std::size_t> ends(items.size());
    const auto begin_of = [&](std::size_t i) { return i == 0 ? 0 : ends[i - 1] + 1; };
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (id_of(items[i]).empty()) {
        throw InvalidInputError(kind == BatchKind::events ? "_event_id" : "_user_id",
                                "is empty (a moved-from item?)", static_cast<long>(i));
      }
      if (i != 0) buffer.push_back(',');
      items[i].append_json(buffer);
      ends[i] = buffer.size();
      const std::size_t size = ends[i] - begin_of(i);
      if (size + 2 > options_.max_batch_bytes) {
        throw InvalidInputError(
            "item",
            "serializes to " + std::to_string(size) + " bytes, more than max_batch_bytes allows",
            static_cast<long>(i));
      }
    }

    std::string target = prefix_ + path;
    if (write_options.sync) target += "?_sync";
    if (write_options.dry_run) target += write_options.sync ? "&_dryRun" : "?_dryRun";

    BatchResult result;
    result.mutable_items().reserve(items.size());
    std::size_t first = 0;
    while (first < items.size()) {
      std::size_t last = first;  // one past the request's last item
      while (last < items.size() && last - first < options_.max_batch_items &&
             ends[last] - begin_of(first) + 2 <= options_.max_batch_bytes) {
        ++last;
      }
      std::string body;
      body.reserve(ends[last - 1] - begin_of(first) + 2);
      body.push_back('[');
      body.append(buffer, begin_of(first), ends[last - 1] - begin_of(first));
      body.push_back(']');
      std::vector<std::string_view> ids;
      ids.reserve(last - first);
      for (std::size_t i = first; i < last; ++i) ids.emplace_back(id_of(items[i]));

      HttpRequest request = make_request("POST", std::string(), std::move(body));
      request.url = target;
      Outcome outcome = execute(request);
      if (outcome.response &&
          (is_success(outcome.response->status) || outcome.response->status == 422)) {
        HttpResponse& response = *outcome.response;
        auto& results = result.mutable_items();
        if (!detail::read_plain_documented_answer(response.body, kind, ids, first, results)) {
          const std::vector<std::string> id_strings(ids.begin(), ids.end());
          for (auto& item : parse_batch_items(parse_body(response.body), kind, id_strings, first)) {
            results.push_back(std::move(item));
          }
        }
        result.mutable_requests().push_back(BatchRequest{
            first, last - first, response.status, response.headers.get("X-Request-Id").value_or(""),
            std::move(response.body)});
        first = last;
        continue;
      }
      fail_batch(operation, outcome, items, id_of, first, last, std::move(result));
    }
    return result;
  }

  RateLimit rate_limit() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rate_limit_;
  }

 private:
  HttpRequest make_request(const char* method, const std::string& path, std::string body) const {
    HttpRequest request;
    request.method = method;
    request.url = prefix_ + path;
    request.headers.add("Authorization", authorization_);
    request.headers.add("Accept", "application/json");
    if (!body.empty()) request.headers.add("Content-Type", "application/json");
    request.body = std::move(body);
    return request;
  }

  // One request with retries, as RetryPolicy describes.
  Outcome execute(const HttpRequest& request) {
    const RetryPolicy& policy = options_.retry;
    const auto deadline = clock_->steady_now() + policy.deadline;
    Outcome outcome;
    for (int attempt = 1;; ++attempt) {
      outcome.attempts = attempt;
      outcome.response.reset();
      outcome.transport_error.reset();
      try {
        outcome.response = transport_->send(request);
        record_rate_limit(outcome.response->headers);
      } catch (const TransportError& error) {
        outcome.transport_error = error;
      }
      if (outcome.response && !detail::is_retryable_status(outcome.response->status)) {
        return outcome;
      }
      if (attempt >= policy.max_attempts) return outcome;
      milliseconds delay = detail::backoff_delay(policy, attempt, random());
      if (outcome.response && outcome.response->status == 429) {
        if (const auto wait =
                detail::rate_limit_delay(outcome.response->headers, clock_->system_now())) {
          delay = *wait;
        }
        delay = std::min(delay, policy.max_rate_limit_wait);
      }
      if (clock_->steady_now() + delay > deadline) return outcome;
      clock_->sleep_for(delay);
    }
  }

  // Records the fate of every item of a batch write whose request [first, last) failed as a
  // whole, then throws the request's error carrying that result.
  template <typename Item, typename IdOf>
  [[noreturn]] void fail_batch(const char* operation, const Outcome& outcome,
                               const std::vector<Item>& items, IdOf id_of, std::size_t first,
                               std::size_t last, BatchResult result) {
    const bool maybe_processed = outcome.response ? outcome.response->status >= 500
                                                  : outcome.transport_error->maybe_delivered();
    const std::string reason =
        outcome.response ? "request failed with HTTP " + std::to_string(outcome.response->status)
                         : std::string("request failed: ") + outcome.transport_error->what();
    for (std::size_t i = first; i < items.size(); ++i) {
      ItemResult item;
      item.index = i;
      item.id = id_of(items[i]);
      if (i < last) {
        item.status = maybe_processed ? ItemStatus::unknown : ItemStatus::not_sent;
        item.errors[""].push_back(reason);
      } else {
        item.status = ItemStatus::not_sent;
        item.errors[""].push_back("not sent: an earlier request of this call failed");
      }
      result.mutable_items().push_back(std::move(item));
    }
    if (outcome.response) {
      result.mutable_requests().push_back(BatchRequest{
          first, last - first, outcome.response->status,
          outcome.response->headers.get("X-Request-Id").value_or(""), outcome.response->body});
    } else {
      result.mutable_requests().push_back(BatchRequest{first, last - first, 0, {}, {}});
    }
    raise(operation, outcome, options_.token,
          std::make_shared<const BatchResult>(std::move(result)));
  }

  std::uint64_t random() {
    std::lock_guard<std::mutex> lock(mutex_);
    return rng_();
  }

  void record_rate_limit(const Headers& headers) {
    const auto limit = headers.get("X-RateLimit-Limit");
    const auto remaining = headers.get("X-RateLimit-Remaining");
    const auto reset = headers.get("X-RateLimit-Reset");
    if (!limit && !remaining && !reset) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (limit) {
      if (const auto n = detail::parse_non_negative(*limit))
        rate_limit_.limit = static_cast<long>(*n);
    }
    if (remaining) {
      if (const auto n = detail::parse_non_negative(*remaining)) {
        rate_limit_.remaining = static_cast<long>(*n);
      }
    }
    if (reset) {
      if (const auto n = detail::parse_non_negative(*reset)) {
        rate_limit_.reset = std::chrono::system_clock::time_point(std::chrono::seconds(*n));
      }
    }
  }

  ClientOptions options_;
  std::string prefix_;  // base URL + /project/{project}/datasource/{datasource}
  std::string authorization_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mutex_;  // guards rng_ and rate_limit_
  std::mt19937_64 rng_;
  RateLimit rate_limit_;
};

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

Client Client::from_env() { return Client(ClientOptions::from_env()); }

StreamInfo Client::stream_info() const {
  json body = impl_->get_object("stream_info", "/stream").body;
  StreamInfo info;
  const auto part = [&body](const char* key) {
    const auto it = body.find(key);
    return it == body.end() ? json() : *it;
  };
  info.organization = part("organization");
  info.project = part("project");
  info.datasource = part("datasource");
  info.stream = part("stream");
  info.token = part("token");
  info.raw = std::move(body);
  return info;
}

BatchResult Client::upsert_contacts(const std::vector<Contact>& contacts,
                                    const WriteOptions& options) const {
  return impl_->write("upsert_contacts", "/stream/contacts", BatchKind::contacts, contacts, options,
                      [](const Contact& c) -> const std::string& { return c.user_id(); });
}

BatchResult Client::record_events(const std::vector<Event>& events,
                                  const WriteOptions& options) const {
  return impl_->write("record_events", "/stream/events", BatchKind::events, events, options,
                      [](const Event& e) -> const std::string& { return e.event_id(); });
}

DeleteResult Client::delete_contact(std::string_view user_id) const {
  check_path_argument(user_id, "user id");
  const HttpResponse response = impl_->call(
      "delete_contact", "DELETE", "/stream/contacts/" + detail::encode_path_segment(user_id));
  return DeleteResult{response.status, response.headers.get("X-Request-Id").value_or(""),
                      parse_body(response.body)};
}

ContactRecord Client::get_contact(std::string_view user_id) const {
  check_path_argument(user_id, "user id");
  const std::string path = "/stream/contacts/" + detail::encode_path_segment(user_id);
  JsonAnswer answer = impl_->get_object("get_contact", path);
  json& body = answer.body;
  const auto contact = body.find("contact");
  if (contact == body.end() || !contact->is_object()) {
    raise_unreadable("get_contact", answer.response, "answer has no \"contact\" object");
  }
  ContactRecord record;
  record.user_id = std::string(user_id);
  const auto data = contact->find("contactData");
  record.attributes = data != contact->end() && data->is_object() ? *data : json::object();
  record.raw = std::move(body);
  return record;
}

namespace {

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

}  // namespace

std::vector<AttributeSpec> Client::attribute_specs() const {
  return read_specs<AttributeSpec>("attribute_specs",
                                   impl_->get_object("attribute_specs", "/stream/specs/attributes"),
                                   read_attribute_spec);
}

std::vector<EventSpec> Client::event_specs() const {
  return read_specs<EventSpec>(
      "event_specs", impl_->get_object("event_specs", "/stream/specs/events"), read_event_spec);
}

std::vector<EventParameterSpec> Client::event_parameter_specs(std::string_view event_type) const {
  check_path_argument(event_type, "event type");
  const std::string path =
      "/stream/specs/event-parameters/" + detail::encode_path_segment(event_type);
  return read_specs<EventParameterSpec>("event_parameter_specs",
                                        impl_->get_object("event_parameter_specs", path),
                                        read_event_parameter_spec);
}

RateLimit Client::rate_limit() const { return impl_->rate_limit(); }

}  // namespace instasent
