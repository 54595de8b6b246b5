// SPDX-License-Identifier: Apache-2.0
#include "instasent/client.hpp"

#include <mutex>
#include <optional>
#include <random>

#include "batch_reader.hpp"
#include "instasent/error.hpp"
#include "json_text.hpp"
#include "outcome.hpp"
#include "retry_logic.hpp"
#include "spec_readers.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent {

using detail::JsonAnswer;
using detail::Outcome;
using detail::parse_body;
using detail::raise;
using detail::raise_unreadable;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

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
    if (!outcome.response || !detail::is_success(outcome.response->status)) {
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
          (detail::is_success(outcome.response->status) || outcome.response->status == 422)) {
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
      fail_batch(operation, outcome, items, id_of, first, last, result);
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
                               std::size_t last, BatchResult& result) {
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

std::vector<AttributeSpec> Client::attribute_specs() const {
  return detail::read_specs<AttributeSpec>(
      "attribute_specs", impl_->get_object("attribute_specs", "/stream/specs/attributes"),
      detail::read_attribute_spec);
}

std::vector<EventSpec> Client::event_specs() const {
  return detail::read_specs<EventSpec>("event_specs",
                                       impl_->get_object("event_specs", "/stream/specs/events"),
                                       detail::read_event_spec);
}

std::vector<EventParameterSpec> Client::event_parameter_specs(std::string_view event_type) const {
  check_path_argument(event_type, "event type");
  const std::string path =
      "/stream/specs/event-parameters/" + detail::encode_path_segment(event_type);
  return detail::read_specs<EventParameterSpec>("event_parameter_specs",
                                                impl_->get_object("event_parameter_specs", path),
                                                detail::read_event_parameter_spec);
}

RateLimit Client::rate_limit() const { return impl_->rate_limit(); }

}  // namespace instasent
