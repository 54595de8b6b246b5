// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>

#include "instasent/export.hpp"

namespace instasent {

/// Time as the retry logic sees it. Replace it in tests so that waits cost nothing.
///
/// A `Client` used from several threads calls its clock from all of them: an implementation must
/// be safe to call from several threads at once.
class INSTASENT_EXPORT Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time, compared with `X-RateLimit-Reset` and the `Date` header.
  virtual std::chrono::system_clock::time_point system_now() = 0;
  /// Monotonic time, for deadlines.
  virtual std::chrono::steady_clock::time_point steady_now() = 0;
  /// Waits `duration` before a retry (a test clock may return at once and move its time on).
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

/// The real clock: std::chrono clocks and std::this_thread::sleep_for. One shared instance,
/// safe to use from any thread.
INSTASENT_EXPORT std::shared_ptr<Clock> system_clock();

}  // namespace instasent
