// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <array>
#include <cmath>

#include "civil_time.hpp"
#include "retry_logic.hpp"
#include "strings.hpp"

namespace instasent::detail {

namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

std::optional<unsigned> two_digits(std::string_view s, std::size_t at) {
  if (at + 2 > s.size() || s[at] < '0' || s[at] > '9' || s[at + 1] < '0' || s[at + 1] > '9') {
    return std::nullopt;
  }
  return static_cast<unsigned>((s[at] - '0') * 10 + (s[at + 1] - '0'));
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = trim(text);
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto day = two_digits(text, 5);
  const auto year_high = two_digits(text, 12);
  const auto year_low = two_digits(text, 14);
  const auto hour = two_digits(text, 17);
  const auto minute = two_digits(text, 20);
  const auto second = two_digits(text, 23);
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  if (!day || !year_high || !year_low || !hour || !minute || !second || month_it == kMonths.end() ||
      text[7] != ' ' || text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' ||
      *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const auto month = static_cast<unsigned>(month_it - kMonths.begin() + 1);
  const std::int64_t days = days_from_civil(*year_high * 100 + *year_low, month, *day);
  return days * 86400 + std::int64_t{*hour} * 3600 + std::int64_t{*minute} * 60 + *second;
}

std::optional<std::int64_t> parse_whole_seconds(std::string_view text) noexcept {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = std::min<std::int64_t>(kMaxWholeSeconds, value * 10 + (c - '0'));
  }
  return value;
}

std::optional<system_clock::time_point> unix_time(std::int64_t seconds) noexcept {
  if (seconds < 0 || seconds > kLatestUnixTime) return std::nullopt;
  return system_clock::time_point(std::chrono::seconds(seconds));
}

milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::uint64_t random) {
  const double base = static_cast<double>(policy.initial_backoff.count());
  const double cap = static_cast<double>(policy.max_backoff.count());
  const double step =
      std::min(cap, base * std::pow(std::max(policy.multiplier, 1.0), std::max(retry - 1, 0)));
  // Equal jitter: half the step for sure, the other half at random.
  const double fraction = static_cast<double>(random >> 11) * 0x1.0p-53;  // [0, 1)
  const double delay = step / 2 + fraction * step / 2;
  return milliseconds(static_cast<std::int64_t>(delay));
}

namespace {

// Now, in milliseconds since the epoch, by the answer's Date when it has one. A Date within a
// second of the local clock only says the clocks agree: the local time, to the millisecond, is
// then the more precise (a Date is whole seconds). Every instant is a plain integer: a header
// naming the year 3000 (or a 20-digit number) is far away, never an overflow.
std::int64_t answer_now_ms(const Headers& headers, system_clock::time_point local_now) {
  const std::int64_t local_ms =
      std::chrono::duration_cast<milliseconds>(local_now.time_since_epoch()).count();
  if (const auto date = headers.get("Date")) {
    if (const auto server_now = parse_http_date(*date)) {
      const std::int64_t server_ms = *server_now * 1000;
      if (local_ms < server_ms || local_ms >= server_ms + 1000) return server_ms;
    }
  }
  return local_ms;
}

}  // namespace

std::optional<Allowance> rate_limit_allowance(const Headers& headers,
                                              system_clock::time_point local_now) {
  const auto remaining_text = headers.get("X-RateLimit-Remaining");
  const auto reset_text = headers.get("X-RateLimit-Reset");
  if (!remaining_text || !reset_text) return std::nullopt;
  const auto remaining = parse_whole_seconds(*remaining_text);  // a whole number, as seconds are
  const auto reset = parse_whole_seconds(*reset_text);
  if (!remaining || !reset) return std::nullopt;
  const std::int64_t now_ms = answer_now_ms(headers, local_now);
  // Whole numbers are capped at kMaxWholeSeconds, so that this cannot overflow.
  const std::int64_t wait =
      std::clamp<std::int64_t>(*reset * 1000 - now_ms, 0, kMaxRateLimitDelay.count());
  return Allowance{*remaining, milliseconds(wait), *reset};
}

std::optional<milliseconds> rate_limit_delay(const Headers& headers,
                                             system_clock::time_point local_now) {
  const std::int64_t now_ms = answer_now_ms(headers, local_now);
  const auto wait_until = [now_ms](std::int64_t when_seconds) -> std::optional<milliseconds> {
    const std::int64_t wait = when_seconds * 1000 - now_ms;
    if (wait <= 0) return std::nullopt;
    return milliseconds(std::min<std::int64_t>(wait, kMaxRateLimitDelay.count()));
  };
  if (const auto retry_after = headers.get("Retry-After")) {
    if (const auto seconds = parse_whole_seconds(*retry_after)) {
      if (*seconds == 0) return std::nullopt;
      return milliseconds(std::min<std::int64_t>(*seconds * 1000, kMaxRateLimitDelay.count()));
    }
    if (const auto when = parse_http_date(*retry_after)) return wait_until(*when);
  }
  if (const auto reset = headers.get("X-RateLimit-Reset")) {
    if (const auto seconds = parse_whole_seconds(*reset)) return wait_until(*seconds);
  }
  return std::nullopt;
}

}  // namespace instasent::detail
