// SPDX-License-Identifier: Apache-2.0
// Records what ClientOptions::on_log receives, copied, for tests to read.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "instasent/log.hpp"

namespace instasent::testing {

// A copy of a record, and its one-line form.
struct Logged {
  LogLevel level;
  LogEvent event;
  std::string operation;
  int http_status;
  int attempt;
  std::size_t items;
  std::chrono::milliseconds wait;
  std::string request_id;
  std::string message;
  std::string line;
};

class LogRecorder {
 public:
  LogHandler handler() {
    return [this](const LogRecord& r) {
      std::lock_guard<std::mutex> lock(mutex_);
      records_.push_back({r.level, r.event, std::string(r.operation), r.http_status, r.attempt,
                          r.items, r.wait, std::string(r.request_id), std::string(r.message),
                          format(r)});
    };
  }
  std::vector<Logged> records() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  /// The records of `event` only.
  std::vector<Logged> of(LogEvent event) const {
    std::vector<Logged> out;
    for (const Logged& r : records()) {
      if (r.event == event) out.push_back(r);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Logged> records_;
};

}  // namespace instasent::testing
