// SPDX-License-Identifier: Apache-2.0
#include "instasent/client.hpp"

#include <mutex>
#include <new>
#include <optional>
#include <random>

#include "client_impl.hpp"
#include "ids.hpp"
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

// Longer than any token Instasent issues, short enough for every server's header limit.
constexpr std::size_t kMaxTokenBytes = 8192;

void check_token(const std::string& token) {
  if (token.empty()) throw InvalidInputError("token (INSTASENT_TOKEN)", "is not set");
  if (token.size() > kMaxTokenBytes) {
    throw InvalidInputError("token (INSTASENT_TOKEN)", "is longer than 8192 bytes");
  }
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      throw InvalidInputError("token (INSTASENT_TOKEN)",
                              "contains a space, a control character (such as CR or LF) or a "
                              "non-ASCII byte");
    }
  }
}

// Options that would disable a safety (a timeout of 0, a size limit of 0) or make no sense.
void check_options(const ClientOptions& options) {
  using std::chrono::milliseconds;
  const auto positive = [](milliseconds value, const char* field) {
    if (value <= milliseconds(0)) throw InvalidInputError(field, "must be positive");
  };
  const auto not_negative = [](milliseconds value, const char* field) {
    if (value < milliseconds(0)) throw InvalidInputError(field, "must not be negative");
  };
  if (options.max_batch_items < 1 || options.max_batch_items > kMaxBatchItems) {
    throw InvalidInputError("max_batch_items", "must be between 1 and 100");
  }
  if (options.max_batch_bytes < 64) {
    throw InvalidInputError("max_batch_bytes", "must be at least 64");
  }
  const RetryPolicy& retry = options.retry;
  if (retry.max_attempts < 1 || retry.max_attempts > 100) {
    throw InvalidInputError("retry.max_attempts", "must be between 1 and 100");
  }
  not_negative(retry.initial_backoff, "retry.initial_backoff");
  if (retry.max_backoff < retry.initial_backoff) {
    throw InvalidInputError("retry.max_backoff", "must not be less than retry.initial_backoff");
  }
  if (!(retry.multiplier >= 1.0 && retry.multiplier <= 1000.0)) {
    throw InvalidInputError("retry.multiplier", "must be between 1 and 1000");
  }
  not_negative(retry.max_rate_limit_wait, "retry.max_rate_limit_wait");
  positive(retry.deadline, "retry.deadline");
  const CurlTransportOptions& curl = options.curl;
  positive(curl.connect_timeout, "curl.connect_timeout");
  positive(curl.request_timeout, "curl.request_timeout");
  if (curl.max_response_bytes < 1024) {
    throw InvalidInputError("curl.max_response_bytes", "must be at least 1024");
  }
  if (curl.low_speed_bytes > 0 && curl.low_speed_time <= std::chrono::seconds(0)) {
    throw InvalidInputError("curl.low_speed_time", "must be positive when low_speed_bytes is set");
  }
}

// Runs a call; running out of memory (a huge answer, a huge batch) is reported as the SDK's own
// error, so that nothing but an instasent::Error leaves a call.
template <typename Call>
auto guarded(const char* operation, Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::bad_alloc&) {
    throw TransportError(TransportFailure::other,
                         std::string("instasent: ") + operation + ": out of memory");
  }
}

}  // namespace

Client::Impl::Impl(ClientOptions options) : options_(std::move(options)) {
  detail::check_path_segment(options_.project, "project (INSTASENT_PROJECT)");
  detail::check_path_segment(options_.datasource, "datasource (INSTASENT_DATASOURCE)");
  check_token(options_.token);
  const std::string base = detail::normalize_base_url(
      options_.base_url, options_.allow_insecure_http, "base URL (INSTASENT_BASE_URL)");
  check_options(options_);
  prefix_ = base + "/project/" + detail::encode_path_segment(options_.project) + "/datasource/" +
            detail::encode_path_segment(options_.datasource);
  authorization_ = "Bearer " + options_.token;
  transport_ = options_.transport ? options_.transport : make_curl_transport(options_.curl);
  clock_ = options_.clock ? options_.clock : system_clock();
  rng_.seed(options_.retry.jitter_seed != 0
                ? options_.retry.jitter_seed
                : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  detail::register_fork_aware(this);
}

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

Client Client::from_env() { return Client(ClientOptions::from_env()); }

StreamInfo Client::stream_info() const {
  return guarded("stream_info", [&] {
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
  });
}

BatchResult Client::upsert_contacts(const std::vector<Contact>& contacts,
                                    const WriteOptions& options) const {
  return guarded("upsert_contacts", [&] {
    return impl_->write("upsert_contacts", "/stream/contacts", BatchKind::contacts, contacts,
                        options,
                        [](const Contact& c) -> const std::string& { return c.user_id(); });
  });
}

BatchResult Client::record_events(const std::vector<Event>& events,
                                  const WriteOptions& options) const {
  return guarded("record_events", [&] {
    return impl_->write("record_events", "/stream/events", BatchKind::events, events, options,
                        [](const Event& e) -> const std::string& { return e.event_id(); });
  });
}

DeleteResult Client::delete_contact(std::string_view user_id) const {
  detail::check_path_segment(user_id, "user id");
  return guarded("delete_contact", [&] {
    const HttpResponse response = impl_->call(
        "delete_contact", "DELETE", "/stream/contacts/" + detail::encode_path_segment(user_id));
    return DeleteResult{response.status, response.headers.get("X-Request-Id").value_or(""),
                        parse_body(response.body)};
  });
}

ContactRecord Client::get_contact(std::string_view user_id) const {
  detail::check_path_segment(user_id, "user id");
  return guarded("get_contact", [&] {
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
  });
}

std::vector<AttributeSpec> Client::attribute_specs() const {
  return guarded("attribute_specs", [&] {
    return detail::read_specs<AttributeSpec>(
        "attribute_specs", impl_->get_object("attribute_specs", "/stream/specs/attributes"),
        detail::read_attribute_spec);
  });
}

std::vector<EventSpec> Client::event_specs() const {
  return guarded("event_specs", [&] {
    return detail::read_specs<EventSpec>("event_specs",
                                         impl_->get_object("event_specs", "/stream/specs/events"),
                                         detail::read_event_spec);
  });
}

std::vector<EventParameterSpec> Client::event_parameter_specs(std::string_view event_type) const {
  detail::check_path_segment(event_type, "event type");
  return guarded("event_parameter_specs", [&] {
    const std::string path =
        "/stream/specs/event-parameters/" + detail::encode_path_segment(event_type);
    return detail::read_specs<EventParameterSpec>("event_parameter_specs",
                                                  impl_->get_object("event_parameter_specs", path),
                                                  detail::read_event_parameter_spec);
  });
}

RateLimit Client::rate_limit() const { return impl_->rate_limit(); }

}  // namespace instasent
