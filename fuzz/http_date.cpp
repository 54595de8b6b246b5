// SPDX-License-Identifier: Apache-2.0
// HTTP dates, Retry-After and X-RateLimit-Reset: whatever a server sends, a wait is a positive
// number of milliseconds no longer than a year, or none; never an overflow that reads as "now".
#include <string>

#include "fuzz_support.hpp"
#include "instasent/http.hpp"
#include "retry_logic.hpp"

using namespace instasent;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  if (const auto seconds = detail::parse_http_date(text)) {
    require(*seconds >= -62167219200 && *seconds <= 253402300799, "a date of years 0-9999");
  }
  if (const auto seconds = detail::parse_whole_seconds(text)) {
    require(*seconds >= 0 && *seconds <= detail::kMaxWholeSeconds, "saturated seconds");
    if (const auto when = detail::unix_time(*seconds)) {
      require(when->time_since_epoch().count() >= 0, "a time after the epoch");
    }
  }
  // The input as header lines: "Name: value" per line.
  Headers headers;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      headers.add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    start = end + 1;
  }
  for (const auto now_seconds : {0LL, 1795860000LL, 7258118400LL}) {
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(now_seconds));
    if (const auto wait = detail::rate_limit_delay(headers, now)) {
      require(wait->count() > 0 && *wait <= detail::kMaxRateLimitDelay, "a bounded wait");
    }
  }
  return 0;
}
