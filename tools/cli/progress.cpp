// SPDX-License-Identifier: Apache-2.0
#include "progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "instasent/limits.hpp"
#include "text.hpp"

namespace instasent::cli {

namespace {

void write_stderr(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void Console::message(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  // On a terminal, "\r" and "clear to the end of the line" remove the progress line first; the
  // next tick draws it again below the message.
  write_stderr((progress_shown_ ? "\r\x1b[K" : "") + text + "\n");
  progress_shown_ = false;
}

void Console::progress(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (terminal_) {
    write_stderr("\r" + text + "\x1b[K");
    progress_shown_ = true;
  } else {
    write_stderr(text + "\n");
  }
}

void Console::end_progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (progress_shown_) write_stderr("\r\x1b[K");  // the summary that follows says it all
  progress_shown_ = false;
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(std::llround(seconds < 0 ? 0 : seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                  total % 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld s", total);
  }
  return text;
}

double rate_limit_floor(const AnnouncedRateLimit& limit, std::uint64_t requests_left) {
  if (limit.per_minute <= 0 || requests_left <= static_cast<std::uint64_t>(limit.remaining)) {
    return 0;
  }
  const std::uint64_t beyond =
      requests_left - static_cast<std::uint64_t>(std::max(0L, limit.remaining));
  const std::uint64_t minutes = (beyond + static_cast<std::uint64_t>(limit.per_minute) - 1) /
                                static_cast<std::uint64_t>(limit.per_minute);
  return std::clamp(limit.reset_in, 0.0, 60.0) + 60.0 * static_cast<double>(minutes - 1);
}

std::string format_progress(const ProgressSnapshot& s, bool terminal) {
  const std::uint64_t done = s.done + s.skipped;
  // The total: exact once everything is read; estimated from the bytes read before that.
  std::optional<std::uint64_t> total;
  bool estimated = false;
  if (s.input_finished) {
    total = s.read;
  } else if (s.bytes_total && s.bytes_read > 0 && s.read > 0) {
    const double share = static_cast<double>(s.bytes_read) / static_cast<double>(*s.bytes_total);
    total = std::max<std::uint64_t>(
        s.read, static_cast<std::uint64_t>(std::llround(static_cast<double>(s.read) / share)));
    estimated = true;
  }
  const bool waiting = s.rate_limit_wait_left > 0;
  std::optional<double> eta;
  if (total && s.items_per_second > 0 && *total >= done) {
    eta = static_cast<double>(*total - done) / s.items_per_second + s.rate_limit_wait_left;
    if (s.rate_limit) {
      const std::uint64_t requests = (*total - done + kMaxBatchItems - 1) / kMaxBatchItems;
      eta = std::max(*eta, rate_limit_floor(*s.rate_limit, requests));
    }
  }
  const std::string rate =
      waiting ? "waiting for the rate limit, resumes in " +
                    format_duration(std::ceil(s.rate_limit_wait_left))
              : with_thousands(static_cast<unsigned long long>(s.items_per_second)) + "/s";
  std::string text;
  if (terminal) {
    text = with_thousands(done);
    if (total) text += "/" + std::string(estimated ? "~" : "") + with_thousands(*total);
    text += " items";
    if (total && *total > 0) text += " (" + std::to_string(done * 100 / *total) + "%)";
    text += "  " + rate + "  failed " + with_thousands(s.failed);
    if (eta) text += "  ETA " + format_duration(*eta);
  } else {
    text = "instasent: " + with_thousands(done);
    if (total) text += " of " + std::string(estimated ? "about " : "") + with_thousands(*total);
    text += " items done, " + rate + ", " + with_thousands(s.failed) + " failed";
    if (eta) text += ", ETA " + format_duration(*eta);
  }
  return text;
}

double RateMeter::update(Clock::time_point now, std::uint64_t done) {
  samples_.emplace_back(now, done);
  while (samples_.size() > 2 && now - samples_[1].first >= window_) samples_.pop_front();
  const auto& [then, done_then] = samples_.front();
  const double seconds = std::chrono::duration<double>(now - then).count();
  if (seconds < 0.2) return 0;
  return static_cast<double>(done - done_then) / seconds;
}

}  // namespace instasent::cli
