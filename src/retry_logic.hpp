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

/// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form HTTP servers must send,
/// into seconds since the Unix epoch (any year from 0000 to 9999, without overflow).
std::optional<std::int64_t> parse_http_date(std::string_view text);

/// Whole numbers of seconds read from headers (`Retry-After`, `X-RateLimit-Reset`) saturate here:
/// past it, any number means "very far away".
inline constexpr std::int64_t kMaxWholeSeconds = 1'000'000'000'000;  // about 31,700 years

/// A non-negative decimal number of seconds (after trimming blanks), of any length: numbers past
/// `kMaxWholeSeconds` give `kMaxWholeSeconds`. Nullopt for anything that is not all digits.
std::optional<std::int64_t> parse_whole_seconds(std::string_view text) noexcept;

/// The latest Unix time this SDK turns into a `system_clock::time_point` (which counts
/// nanoseconds in 64 bits, so it ends in 2262): 2200-01-01T00:00:00Z.
inline constexpr std::int64_t kLatestUnixTime = 7'258'118'400;

/// `seconds` since the epoch as a time point; nullopt when negative or past `kLatestUnixTime`.
std::optional<std::chrono::system_clock::time_point> unix_time(std::int64_t seconds) noexcept;

/// The wait before retry number `retry` (1 for the first retry) after a 5xx or transport failure:
/// `initial_backoff * multiplier^(retry-1)`, capped at `max_backoff`, then drawn from [half, full]
/// of that by `random` (any 64-bit value).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::uint64_t random);

/// The longest wait `rate_limit_delay` reports (callers cap it further with
/// `max_rate_limit_wait`): a year.
inline constexpr std::chrono::milliseconds kMaxRateLimitDelay{365LL * 24 * 3600 * 1000};

/// What a 429 answer asks a client to wait: `Retry-After` (seconds or HTTP-date) when present,
/// else until `X-RateLimit-Reset`. Times are measured against the answer's `Date` header when it
/// has one (so local clock skew cancels out), else against `local_now`. Nullopt when the answer
/// says nothing usable or the moment has passed; at most `kMaxRateLimitDelay`, however far away
/// the answer's time is.
std::optional<std::chrono::milliseconds> rate_limit_delay(
    const Headers& headers, std::chrono::system_clock::time_point local_now);

/// What an answer says is left of the rate limit: requests still allowed, and how long until the
/// allowance is renewed.
struct Allowance {
  std::int64_t remaining = 0;
  std::chrono::milliseconds renewed_in{0};  ///< 0 when the moment has passed.
  std::int64_t reset = 0;  ///< The Reset header's value: answers of one period share it.
};

/// `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds, measured as rate_limit_delay
/// measures it); nullopt unless both are whole numbers. At most `kMaxRateLimitDelay` away.
std::optional<Allowance> rate_limit_allowance(const Headers& headers,
                                              std::chrono::system_clock::time_point local_now);

}  // namespace instasent::detail
