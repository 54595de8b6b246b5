// SPDX-License-Identifier: Apache-2.0
#include "delivery_queue.hpp"

#include <algorithm>

namespace instasent::detail {

namespace {

ItemOutcome outcome_of(const QueuedItem& item, Ending ending) {
  ItemOutcome outcome;
  outcome.operation = item.op;
  outcome.tag = item.tag;
  outcome.user_id = item.user_id;
  outcome.event_id = item.event_id;
  outcome.state = ending.state;
  outcome.drop_reason = ending.reason;
  outcome.message = std::move(ending.message);
  outcome.errors = std::move(ending.errors);
  outcome.http_status = ending.http_status;
  return outcome;
}

}  // namespace

void count_drop(IngestorStats& stats, DropReason reason) {
  switch (reason) {
    case DropReason::queue_full:
      ++stats.dropped_queue_full;
      break;
    case DropReason::invalid:
      ++stats.dropped_invalid;
      break;
    case DropReason::retries_exhausted:
      ++stats.dropped_retries_exhausted;
      break;
    case DropReason::shutdown:
      ++stats.dropped_shutdown;
      break;
    case DropReason::unrecoverable:
      ++stats.dropped_unrecoverable;
      break;
    case DropReason::spool_damaged:
      ++stats.dropped_spool_damaged;
      break;
    case DropReason::unauthorized:
      ++stats.dropped_unauthorized;
      break;
    case DropReason::none:
      break;
  }
}

DeliveryQueue::DeliveryQueue(const IngestorOptions& options, IngestorStats& stats)
    : options_(options), stats_(stats) {}

bool DeliveryQueue::has_room(std::size_t bytes) const {
  return within_bounds(options_.queue, queued_items() + 1, queued_bytes_ + bytes);
}

std::size_t DeliveryQueue::queued_items() const {
  return queues_[0].size() + queues_[1].size() + queues_[2].size();
}

std::size_t DeliveryQueue::push(QueuedItem&& item, time_point now) {
  item.seq = next_seq_++;
  item.enqueued_at = now;
  const std::uint64_t user = UserOrder::key_of(item.user_id);
  const std::uint64_t last = last_contact_operation_.find(user);
  if (last != 0 && unfinished_.contains(last)) item.depends_on = last;
  if (is_contact_operation(item.op)) last_contact_operation_.set(user, item.seq);
  unfinished_.insert(item.seq);
  ++stats_.enqueued;
  ++stats_.queued;
  queued_bytes_ += item.bytes();
  auto& queue = queues_[queue_of(item.op)];
  queue.push_back(std::move(item));
  return queue.size();
}

void DeliveryQueue::settle_unsendable(QueuedItem item, Ending ending, Settled& settled) {
  item.seq = next_seq_++;
  unfinished_.insert(item.seq);
  ++stats_.enqueued;
  finish(item, std::move(ending), settled);
}

bool DeliveryQueue::drop_oldest(Settled& settled) {
  ItemQueue* oldest = nullptr;
  for (auto& queue : queues_) {
    if (!queue.empty() && (oldest == nullptr || queue.front().seq < oldest->front().seq)) {
      oldest = &queue;
    }
  }
  if (oldest == nullptr) return false;
  QueuedItem item = std::move(oldest->front());
  oldest->pop_front();
  --stats_.queued;
  queued_bytes_ -= item.bytes();
  finish(item,
         Ending::dropped(DropReason::queue_full, "pushed out of a full queue by a newer item"),
         settled);
  return true;
}

bool DeliveryQueue::drop_segment(std::uint64_t segment, std::uint64_t live, Settled& settled) {
  const auto in_segment = [&](const QueuedItem& item) { return item.spool.segment == segment; };
  std::uint64_t queued = 0;
  for (const auto& queue : queues_) {
    queued += static_cast<std::uint64_t>(std::count_if(queue.begin(), queue.end(), in_segment));
  }
  if (queued == 0 || queued != live) return false;
  std::vector<QueuedItem> dropped;
  for (auto& queue : queues_) {
    ItemQueue kept;
    for (QueuedItem& item : queue) {
      if (in_segment(item)) {
        dropped.push_back(std::move(item));
      } else {
        kept.push_back(std::move(item));
      }
    }
    queue.swap(kept);
  }
  std::sort(dropped.begin(), dropped.end(),
            [](const QueuedItem& a, const QueuedItem& b) { return a.seq < b.seq; });
  for (const QueuedItem& item : dropped) {
    --stats_.queued;
    queued_bytes_ -= item.bytes();
    finish(item,
           Ending::dropped(DropReason::queue_full, "pushed out of a full spool by a newer item"),
           settled);
  }
  return true;
}

void DeliveryQueue::drop_all(Settled& settled) {
  const Ending kept = Ending::dropped(
      DropReason::shutdown,
      "not delivered by the close deadline; kept in the spool for the next ingestor");
  const Ending lost = Ending::dropped(DropReason::shutdown, "not delivered by the close deadline");
  const auto ending_of = [&](const QueuedItem& item) -> const Ending& {
    return item.spool.id != 0 ? kept : lost;
  };
  drop_each_queued(ending_of, settled);
  // A request still in flight when its answer comes later finds its items already final.
  for (const auto& [id, flight] : in_flight_) {
    for (std::size_t i = 0; i < flight.count; ++i) {
      finish(flight.items[i], ending_of(flight.items[i]), settled);
    }
  }
}

void DeliveryQueue::drop_queued(const Ending& ending, Settled& settled) {
  drop_each_queued([&](const QueuedItem&) -> const Ending& { return ending; }, settled);
}

void DeliveryQueue::drop_each_queued(
    const std::function<const Ending&(const QueuedItem&)>& ending_of, Settled& settled) {
  for (auto& queue : queues_) {
    for (const QueuedItem& item : queue) finish(item, ending_of(item), settled);
    stats_.queued -= queue.size();
    queue.clear();
  }
  queued_bytes_ = 0;
}

void DeliveryQueue::clear() {
  for (auto& queue : queues_) queue.clear();
  queued_bytes_ = 0;
  in_flight_.clear();
  unfinished_.clear();
  last_contact_operation_.clear();
  stats_.queued = stats_.in_flight = 0;
}

std::uint64_t DeliveryQueue::flush_all() {
  flush_target_ = std::max(flush_target_, next_seq_ - 1);
  return next_seq_ - 1;
}

bool DeliveryQueue::final_up_to(std::uint64_t last) const {
  return unfinished_.empty() || unfinished_.front() > last;
}

Batch DeliveryQueue::take_batch(time_point now, const Pacer& pacer, bool closing,
                                time_point& wake) {
  Batch batch;
  for (std::size_t turn = 0; turn < kQueues && batch.items.empty(); ++turn) {
    const std::size_t q = (next_queue_ + turn) % kQueues;
    const auto& queue = queues_[q];
    if (queue.empty()) continue;
    const auto ready_at = pacer.ready_at(q);
    if (now < ready_at) {
      wake = std::min(wake, ready_at);
      continue;
    }
    const QueuedItem& head = queue.front();
    const bool due = q == queue_of(Operation::delete_contact) || closing ||
                     fresh_items(queue) >= options_.batch.max_items || head.seq <= flush_target_ ||
                     now >= head.enqueued_at + options_.flush_interval ||
                     retry_ready(queue, now, pacer, wake);
    if (!due) {
      wake = std::min(wake, head.enqueued_at + options_.flush_interval);
      continue;
    }
    collect(q, batch.items, now, pacer, wake);
    if (!batch.items.empty()) {
      next_queue_ = (q + 1) % kQueues;
      batch.op = static_cast<Operation>(q);
    }
  }
  if (batch.items.empty()) return batch;
  batch.retry = std::any_of(batch.items.begin(), batch.items.end(),
                            [](const QueuedItem& item) { return item.attempts > 0; });
  for (QueuedItem& item : batch.items) ++item.attempts;
  batch.flight = next_flight_++;
  in_flight_.emplace(batch.flight, Flight{batch.items.data(), batch.items.size()});
  stats_.queued -= batch.items.size();
  stats_.in_flight += batch.items.size();
  return batch;
}

// The items of `queue` not waiting to be retried (those are at its front), so that a full batch
// means a batch of items that may go now.
std::size_t DeliveryQueue::fresh_items(const ItemQueue& queue) {
  std::size_t retries = 0;
  for (const QueuedItem& item : queue) {
    if (item.attempts == 0 || retries == kScanLimit) break;
    ++retries;
  }
  return queue.size() - retries;
}

// Whether an item waiting to be retried at the front of `queue` may go now; otherwise moves
// `wake` to when the first may.
bool DeliveryQueue::retry_ready(const ItemQueue& queue, time_point now, const Pacer& pacer,
                                time_point& wake) const {
  std::size_t scanned = 0;
  for (const QueuedItem& item : queue) {
    if (item.attempts == 0 || ++scanned > kScanLimit) break;  // retries are at the front
    if (now >= item.not_before) {
      if (pacer.may_retry()) return true;
      wake = std::min(wake, pacer.next_retry_token(now));
    } else {
      wake = std::min(wake, item.not_before);
    }
  }
  return false;
}

// Takes the sendable items from the front of queue `q`, in order, up to a batch. An item waits
// (stays queued) while its user's previous contact operation is not final, while its backoff
// runs, and while retries are over the budget.
void DeliveryQueue::collect(std::size_t q, std::vector<QueuedItem>& batch, time_point now,
                            const Pacer& pacer, time_point& wake) {
  auto& queue = queues_[q];
  std::size_t limit = q == queue_of(Operation::delete_contact) ? 1 : options_.batch.max_items;
  std::size_t body_bytes = 2;
  batch.reserve(std::min(limit, queue.size()));  // items are moved once, not at each growth
  std::vector<QueuedItem> kept;
  std::size_t scanned = 0;
  const bool may_retry = pacer.may_retry();
  // Whether the upsert `seq` is in this batch (then an upsert of the same user may join it).
  const auto taken = [&](std::uint64_t seq) {
    return std::any_of(batch.rbegin(), batch.rend(),
                       [seq](const QueuedItem& in) { return in.seq == seq; });
  };
  while (!queue.empty() && scanned < kScanLimit && batch.size() < limit) {
    QueuedItem& item = queue.front();
    ++scanned;
    const bool backing_off = item.attempts > 0 && (now < item.not_before || !may_retry);
    const bool waiting =
        backing_off || (item.depends_on != 0 && unfinished_.contains(item.depends_on) &&
                        !(q == queue_of(Operation::upsert_contact) && taken(item.depends_on)));
    const std::size_t size = item.json.size() + (batch.empty() ? 0 : 1);
    if (!waiting && !batch.empty() &&
        (body_bytes + size > options_.batch.max_bytes || batch.size() >= item.batch_limit)) {
      break;
    }
    if (waiting) {
      if (backing_off) {
        wake = std::min(wake, may_retry ? item.not_before : pacer.next_retry_token(now));
      }
      kept.push_back(std::move(item));
    } else {
      body_bytes += size;
      queued_bytes_ -= item.bytes();
      limit = std::min<std::size_t>(limit, item.batch_limit);
      batch.push_back(std::move(item));
    }
    queue.pop_front();
  }
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) queue.push_front(std::move(*it));
}

