// SPDX-License-Identifier: Apache-2.0
#include "instasent/error.hpp"

#include "instasent/batch_result.hpp"

namespace instasent {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::unauthorized:
      return "unauthorized";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::bad_request:
      return "bad_request";
    case ErrorKind::rate_limited:
      return "rate_limited";
    case ErrorKind::server_error:
      return "server_error";
    case ErrorKind::transport:
      return "transport";
    case ErrorKind::unreadable_response:
      return "unreadable_response";
  }
  return "unknown";
}

Error::Error(ErrorKind kind, const std::string& message, int http_status,
             std::string server_message, std::string request_id)
    : std::runtime_error(message),
      kind_(kind),
      http_status_(http_status),
      server_message_(std::move(server_message)),
      request_id_(std::move(request_id)) {}

InvalidInputError::InvalidInputError(std::string field, const std::string& problem, long item_index)
    : Error(ErrorKind::invalid_input,
            "instasent: invalid input: " +
                (item_index >= 0 ? "item " + std::to_string(item_index) + ": " : std::string()) +
                field + " " + problem),
      field_(std::move(field)),
      item_index_(item_index) {}

TransportError::TransportError(TransportFailure failure, const std::string& message)
    : Error(ErrorKind::transport, message), failure_(failure) {}

bool TransportError::maybe_delivered() const noexcept {
  switch (failure_) {
    case TransportFailure::resolve:
    case TransportFailure::connect:
    case TransportFailure::tls:
    case TransportFailure::certificate:
      return false;
    default:
      return true;
  }
}

bool TransportError::retryable() const noexcept {
  switch (failure_) {
    case TransportFailure::certificate:
    case TransportFailure::protocol:
    case TransportFailure::too_large:
      return false;
    default:
      return true;
  }
}

const char* to_string(TransportFailure failure) noexcept {
  switch (failure) {
    case TransportFailure::resolve:
      return "resolve";
    case TransportFailure::connect:
      return "connect";
    case TransportFailure::tls:
      return "tls";
    case TransportFailure::certificate:
      return "certificate";
    case TransportFailure::timeout:
      return "timeout";
    case TransportFailure::send:
      return "send";
    case TransportFailure::receive:
      return "receive";
    case TransportFailure::protocol:
      return "protocol";
    case TransportFailure::too_large:
      return "too_large";
    case TransportFailure::other:
      break;
  }
  return "other";
}

}  // namespace instasent
