// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <utility>

#include "instasent/log.hpp"

namespace instasent::detail {

/// `ClientOptions::on_log` and `log_level`, with the test that keeps logging cheap when off.
class Logger {
 public:
  Logger() = default;
  Logger(LogHandler handler, LogLevel level) : handler_(std::move(handler)), level_(level) {}

  /// Whether a record of `level` would be passed on: build one only then.
  bool enabled(LogLevel level) const noexcept {
    return handler_ && static_cast<int>(level) >= static_cast<int>(level_);
  }
  /// Passes `record` to the handler when its level is enabled; what the handler throws is
  /// swallowed (logging must not break sending).
  void log(const LogRecord& record) const noexcept;

 private:
  LogHandler handler_;
  LogLevel level_ = LogLevel::info;
};

}  // namespace instasent::detail
