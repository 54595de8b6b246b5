// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "instasent/batch_result.hpp"
#include "instasent/contact.hpp"
#include "instasent/event.hpp"
#include "instasent/export.hpp"
#include "instasent/options.hpp"
#include "instasent/results.hpp"
#include "instasent/specs.hpp"

namespace instasent {

namespace detail {
class ClientCore;  // the machinery behind a Client (not part of the API)
}  // namespace detail

/// A client of one datasource's Ingest API stream.
///
/// Every call is synchronous and reports failure by throwing `instasent::Error` (see error.hpp);
/// 5xx, 429 and transport failures are retried first as `ClientOptions::retry` says. A `Client`
/// may be used from several threads at once; copies share one transport and its connections.
///
/// What a call throws: `InvalidInputError` for an item, id or option refused before sending;
/// `UnauthorizedError` (401), `NotFoundError` (404), `BadRequestError` (400 and other 4xx),
/// `RateLimitedError` (429) and `ServerError` (5xx) once retries are exhausted, with the HTTP
/// status and request id; `TransportError` when no answer came; `UnreadableResponseError` when
/// the answer cannot be read. Ids in a path (user ids, event types) are percent-encoded; an empty
/// one, one longer than `kMaxIdBytes` or not valid UTF-8, and "." or "..", are refused
/// (`InvalidInputError`).
class INSTASENT_EXPORT Client {
 public:
  /// Validates the options (project, datasource, token, base URL) and throws
  /// `InvalidInputError` naming the first bad one.
  explicit Client(ClientOptions options);
  /// `Client(ClientOptions::from_env())`. Throws `InvalidInputError` naming the variable that
  /// is missing or refused.
  static Client from_env();

  /// GET /stream: the cheapest credential check.
  StreamInfo stream_info() const;

  /// POST /stream/contacts, split into requests of at most `batch.max_items` items and
  /// `batch.max_bytes` bytes. `result.items()[i]` is the fate of `contacts[i]`.
  ///
  /// A 422 (every item invalid) is returned as a result, not thrown. When a request fails as a
  /// whole (401, 404, 400, retries exhausted), the call stops and throws; the error's
  /// `partial_result()` gives the fate of every item, including those already accepted.
  BatchResult upsert_contacts(const std::vector<Contact>& contacts,
                              const WriteOptions& options = {}) const;
  /// POST /stream/events; as `upsert_contacts`, ids being `_event_id`.
  BatchResult record_events(const std::vector<Event>& events,
                            const WriteOptions& options = {}) const;

  /// DELETE /stream/contacts/{userId}: permanently removes the contact.
  DeleteResult delete_contact(std::string_view user_id) const;
  /// GET /stream/contacts/{userId}. Throws `NotFoundError` when there is no such contact.
  ContactRecord get_contact(std::string_view user_id) const;

  /// GET /stream/specs/attributes: the stream's attributes, reserved and custom. Throws
  /// `UnreadableResponseError` when the answer has no `specs` array.
  std::vector<AttributeSpec> attribute_specs() const;
  /// GET /stream/specs/events: the event types the stream knows; as `attribute_specs`.
  std::vector<EventSpec> event_specs() const;
  /// GET /stream/specs/event-parameters/{eventType}: the parameters of one event type (an
  /// `EventSpec::uid`); as `attribute_specs`.
  std::vector<EventParameterSpec> event_parameter_specs(std::string_view event_type) const;

  /// The latest `X-RateLimit-*` values seen by this client (and its copies).
  RateLimit rate_limit() const;

 private:
  friend class Ingestor;  // sends through the same machinery
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace instasent
