// SPDX-License-Identifier: Apache-2.0
// What an import tells the user while it runs: messages and a progress line on stderr, redrawn in
// place on a terminal and printed as plain lines now and then otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace instasent::cli {

/// stderr shared by threads. On a terminal the progress line is redrawn with "\r" and cleared
/// before a message is printed, so the two never mix.
class Console {
 public:
  explicit Console(bool terminal) : terminal_(terminal) {}
  bool terminal() const noexcept { return terminal_; }

  /// One line (without "\n").
  void message(const std::string& text);
  /// The progress line: redrawn in place on a terminal, a plain line otherwise.
  void progress(const std::string& text);
  /// Clears a progress line drawn on a terminal, so that what follows starts on a clean line.
  void end_progress();

 private:
  std::mutex mutex_;
  bool terminal_;
  bool progress_shown_ = false;
};

/// What the server announced of its rate limit (`X-RateLimit-*`): requests per minute, how many
/// are left in this minute, and the seconds until the next one.
struct AnnouncedRateLimit {
  long per_minute = 0;
  long remaining = 0;
  double reset_in = 0;
};

/// The least time the requests left can take under `limit`: none while the minute's allowance
/// covers them, else until the reset and a minute for each further allowance they need.
double rate_limit_floor(const AnnouncedRateLimit& limit, std::uint64_t requests_left);

/// Counters at one moment, for the progress line.
struct ProgressSnapshot {
  std::uint64_t done = 0;     ///< Records with a final state in this run (any state).
  std::uint64_t skipped = 0;  ///< Skipped because the checkpoint covers them.
  std::uint64_t read = 0;     ///< Records read, skipped ones included.
  std::uint64_t failed = 0;   ///< Rejected, unreadable or not delivered.
  std::uint64_t bytes_read = 0;
  std::optional<std::uint64_t> bytes_total;  ///< Known for regular files.
  bool input_finished = false;               ///< Every record has been read.
  /// While a rate limit holds sending back: the rate before it (for the ETA); otherwise now.
  double items_per_second = 0;
  double rate_limit_wait_left = 0;  ///< Seconds until a rate limit lets sending go on; 0: none.
  std::optional<AnnouncedRateLimit> rate_limit;  ///< Once an answer announced one.
};

/// "1,234/~10,000 items (12%)  3,456/s  failed 3  ETA 0:42" (terminal), or a sentence (log).
/// The total is exact once the input is read; before that it is estimated from the bytes read.
/// While a rate limit holds sending back, "waiting for the rate limit, resumes in 42 s" takes the
/// rate's place, and the ETA adds the wait to the time left at the rate before it. The ETA is
/// never below what the announced rate limit allows (`rate_limit_floor`, 100 items a request).
std::string format_progress(const ProgressSnapshot& snapshot, bool terminal);

/// "1:02:03", "4:05" or "7 s".
std::string format_duration(double seconds);

/// Items per second over the last few seconds.
class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateMeter(Clock::duration window = std::chrono::seconds(10)) : window_(window) {}
  /// Records that `done` items were done at `now`; returns the rate.
  double update(Clock::time_point now, std::uint64_t done);

 private:
  Clock::duration window_;
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples_;
};

}  // namespace instasent::cli
