// SPDX-License-Identifier: Apache-2.0
// The pure parts of the retry policy: which answers to retry and how long to wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "instasent/http.hpp"
#include "instasent/retry.hpp"

namespace instasent::detail {

/// 429 and 5xx are worth another attempt; every other status is final.
inline bool is_retryable_status(int status) { return status == 429 || status >= 500; }

/// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form HTTP servers must send.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

/// The wait before retry number `retry` (1 for the first retry) after a 5xx or transport failure:
/// `initial_backoff * multiplier^(retry-1)`, capped at `max_backoff`, then drawn from [half, full]
/// of that by `random` (any 64-bit value).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::uint64_t random);

/// What a 429 answer asks a client to wait: `Retry-After` (seconds or HTTP-date) when present,
/// else until `X-RateLimit-Reset`. Times are measured against the answer's `Date` header when it
/// has one (so local clock skew cancels out), else against `local_now`. Nullopt when the answer
/// says nothing usable or the moment has passed; the result is not capped.
std::optional<std::chrono::milliseconds> rate_limit_delay(
    const Headers& headers, std::chrono::system_clock::time_point local_now);

}  // namespace instasent::detail
