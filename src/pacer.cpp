// SPDX-License-Identifier: Apache-2.0
#include "pacer.hpp"

#include <algorithm>

#include "retry_logic.hpp"

namespace instasent::detail {

using std::chrono::milliseconds;

RetrySchedule::time_point RetrySchedule::retry_at(int attempts) const {
  if (gated) return now;
  return now + backoff_delay(*backoff, healthy ? 1 : attempts, jitter);
}

Pacer::Pacer(const RetryPolicy& retry, double retry_budget, time_point now)
    : backoff_(retry),
      retry_budget_(retry_budget),
      last_refill_(now),
      jitter_(retry.jitter_seed != 0 ? retry.jitter_seed : std::random_device{}()) {}

void Pacer::refill(time_point now) {
  const double seconds = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  if (retry_tokens_ < kInitialRetryTokens && seconds > 0) {
    retry_tokens_ = std::min(kInitialRetryTokens, retry_tokens_ + seconds * kMinRetriesPerSecond);
  }
}

Pacer::time_point Pacer::next_retry_token(time_point now) const {
  return now +
         milliseconds(static_cast<std::int64_t>((1 - retry_tokens_) / kMinRetriesPerSecond * 1000) +
                      1);
}

Pacer::time_point Pacer::ready_at(std::size_t queue) const {
  const time_point ready = std::max(gate_, resume_at_[queue]);
  return allowance_[queue] > 0 ? ready : std::max(ready, allowance_renewed_[queue]);
}

Pacer::time_point Pacer::rate_limited_until() const {
  time_point until = gate_;
  for (std::size_t queue = 0; queue < kQueues; ++queue) {
    if (allowance_[queue] <= 0) until = std::max(until, allowance_renewed_[queue]);
  }
  return until;
}

void Pacer::on_send(std::size_t queue, bool retry) {
  ++in_flight_[queue];
  --allowance_[queue];
  if (retry) {
    retry_tokens_ = std::max(0.0, retry_tokens_ - 1);
  } else {
    retry_tokens_ = std::min(kMaxRetryTokens, retry_tokens_ + retry_budget_);
  }
}

RetrySchedule Pacer::on_end(std::size_t queue, time_point now, const RequestEnd& end) {
  --in_flight_[queue];
  if (end.allowance) {
    // The requests still in flight may count against what is left, or not yet: counting them
    // wastes at most max_in_flight requests of an allowance, and sends none that would get a
    // 429. A renewal past max_rate_limit_wait is not waited for beyond it.
    // Answers may come out of order: within one period (the same Reset), the lowest count is
    // the latest.
    const std::int64_t left = end.allowance->remaining - in_flight_[queue];
    const bool same_period = end.allowance->reset == allowance_reset_[queue];
    allowance_[queue] = same_period ? std::min(allowance_[queue], left) : left;
    allowance_reset_[queue] = end.allowance->reset;
    allowance_renewed_[queue] =
        now + std::min(end.allowance->renewed_in, backoff_.max_rate_limit_wait);
  }
  if (end.pause) {
    const time_point until = now + std::min(*end.pause, backoff_.max_rate_limit_wait);
    const time_point from = std::max(gate_, now);  // a pause under way is counted once
    if (until > from) paused_ += until - from;
    gate_ = std::max(gate_, until);
  }
  history_[queue] = (history_[queue] << 1) | (end.failed ? 1u : 0u);
  requests_seen_[queue] = std::min(requests_seen_[queue] + 1, kHealthWindow);
  const bool gated = end.pause && end.pause->count() > 0;
  if (end.failed) {
    // Many failures in a row: the server looks down, and the whole queue waits.
    if (++failures_[queue] >= kOutageThreshold && !gated) {
      const int step = failures_[queue] - kOutageThreshold + 1;
      resume_at_[queue] =
          std::max(resume_at_[queue], now + backoff_delay(backoff_, step, draw_jitter()));
    }
  } else {
    failures_[queue] = 0;
    resume_at_[queue] = std::min(resume_at_[queue], now);
    // The budget is spent by retries that fail: one that got an answer gives its token back.
    if (end.retry) retry_tokens_ = std::min(kMaxRetryTokens, retry_tokens_ + 1);
  }
  return RetrySchedule{now, gated, healthy(queue), draw_jitter(), &backoff_};
}

bool Pacer::healthy(std::size_t queue) const {
  const std::uint32_t recent = history_[queue] & ((1u << kHealthWindow) - 1);
  return 2 * static_cast<unsigned>(__builtin_popcount(recent)) < requests_seen_[queue];
}

std::uint64_t Pacer::draw_jitter() {
  std::uniform_int_distribution<std::uint64_t> draw;
  return draw(jitter_);
}

}  // namespace instasent::detail
