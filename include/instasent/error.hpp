// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "instasent/export.hpp"

namespace instasent {

namespace detail {
struct ErrorAccess;  // not part of the API
}  // namespace detail

class BatchResult;

/// What went wrong. Every failure the SDK reports is an `instasent::Error` (or a subclass) whose
/// `kind()` is one of these.
enum class ErrorKind {
  invalid_input,  ///< A value, id, option or configuration was refused before sending.
  unauthorized,   ///< HTTP 401: token missing, malformed or revoked.
  not_found,      ///< HTTP 404: unknown project/datasource/contact, or token not allowed there.
  bad_request,    ///< HTTP 400 (or another non-retryable 4xx): the request as a whole was refused.
  rate_limited,   ///< HTTP 429 and the retry policy gave up waiting.
  server_error,   ///< HTTP 5xx and the retry policy gave up.
  transport,      ///< DNS, connect, TLS, send/receive failure or timeout, after retries.
  unreadable_response,  ///< The server answered, but not with a body this SDK can read.
};

/// A short, stable name for a kind, e.g. "unauthorized".
INSTASENT_EXPORT const char* to_string(ErrorKind kind) noexcept;

/// The single error model of the SDK: every operation reports failure by throwing an `Error`.
///
/// `what()` names the operation, the HTTP status and the request id, or for invalid input the
/// field and the item index. It never contains the token, a request header or any part of a
/// request payload, and it does not quote the server: the server's own text, which may echo what
/// was sent, is in `server_message()` (with the token, should the server quote it, replaced by
/// "***").
///
/// Catching by kind, then reading the partial result of a batch write and the request id:
/// @code
/// try {
///   const instasent::BatchResult result = client.upsert_contacts(contacts);
///   // every item has its fate in result.items()
/// } catch (const instasent::InvalidInputError& e) {  // refused before anything was sent
///   std::cerr << e.field() << " (item " << e.item_index() << "): " << e.what() << '\n';
/// } catch (const instasent::Error& e) {
///   switch (e.kind()) {
///     case instasent::ErrorKind::unauthorized:
///     case instasent::ErrorKind::not_found:
///       std::cerr << "check the token, project and datasource\n";
///       break;
///     default:  // rate_limited, server_error, transport...: the retries are exhausted
///       break;
///   }
///   std::cerr << e.what() << " (request id: " << e.request_id() << ")\n";
///   if (const instasent::BatchResult* partial = e.partial_result()) {
///     for (const instasent::ItemResult& item : partial->items()) {
///       if (item.status == instasent::ItemStatus::unknown ||
///           item.status == instasent::ItemStatus::not_sent) {
///         resend.push_back(contacts[item.index]);  // safe to send again
///       }
///     }
///   }
/// }
/// @endcode
class INSTASENT_EXPORT Error : public std::runtime_error {
 public:
  /// An error of `kind` whose `what()` is `message`, with what the last answer said, if any.
  /// The SDK throws these; an application's own `Transport` or test may too.
  Error(ErrorKind kind, const std::string& message, int http_status = 0,
        std::string server_message = {}, std::string request_id = {});

  /// What went wrong: match on this (or on the type caught), not on `what()`.
  ErrorKind kind() const noexcept { return kind_; }
  /// The HTTP status of the last answer, or 0 when there was none.
  int http_status() const noexcept { return http_status_; }
  /// The `message` field of the server's JSON error body, when it had one (printable, at most
  /// 300 bytes, the token masked).
  const std::string& server_message() const noexcept { return server_message_; }
  /// The `X-Request-Id` of the last answer, when present: quote it to support.
  const std::string& request_id() const noexcept { return request_id_; }

  /// For batch writes that had already sent some requests when this failure stopped them: the
  /// fate of every input item (accepted, rejected, unknown or not sent). Null otherwise.
  const BatchResult* partial_result() const noexcept { return partial_.get(); }

 private:
  friend struct detail::ErrorAccess;  // attaches the partial result where the error is raised

