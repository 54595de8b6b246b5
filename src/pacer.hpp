// SPDX-License-Identifier: Apache-2.0
// The Ingestor's pacing: when a queue may send, how long a failed item waits, and how many
// retries the traffic has earned. No threads and no clock of its own: every call is given the
// time, so that it behaves the same under a fake clock.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>

#include "instasent/retry.hpp"
#include "retry_logic.hpp"

namespace instasent::detail {

/// The Ingestor keeps one queue per operation (upserts, events, deletes), indexed by Operation.
inline constexpr std::size_t kQueues = 3;

/// Retries granted before the budget is earned, so that a short outage recovers at once.
inline constexpr double kInitialRetryTokens = 10;
inline constexpr double kMaxRetryTokens = 100;
/// Past the budget, time alone earns retries at this rate (up to kInitialRetryTokens), so that
/// the last retries of a run go on when no new traffic earns any.
inline constexpr double kMinRetriesPerSecond = 10;
/// A queue's health is the share of its last kHealthWindow requests that failed. Below half, a
/// failed item is retried after initial_backoff however often it failed before (a healthy
/// server's failures are chance); from half on, its backoff grows with its attempts.
inline constexpr unsigned kHealthWindow = 20;
/// Failed requests in a row after which a whole queue waits too: the server looks down. (A server
/// that fails one request in five does this about once in 400,000 requests.)
inline constexpr int kOutageThreshold = 8;

/// How one request ended, as far as pacing goes.
struct RequestEnd {
  bool failed = false;  ///< No usable answer: its items are to be sent again.
  /// A 429 asked every sender to wait this long (0: it gave no usable time).
  std::optional<std::chrono::milliseconds> pause;
  bool retry = false;  ///< It resent items (and took a retry token).
  /// What the answer said is left of the rate limit, when it said.
  std::optional<Allowance> allowance;
};

/// When the failed items of one request may go again. One jitter draw serves the whole request,
/// so that its items become due together and go out together again.
struct RetrySchedule {
  using time_point = std::chrono::steady_clock::time_point;

  /// When an item that has made `attempts` attempts may be sent again.
  time_point retry_at(int attempts) const;

  time_point now;
  bool gated = false;    ///< A 429 set the gate: the wait is the gate's, not the item's.
  bool healthy = false;  ///< Fewer than half of the queue's recent requests failed.
  std::uint64_t jitter = 0;
  const RetryPolicy* backoff = nullptr;
};

class Pacer {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Of `retry`, initial_backoff, max_backoff and multiplier shape the waits, a 429 holds every
  /// queue for at most max_rate_limit_wait, and jitter_seed seeds the jitter (0: at random).
  /// `retry_budget` is the fraction of new requests that retries may add.
  Pacer(const RetryPolicy& retry, double retry_budget, time_point now);

  /// Once the budget is spent, time alone earns retries, slowly and up to a few.
  void refill(time_point now);
  /// Whether a retry may be sent now (a token is left).
  bool may_retry() const { return retry_tokens_ >= 1; }
  /// When time alone earns the next token, counted from `now`.
  time_point next_retry_token(time_point now) const;
  /// When queue `queue` may send next: the 429 gate, its own outage backoff, or, when the rate
  /// limit's allowance its answers announced is used up, the allowance's renewal.
  time_point ready_at(std::size_t queue) const;

  /// A request of queue `queue` goes out: it uses one of the queue's allowance; a retry spends a
  /// token, a new request earns `retry_budget` of one.
  void on_send(std::size_t queue, bool retry);
  /// A request of queue `queue` ended at `now`: updates the gate, the allowance, the queue's health
  /// and outage state and the budget, and says when its failed items may go again.
  RetrySchedule on_end(std::size_t queue, time_point now, const RequestEnd& end);

  double retry_tokens() const { return retry_tokens_; }
  /// Until when a 429 holds every queue back (in the past when none does).
  time_point gate() const { return gate_; }
  /// Until when a rate limit holds some queue back: the 429 gate, or a queue's used-up allowance
  /// (in the past when none does).
  time_point rate_limited_until() const;
  /// The time 429s held every queue back so far, overlapping pauses counted once.
  std::chrono::steady_clock::duration paused() const { return paused_; }

 private:
  bool healthy(std::size_t queue) const;
  std::uint64_t draw_jitter();

  RetryPolicy backoff_;
  double retry_budget_;

  std::array<time_point, kQueues> resume_at_{};    // outage backoff per queue
  std::array<int, kQueues> failures_{};            // consecutive failed requests
  std::array<std::uint32_t, kQueues> history_{};   // the last requests, newest in bit 0: 1 failed
  std::array<unsigned, kQueues> requests_seen_{};  // how many of history_'s bits count
  // The rate limit's allowance per queue, as its last answer announced it less the requests
  // sent since (and those in flight then): at 0 or below, the queue waits for allowance_renewed_.
  std::array<std::int64_t, kQueues> allowance_{};
  std::array<time_point, kQueues> allowance_renewed_{};
  std::array<std::int64_t, kQueues> allowance_reset_{};  // the Reset it was announced with
  std::array<std::int64_t, kQueues> in_flight_{};        // requests sent, not yet ended
  time_point gate_{};                                    // 429: nobody sends before
  std::chrono::steady_clock::duration paused_{};         // the gate's pauses, summed
  double retry_tokens_ = kInitialRetryTokens;
  time_point last_refill_;
  std::mt19937_64 jitter_;
};

}  // namespace instasent::detail
