// SPDX-License-Identifier: Apache-2.0
#include "support/fake_clock.hpp"

namespace instasent::testing {

using std::chrono::milliseconds;
using std::chrono::system_clock;

FakeClock::FakeClock() : FakeClock(system_clock::time_point(std::chrono::seconds(1795860000))) {}

FakeClock::FakeClock(std::chrono::system_clock::time_point system_start)
    : system_now_(system_start),
      steady_now_(std::chrono::steady_clock::time_point(std::chrono::hours(1000))) {}

std::chrono::system_clock::time_point FakeClock::system_now() {
  std::lock_guard<std::mutex> lock(mutex_);
  return system_now_;
}

std::chrono::steady_clock::time_point FakeClock::steady_now() {
  std::lock_guard<std::mutex> lock(mutex_);
  return steady_now_;
}

void FakeClock::sleep_for(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mutex_);
  sleeps_.push_back(duration);
  if (duration.count() > 0) {
    system_now_ += duration;
    steady_now_ += duration;
  }
}

void FakeClock::advance(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mutex_);
  system_now_ += duration;
  steady_now_ += duration;
}

std::vector<std::chrono::milliseconds> FakeClock::sleeps() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sleeps_;
}

std::chrono::milliseconds FakeClock::total_slept() const {
  std::lock_guard<std::mutex> lock(mutex_);
  milliseconds total{0};
  for (auto s : sleeps_) total += s;
  return total;
}

void FakeClock::clear_sleeps() {
  std::lock_guard<std::mutex> lock(mutex_);
  sleeps_.clear();
}

}  // namespace instasent::testing