  ErrorKind kind_;
  int http_status_;
  std::string server_message_;
  std::string request_id_;
  std::shared_ptr<const BatchResult> partial_;
};

/// A value, id, option or configuration was refused; thrown where the value is set or before
/// anything is sent. `field()` names the offending field (e.g. "_email", "attribute 'plan'",
/// "INSTASENT_TOKEN"); `item_index()` is the input index for batch calls, or -1.
class INSTASENT_EXPORT InvalidInputError : public Error {
 public:
  /// An `ErrorKind::invalid_input` error: `field` is what was refused, `problem` says why
  /// (e.g. "must not be empty"); both go into `what()`.
  InvalidInputError(std::string field, const std::string& problem, long item_index = -1);
  /// The field, option or variable that was refused, e.g. "_email" or "queue.max_items".
  const std::string& field() const noexcept { return field_; }
  /// The index of the refused item in a batch call's input; -1 when it is not an item's.
  long item_index() const noexcept { return item_index_; }

 private:
  std::string field_;
  long item_index_;
};

/// An error of one fixed kind; each kind the server can cause has its own type to catch.
template <ErrorKind Kind>
class INSTASENT_EXPORT ErrorOf : public Error {
 public:
  /// An error of kind `Kind`; the arguments are those of `Error`.
  explicit ErrorOf(const std::string& message, int http_status = 0, std::string server_message = {},
                   std::string request_id = {})
      : Error(Kind, message, http_status, std::move(server_message), std::move(request_id)) {}
};

/// HTTP 401 (`ErrorKind::unauthorized`).
using UnauthorizedError = ErrorOf<ErrorKind::unauthorized>;
/// HTTP 404 (`ErrorKind::not_found`).
using NotFoundError = ErrorOf<ErrorKind::not_found>;
/// HTTP 400 or another 4xx that is not retried (`ErrorKind::bad_request`).
using BadRequestError = ErrorOf<ErrorKind::bad_request>;
/// HTTP 429 after the retry policy gave up waiting (`ErrorKind::rate_limited`).
using RateLimitedError = ErrorOf<ErrorKind::rate_limited>;
/// HTTP 5xx after the retry policy gave up (`ErrorKind::server_error`).
using ServerError = ErrorOf<ErrorKind::server_error>;
/// An answer this SDK cannot read (`ErrorKind::unreadable_response`).
using UnreadableResponseError = ErrorOf<ErrorKind::unreadable_response>;

/// Why a transport failed.
enum class TransportFailure {
  resolve,      ///< The host name could not be resolved.
  connect,      ///< No connection could be made.
  tls,          ///< The TLS handshake failed (retried: it may be passing trouble).
  certificate,  ///< The server's certificate failed verification, or the CA file is unusable.
  timeout,      ///< No answer in time (`request_timeout`, or the low-speed limit).
  send,         ///< The connection failed while sending.
  receive,      ///< The connection failed while receiving, or the answer was cut short.
  protocol,     ///< The answer was not valid HTTP (or not decodable), or the URL was unusable.
  too_large,    ///< The answer exceeded `max_response_bytes` (or its head, the header limit).
  other,        ///< Anything else, such as running out of memory.
};

/// A short, stable name for a failure, e.g. "certificate".
INSTASENT_EXPORT const char* to_string(TransportFailure failure) noexcept;

/// No HTTP answer was received. `maybe_delivered()` tells whether the server may have received the
/// request (true for timeouts and failures after sending, false for DNS, connect and TLS
/// failures); `retryable()` whether another attempt could succeed (false for a certificate that
/// fails verification, an answer that is not HTTP, and one that is too large: those are reported
/// after the first attempt).
class INSTASENT_EXPORT TransportError : public Error {
 public:
  /// An `ErrorKind::transport` error; a `Transport` throws it when no answer came.
  TransportError(TransportFailure failure, const std::string& message);
  /// Why no answer came.
  TransportFailure failure() const noexcept { return failure_; }
  /// Whether the server may have received the request (see above).
  bool maybe_delivered() const noexcept;
  /// Whether another attempt could succeed (see above).
  bool retryable() const noexcept;

 private:
  TransportFailure failure_;
};

}  // namespace instasent
