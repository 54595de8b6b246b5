// SPDX-License-Identifier: Apache-2.0
// Requests per minute per datasource and endpoint, in fixed one-minute windows.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace instasent::emulator {

struct RateDecision {
  bool allowed;
  long limit;
  long remaining;
  std::int64_t reset;  ///< Unix seconds when the current window ends.
};

class RateLimiter {
 public:
  /// `per_minute` 0 turns limiting off; answers then still carry headers, with this generous
  /// limit.
  static constexpr long kUnlimited = 1'000'000;

  explicit RateLimiter(long per_minute) : per_minute_(per_minute) {}
  RateDecision check(const std::string& key, std::chrono::system_clock::time_point now);
  void reset();

 private:
  struct Window {
    std::int64_t start = 0;
    long used = 0;
  };
  const long per_minute_;
  std::mutex mutex_;
  std::map<std::string, Window> windows_;
};

}  // namespace instasent::emulator
