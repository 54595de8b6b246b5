// SPDX-License-Identifier: Apache-2.0
#include "instasent/client.hpp"

#include <mutex>
#include <new>
#include <optional>
#include <random>

#include "client_core.hpp"
#include "ids.hpp"
#include "instasent/error.hpp"
#include "json_text.hpp"
#include "outcome.hpp"
#include "retry_logic.hpp"
#include "spec_readers.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent {

using detail::BatchKind;
using detail::JsonAnswer;
using detail::parse_body;
using detail::raise;
using detail::raise_unreadable;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Serializes every item once, comma-separated, so that each request body is one slice; refuses
// an item without an id, or too large to be sent even alone.
template <typename Item, typename IdOf>
detail::SerializedBatch serialize(const std::vector<Item>& items, BatchKind kind,
                                  std::size_t max_bytes, IdOf id_of) {
  detail::SerializedBatch batch;
  batch.ends.reserve(items.size());
  batch.ids.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& id = id_of(items[i]);
    if (id.empty()) {
      throw InvalidInputError(kind == BatchKind::events ? "_event_id" : "_user_id",
                              kind == BatchKind::events
                                  ? "is empty (set it with event_id(), or send through the "
                                    "Ingestor, which generates one)"
                                  : "is empty (a moved-from item?)",
                              static_cast<long>(i));
    }
    const std::size_t begin = batch.buffer.size() + (i == 0 ? 0 : 1);
    if (i != 0) batch.buffer.push_back(',');
    items[i].append_json(batch.buffer);
    batch.ends.push_back(batch.buffer.size());
    batch.ids.emplace_back(id);
    const std::size_t size = batch.buffer.size() - begin;
    if (size + 2 > max_bytes) {
      throw InvalidInputError(
          "item",
          "serializes to " + std::to_string(size) + " bytes, more than batch.max_bytes allows",
          static_cast<long>(i));
    }
  }
  return batch;
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

Client::Client(ClientOptions options)
    : core_(std::make_shared<detail::ClientCore>(std::move(options))) {}

Client Client::from_env() { return Client(ClientOptions::from_env()); }

StreamInfo Client::stream_info() const {
  return guarded("stream_info", [&] {
    json body = core_->get_object("stream_info", "/stream").body;
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
    const auto user_id = [](const Contact& c) -> const std::string& { return c.user_id(); };
    return core_->write(
        "upsert_contacts", "/stream/contacts", BatchKind::contacts,
        serialize(contacts, BatchKind::contacts, core_->options().batch.max_bytes, user_id),
        options);
  });
}

BatchResult Client::record_events(const std::vector<Event>& events,
                                  const WriteOptions& options) const {
  return guarded("record_events", [&] {
    const auto event_id = [](const Event& e) -> const std::string& { return e.event_id(); };
    return core_->write(
        "record_events", "/stream/events", BatchKind::events,
        serialize(events, BatchKind::events, core_->options().batch.max_bytes, event_id), options);
  });
}

DeleteResult Client::delete_contact(std::string_view user_id) const {
  detail::check_path_segment(user_id, "user id");
  return guarded("delete_contact", [&] {
    const HttpResponse response = core_->call(
        "delete_contact", "DELETE", "/stream/contacts/" + detail::encode_path_segment(user_id));
    return DeleteResult{response.status, response.headers.get("X-Request-Id").value_or(""),
                        parse_body(response.body)};
  });
}

ContactRecord Client::get_contact(std::string_view user_id) const {
  detail::check_path_segment(user_id, "user id");
  return guarded("get_contact", [&] {
    const std::string path = "/stream/contacts/" + detail::encode_path_segment(user_id);
    JsonAnswer answer = core_->get_object("get_contact", path);
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
        "attribute_specs", core_->get_object("attribute_specs", "/stream/specs/attributes"),
        detail::read_attribute_spec);
  });
}

std::vector<EventSpec> Client::event_specs() const {
  return guarded("event_specs", [&] {
    return detail::read_specs<EventSpec>("event_specs",
                                         core_->get_object("event_specs", "/stream/specs/events"),
                                         detail::read_event_spec);
  });
}

std::vector<EventParameterSpec> Client::event_parameter_specs(std::string_view event_type) const {
  detail::check_path_segment(event_type, "event type");
  return guarded("event_parameter_specs", [&] {
    const std::string path =
        "/stream/specs/event-parameters/" + detail::encode_path_segment(event_type);
    return detail::read_specs<EventParameterSpec>("event_parameter_specs",
                                                  core_->get_object("event_parameter_specs", path),
                                                  detail::read_event_parameter_spec);
  });
}

RateLimit Client::rate_limit() const { return core_->rate_limit(); }

}  // namespace instasent
