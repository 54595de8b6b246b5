// SPDX-License-Identifier: Apache-2.0
// SIGINT and SIGTERM during an import: they ask it to stop (a flag the loops poll), and only the
// reading thread sees them.
#pragma once

#include <signal.h>

namespace instasent::cli {

/// The signal that asked the import to stop, or 0.
int stop_signal() noexcept;

/// "SIGINT", "SIGTERM" or "a signal".
const char* signal_name(int signal_number) noexcept;

/// For as long as this lives, SIGINT and SIGTERM set `stop_signal()` instead of ending the
/// process. SA_RESETHAND: a second one ends it at once. No SA_RESTART: a read of standard input
/// that waits for data returns, so that the reading loop notices.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction previous_interrupt_ {};
  struct sigaction previous_terminate_ {};
};

/// Threads started while this lives block SIGINT and SIGTERM (they inherit the mask), so that the
/// signals interrupt only the thread that reads the input.
class StopSignalsBlocked {
 public:
  StopSignalsBlocked();
  ~StopSignalsBlocked();
  StopSignalsBlocked(const StopSignalsBlocked&) = delete;
  StopSignalsBlocked& operator=(const StopSignalsBlocked&) = delete;

 private:
  sigset_t previous_{};
};

}  // namespace instasent::cli
