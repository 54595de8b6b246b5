// SPDX-License-Identifier: Apache-2.0
#include "rate_limiter.hpp"

namespace instasent::emulator {

RateDecision RateLimiter::check(const std::string& key, std::chrono::system_clock::time_point now) {
  const std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t window_start = seconds - seconds % 60;
  const std::int64_t reset = window_start + 60;
  if (per_minute_ <= 0) return {true, kUnlimited, kUnlimited, reset};
  std::lock_guard<std::mutex> lock(mutex_);
  Window& window = windows_[key];
  if (window.start != window_start) window = Window{window_start, 0};
  if (window.used >= per_minute_) return {false, per_minute_, 0, reset};
  ++window.used;
  return {true, per_minute_, per_minute_ - window.used, reset};
}

void RateLimiter::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  windows_.clear();
}

}  // namespace instasent::emulator
