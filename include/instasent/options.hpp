// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "instasent/clock.hpp"
#include "instasent/curl_transport.hpp"
#include "instasent/export.hpp"
#include "instasent/limits.hpp"
#include "instasent/log.hpp"
#include "instasent/retry.hpp"
#include "instasent/transport.hpp"

namespace instasent {

/// The default `ClientOptions::base_url`: the Ingest API itself.
inline constexpr const char* kDefaultBaseUrl = "https://api.instasent.com/v1";

/// How large one batch request may be: for `Client`'s batch writes and for the `Ingestor`.
struct BatchLimits {
  /// Items per request (1..100).
  std::size_t max_items = kMaxBatchItems;
  /// Body bytes per request (at least 64); an item that alone exceeds it is refused before
  /// sending.
  std::size_t max_bytes = 1'000'000;
};

/// Everything a `Client` is configured with. Plain data with documented defaults.
///
/// Precedence: `ClientOptions::from_env()` fills the four connection fields from the environment
/// where the variables are set, over the defaults below; whatever the application assigns
/// afterwards wins over both.
struct INSTASENT_EXPORT ClientOptions {
  std::string project;     ///< INSTASENT_PROJECT
  std::string datasource;  ///< INSTASENT_DATASOURCE
  std::string token;       ///< INSTASENT_TOKEN. Never logged, never in an error message.
  /// INSTASENT_BASE_URL: scheme, host, optional port and `/v1`.
  std::string base_url = kDefaultBaseUrl;
  /// Plain `http://` is refused unless the host is loopback (127.0.0.0/8, ::1, localhost) or this
  /// is set.
  bool allow_insecure_http = false;

  /// How `upsert_contacts` and `record_events` split their input into requests.
  BatchLimits batch;

  /// How a call retries (see `RetryPolicy`); `max_attempts` at most 100.
  RetryPolicy retry;
  /// Used when `transport` is null.
  CurlTransportOptions curl;
  /// The HTTP transport; null means a libcurl transport made from `curl`.
  std::shared_ptr<Transport> transport;
  /// The clock the retry logic waits on; null means the real one.
  std::shared_ptr<Clock> clock;

  /// Structured log records (see `LogRecord`) from this client and every `Ingestor` made from
  /// it: requests, retries, rate-limit pauses, dropped items, spool recovery. Null (the default)
  /// turns logging off, at the cost of one test per place that could log. A request an
  /// `Ingestor`'s `close` left in flight may still log its answer after `close` returns, so the
  /// handler must not use what the caller destroys then (hold it in a `shared_ptr`).
  LogHandler on_log;
  /// Records below this level are neither built nor passed to `on_log`.
  LogLevel log_level = LogLevel::info;

  /// Defaults, with project, datasource, token and base URL taken from the `INSTASENT_*`
  /// environment variables that are set (and not empty).
  static ClientOptions from_env();
};

/// Flags for the two batch writes.
struct WriteOptions {
  /// `?_sync`: the server processes the batch before answering.
  bool sync = false;
  /// `?_dryRun`: validate only, store nothing.
  bool dry_run = false;
};

}  // namespace instasent
