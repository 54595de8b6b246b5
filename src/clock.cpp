// SPDX-License-Identifier: Apache-2.0
#include "instasent/clock.hpp"

#include <thread>

namespace instasent {

namespace {

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point system_now() override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steady_now() override {
    return std::chrono::steady_clock::now();
  }
  void sleep_for(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

}  // namespace

std::shared_ptr<Clock> system_clock() {
  static const auto clock = std::make_shared<RealClock>();
  return clock;
}

}  // namespace instasent
