// SPDX-License-Identifier: Apache-2.0
#include "rate_limiter.hpp"

#include <algorithm>

namespace instasent::emulator {

namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Unix seconds at or after the instant: a Reset or Retry-After never comes too early.
std::int64_t seconds_rounded_up(std::int64_t ns) {
  return ns / kNanosPerSecond + (ns % kNanosPerSecond > 0 ? 1 : 0);
}

}  // namespace

RateLimiter::RateLimiter(long per_minute, RateLimitMode mode, long burst)
    : per_minute_(per_minute),
      mode_(mode),
      burst_(burst > 0 ? burst : per_minute),
      // Whole nanoseconds: at most 1 ns a request early, which no client can see.
      interval_ns_(std::max<std::int64_t>(1, 60 * kNanosPerSecond / std::max(per_minute, 1L))) {}

RateDecision RateLimiter::check(const std::string& key, std::chrono::system_clock::time_point now) {
  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  if (per_minute_ <= 0) {
    const std::int64_t seconds = now_ns / kNanosPerSecond;
    return {true, kUnlimited, kUnlimited, seconds - seconds % 60 + 60, 0};
  }
  std::lock_guard<std::mutex> lock(mutex_);
  State& state = states_[key];
  return mode_ == RateLimitMode::bucket ? check_bucket(state, now_ns) : check_window(state, now_ns);
}

RateDecision RateLimiter::check_window(State& state, std::int64_t now_ns) const {
  const std::int64_t seconds = now_ns / kNanosPerSecond;
  const std::int64_t window_start = seconds - seconds % 60;
  const std::int64_t reset = window_start + 60;
  if (state.window_start != window_start) state = State{window_start, 0, 0};
  if (state.used >= per_minute_) return {false, per_minute_, 0, reset, 0};
  ++state.used;
  return {true, per_minute_, per_minute_ - state.used, reset, 0};
}

RateDecision RateLimiter::check_bucket(State& state, std::int64_t now_ns) const {
  const std::int64_t burst_span = burst_ * interval_ns_;  // the time an empty bucket takes to fill
  // A bucket full before now is full now: it holds no more than `burst`.
  const std::int64_t full_at = std::max(state.full_at_ns, now_ns);
  const std::int64_t taken_after = full_at + interval_ns_;
  if (taken_after - now_ns > burst_span) {
    // Less than one request in the bucket: the next one is there when full_at comes within
    // burst_span - interval of now.
    const std::int64_t next_ns = taken_after - burst_span;
    return {false, burst_, 0, seconds_rounded_up(full_at),
            std::max<std::int64_t>(1, seconds_rounded_up(next_ns - now_ns))};
  }
  state.full_at_ns = taken_after;
  const long remaining = static_cast<long>((burst_span - (taken_after - now_ns)) / interval_ns_);
  return {true, burst_, remaining, seconds_rounded_up(taken_after), 0};
}

void RateLimiter::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  states_.clear();
}

}  // namespace instasent::emulator
