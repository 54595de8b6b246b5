// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "instasent/export.hpp"

namespace instasent {

/// How much a log record matters. `ClientOptions::log_level` drops what is below it.
enum class LogLevel {
  debug,    ///< Every request and answer.
  info,     ///< Retries scheduled, items recovered from a spool.
  warning,  ///< Rate-limit pauses, requests without an answer, items dropped.
  error,    ///< The Ingestor stopped sending (the server refused the credentials or stream).
};

/// The level's name: `debug`, `info`, `warning` or `error`.
INSTASENT_EXPORT const char* to_string(LogLevel level) noexcept;

/// What happened. Each event always comes at the level given here.
enum class LogEvent {
  request_sent,      ///< debug: a request goes out (`operation`, `attempt`, `items`).
  request_answered,  ///< debug: its answer came (`http_status`, `request_id`, `elapsed`).
  request_failed,    ///< warning: no answer: a transport error (`message`, `elapsed`).
  retry_scheduled,   ///< info: the request (or its items) will be sent again after `wait`.
  rate_limited,      ///< warning: a 429: sending pauses for `wait` (at most `max_rate_limit_wait`).
  item_dropped,      ///< warning: an Ingestor item will not be delivered (reason in `message`).
  spool_recovered,   ///< info: an Ingestor queued `items` found in its spool from an earlier run.
  sending_stopped,   ///< error: the Ingestor stopped sending after `http_status` (401 or 404).
};

/// The event's name, as written above (`request_sent`, `retry_scheduled`, ...).
INSTASENT_EXPORT const char* to_string(LogEvent event) noexcept;

/// One structured log record. It never holds the token or a request's body. The views are valid
/// only during the callback: copy what you keep.
struct LogRecord {
  LogLevel level = LogLevel::info;          ///< How much it matters.
  LogEvent event = LogEvent::request_sent;  ///< What happened.
  /// The call (`upsert_contacts`, `stream_info`, ...) or, from the Ingestor, the item's operation
  /// (`upsert_contact`, `record_event`, `delete_contact`); empty when none applies.
  std::string_view operation;
  int http_status = 0;                   ///< The answer's status; 0 when there was none.
  int attempt = 0;                       ///< 1 for a first attempt; 0 when not about one request.
  std::size_t items = 0;                 ///< Items concerned; 0 when not about items.
  std::chrono::milliseconds wait{0};     ///< retry_scheduled, rate_limited: the pause.
  std::chrono::milliseconds elapsed{0};  ///< request_answered, request_failed: the exchange.
  std::string_view request_id;           ///< The answer's `X-Request-Id`, if any.
  std::string_view message;              ///< A human-readable detail; may be empty.
};

/// The record on one line: `level event key=value ...: message`, for a plain text log.
INSTASENT_EXPORT std::string format(const LogRecord& record);

/// Receives log records. Called on the thread that did the work (the caller's, or a sender
/// thread of an Ingestor), possibly from several threads at once. It must not block for long;
/// an exception it throws is swallowed.
using LogHandler = std::function<void(const LogRecord&)>;

}  // namespace instasent