void DeliveryQueue::settle(Batch& batch, const std::vector<Verdict>& verdicts,
                           const RetrySchedule& schedule, Settled& settled) {
  in_flight_.erase(batch.flight);
  std::vector<QueuedItem> again;
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    QueuedItem& item = batch.items[i];
    const Verdict& verdict = verdicts[i];
    if (verdict.kind == Verdict::delivered) {
      finish(item, Ending::delivered(verdict.http_status), settled);
    } else if (verdict.kind == Verdict::rejected) {
      finish(item, Ending::rejected(verdict.errors, verdict.http_status), settled);
    } else if (!unfinished_.contains(item.seq)) {
      continue;  // given up by drop_all while it was in flight
    } else if (verdict.kind == Verdict::unrecoverable) {
      finish(item, Ending::dropped(DropReason::unrecoverable, verdict.message), settled);
    } else if (verdict.kind == Verdict::refused) {
      finish(item, Ending::dropped(DropReason::unauthorized, verdict.message, verdict.http_status),
             settled);
    } else if (verdict.kind == Verdict::split) {
      // Not a failed attempt: the request said nothing about this item.
      --item.attempts;
      item.batch_limit =
          static_cast<std::uint16_t>(std::max<std::size_t>(1, (batch.items.size() + 1) / 2));
      again.push_back(std::move(item));
    } else if (item.attempts >= options_.retry.max_attempts) {
      finish(item,
             Ending::dropped(
                 DropReason::retries_exhausted,
                 "no answer accepted it after " + std::to_string(item.attempts) + " attempts",
                 verdict.http_status),
             settled);
    } else {
      // Its own backoff, while newer items keep flowing (a 429's pause is the gate's).
      item.not_before = schedule.retry_at(item.attempts);
      ++settled.retried;
      settled.retry_at = std::max(settled.retry_at, item.not_before);
      again.push_back(std::move(item));
    }
  }
  stats_.in_flight -= batch.items.size();
  // Resent first, in their order, ahead of newer items.
  auto& queue = queues_[queue_of(batch.op)];
  for (auto it = again.rbegin(); it != again.rend(); ++it) {
    queued_bytes_ += it->bytes();
    ++stats_.queued;
    queue.push_front(std::move(*it));
  }
}

void DeliveryQueue::finish(const QueuedItem& item, Ending ending, Settled& settled) {
  if (!unfinished_.erase(item.seq)) return;
  // Given up at shutdown, or for want of credentials, a spooled item stays in the spool to be
  // sent by the next ingestor.
  const bool kept_in_spool =
      item.spool.id != 0 && ending.state == FinalState::dropped &&
      (ending.reason == DropReason::shutdown || ending.reason == DropReason::unauthorized);
  if (item.spool.id != 0 && !kept_in_spool) settled.spool_done.push_back(item.spool);
  if (is_contact_operation(item.op)) {
    last_contact_operation_.erase(UserOrder::key_of(item.user_id), item.seq);
  }
  switch (ending.state) {
    case FinalState::delivered:
      ++stats_.delivered;
      break;
    case FinalState::rejected:
      ++stats_.rejected;
      break;
    case FinalState::dropped:
      count_drop(stats_, ending.reason);
      break;
  }
  ++settled.count;
  if (settled.keep_outcomes) {
    settled.outcomes.push_back(outcome_of(item, std::move(ending)));
    settled.outcomes.back().kept_in_spool = kept_in_spool;
  }
  ++settled_total_;
}

}  // namespace instasent::detail
