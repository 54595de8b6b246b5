// SPDX-License-Identifier: Apache-2.0
#include "log.hpp"

#include <string>

namespace instasent {

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

const char* to_string(LogEvent event) noexcept {
  switch (event) {
    case LogEvent::request_sent:
      return "request_sent";
    case LogEvent::request_answered:
      return "request_answered";
    case LogEvent::request_failed:
      return "request_failed";
    case LogEvent::retry_scheduled:
      return "retry_scheduled";
    case LogEvent::rate_limited:
      return "rate_limited";
    case LogEvent::item_dropped:
      return "item_dropped";
    case LogEvent::spool_recovered:
      return "spool_recovered";
    case LogEvent::sending_stopped:
      return "sending_stopped";
  }
  return "unknown";
}

std::string format(const LogRecord& record) {
  std::string line = std::string(to_string(record.level)) + " " + to_string(record.event);
  const auto field = [&](const char* name, const std::string& value) {
    line.append(" ").append(name).append("=").append(value);
  };
  if (!record.operation.empty()) field("operation", std::string(record.operation));
  if (record.http_status != 0) field("status", std::to_string(record.http_status));
  if (record.attempt != 0) field("attempt", std::to_string(record.attempt));
  if (record.items != 0) field("items", std::to_string(record.items));
  if (record.wait.count() != 0) field("wait_ms", std::to_string(record.wait.count()));
  if (record.elapsed.count() != 0) field("elapsed_ms", std::to_string(record.elapsed.count()));
  if (!record.request_id.empty()) field("request_id", std::string(record.request_id));
  if (!record.message.empty()) line.append(": ").append(record.message);
  return line;
}

namespace detail {

void Logger::log(const LogRecord& record) const noexcept {
  if (!enabled(record.level)) return;
  try {
    handler_(record);
  } catch (...) {  // logging must not break sending
  }
}

}  // namespace detail
}  // namespace instasent
