// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>

namespace instasent {

/// How often and how long to retry, and how long to wait in between.
///
/// Retried: 5xx, transport failures (DNS, connect, TLS, timeouts, dropped connections) and 429.
/// Never retried: 400, 401, 404, 422 and other 4xx. Waits after 5xx and transport failures grow
/// exponentially from `initial_backoff` by `multiplier` up to `max_backoff`, each drawn at random
/// from [half, full] of the current step ("equal jitter"). After a 429 the client waits for
/// `Retry-After` when present, otherwise until `X-RateLimit-Reset` (measured against the answer's
/// `Date` header, so a skewed local clock does not matter), otherwise the backoff; never longer
/// than `max_rate_limit_wait`.
struct RetryPolicy {
  /// Attempts per request, the first included. 1 disables retries.
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};  ///< The first step (not negative).
  std::chrono::milliseconds max_backoff{10'000};   ///< The largest step (at least the first).
  double multiplier = 2.0;                         ///< How each step grows (1..1000).
  /// The longest wait after a 429, whatever the answer asks (not negative).
  std::chrono::milliseconds max_rate_limit_wait{60'000};
  /// Overall budget for one request and its retries: no wait is started that would end past it.
  std::chrono::milliseconds deadline{120'000};
  /// Seed for the jitter (0: seeded from std::random_device).
  std::uint64_t jitter_seed = 0;
};

}  // namespace instasent
