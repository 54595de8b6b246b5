// SPDX-License-Identifier: Apache-2.0
// A clock for tests: time moves only when something sleeps on it, so retry waits cost nothing.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "instasent/clock.hpp"

namespace instasent::testing {

/// A Clock whose time only moves when someone sleeps on it (or `advance` is called). Every sleep
/// is recorded and returns at once. Thread-safe.
class FakeClock : public instasent::Clock {
 public:
  /// Starts at 2026-11-28T10:00:00Z (system) and an arbitrary steady time.
  FakeClock();
  explicit FakeClock(std::chrono::system_clock::time_point system_start);

  std::chrono::system_clock::time_point system_now() override;
  std::chrono::steady_clock::time_point steady_now() override;
  void sleep_for(std::chrono::milliseconds duration) override;

  void advance(std::chrono::milliseconds duration);
  std::vector<std::chrono::milliseconds> sleeps() const;
  std::chrono::milliseconds total_slept() const;
  void clear_sleeps();

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point system_now_;
  std::chrono::steady_clock::time_point steady_now_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace instasent::testing
