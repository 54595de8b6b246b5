// SPDX-License-Identifier: Apache-2.0
// Requests per minute per datasource and endpoint: in fixed one-minute windows, or as a token
// bucket that refills continuously.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace instasent::emulator {

enum class RateLimitMode {
  /// At most `per_minute` requests in each clock minute (:00 to :59); the count starts again at
  /// the next minute.
  window,
  /// A bucket of `burst` requests, full at first, refilled by one request every 60 / per_minute
  /// seconds. A request takes one; a request that finds less than one is refused.
  bucket,
};

struct RateDecision {
  bool allowed;
  long limit;      ///< The window's allowance, or the bucket's size.
  long remaining;  ///< Requests allowed at once after this one.
  /// Unix seconds when the allowance is whole again: the end of the current window, or when the
  /// bucket is full again (rounded up).
  std::int64_t reset;
  /// For a refused request in bucket mode: whole seconds (at least 1) until one more request is
  /// allowed, for Retry-After. 0 otherwise.
  std::int64_t retry_after;
};

class RateLimiter {
 public:
  /// `per_minute` 0 turns limiting off; answers then still carry headers, with this generous
  /// limit.
  static constexpr long kUnlimited = 1'000'000;

  /// `burst` is the bucket's size in bucket mode; 0 (or less) takes `per_minute`. Unused in
  /// window mode.
  explicit RateLimiter(long per_minute, RateLimitMode mode = RateLimitMode::window, long burst = 0);
  RateDecision check(const std::string& key, std::chrono::system_clock::time_point now);
  void reset();

 private:
  // One key's state: the current window, or the bucket as the instant it will be full again
  // (the generic cell rate algorithm: the bucket holds (burst_span - (full_at - now)) / interval
  // requests, never more than `burst`).
  struct State {
    std::int64_t window_start = 0;
    long used = 0;
    std::int64_t full_at_ns = 0;
  };
  RateDecision check_window(State& state, std::int64_t now_ns) const;
  RateDecision check_bucket(State& state, std::int64_t now_ns) const;

  const long per_minute_;
  const RateLimitMode mode_;
  const long burst_;
  const std::int64_t interval_ns_;  ///< Bucket mode: the time one request takes to refill.
  std::mutex mutex_;
  std::map<std::string, State> states_;
};

}  // namespace instasent::emulator
