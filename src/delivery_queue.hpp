// SPDX-License-Identifier: Apache-2.0
// The Ingestor's items from `add` to their final state: the queues, each user's order, the
// overflow bounds, the batches taken and what their answers make of each item. No threads, no
// locks and no clock of its own: the Ingestor calls it under its lock and gives it the time.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "block_queue.hpp"
#include "instasent/ingestor.hpp"
#include "instasent/limits.hpp"
#include "pacer.hpp"
#include "seq_set.hpp"
#include "spool.hpp"
#include "user_order.hpp"

namespace instasent::detail {

/// How far into a queue a batch is looked for while earlier items wait for their user's previous
/// operation.
inline constexpr std::size_t kScanLimit = 2'000;

inline std::size_t queue_of(Operation op) { return static_cast<std::size_t>(op); }
inline bool is_contact_operation(Operation op) { return op != Operation::record_event; }

struct QueuedItem {
  using time_point = std::chrono::steady_clock::time_point;

  std::uint64_t seq = 0;
  std::uint64_t tag = 0;
  std::string user_id;
  std::string event_id;
  std::string json;              // ready to send; empty for deletes
  std::uint64_t depends_on = 0;  // a contact operation that must be final first; 0: none
  time_point enqueued_at;
  time_point not_before;  // after a failed attempt: its backoff
  SpoolRef spool;         // its record in the spool, when there is one
  // The small fields together: every queued item carries them (at most 1,000 attempts).
  Operation op = Operation::upsert_contact;
  std::uint16_t attempts = 0;
  // Refused as a whole (400, 413) in a batch of more than one: sent again in batches of at most
  // this many, halving until the culprit is alone.
  std::uint16_t batch_limit = kMaxBatchItems;

  std::size_t bytes() const {
    return sizeof(QueuedItem) + json.size() + user_id.size() + event_id.size();
  }
};

/// A queue of items, in blocks of 64 (10 KiB): see BlockQueue.
using ItemQueue = BlockQueue<QueuedItem, 64>;

/// Items taken from one queue to go out in one request.
struct Batch {
  Operation op = Operation::upsert_contact;  // the queue's: upserts, events or deletes
  std::vector<QueuedItem> items;  // in place until settled (see DeliveryQueue::in_flight_)
  bool retry = false;             // it resends items
  std::uint64_t flight = 0;       // its key in DeliveryQueue::in_flight_

  // The attempt this request is, for its items that have made the most.
  int attempt() const {
    int most = 0;
    for (const QueuedItem& item : items) most = std::max<int>(most, item.attempts);
    return most;
  }
};

/// What the server (or the connection) said about one item of a request.
struct Verdict {
  enum Kind {
    delivered,
    rejected,
    retry,          // no answer accepted it: send again after a backoff
    split,          // the batch was refused as a whole: send again in smaller batches
    unrecoverable,  // no retry can mend the request's failure
    refused,        // the server refused the credentials or the stream (401, 404): drop, keep
  } kind = retry;
  FieldErrors errors;
  std::string message;  // for unrecoverable and refused
  int http_status = 0;  // of the answer, when there was one
};

/// What a call settled: the outcomes to pass to on_outcome, and the spool records of items that
/// are final (to forget).
struct Settled {
  std::vector<ItemOutcome> outcomes;  // one per item settled, unless !keep_outcomes
  std::vector<SpoolRef> spool_done;
  std::size_t count = 0;      // items settled
  bool keep_outcomes = true;  // false: only counted (nobody reads them)
  // Items an answer sent back to wait for another attempt (not settled), and the latest time one
  // of them may go again: for the log.
  std::size_t retried = 0;
  std::chrono::steady_clock::time_point retry_at{};
};

/// How an item ends: its final state and what its outcome says about it.
struct Ending {
  static Ending delivered(int http_status) {
    return {FinalState::delivered, {}, {}, {}, http_status};
  }
  static Ending rejected(FieldErrors errors, int http_status) {
    return {FinalState::rejected, {}, {}, std::move(errors), http_status};
  }
  static Ending dropped(DropReason reason, std::string message, int http_status = 0) {
    return {FinalState::dropped, reason, std::move(message), {}, http_status};
  }

  FinalState state = FinalState::dropped;
  DropReason reason = DropReason::none;
  std::string message;
  FieldErrors errors;
  int http_status = 0;
};

/// Whether `items` items of `bytes` bytes in all, waiting to be sent, fit within `bounds`.
inline bool within_bounds(const QueueOptions& bounds, std::size_t items, std::size_t bytes) {
  return items <= bounds.max_items && bytes <= bounds.max_bytes;
}

/// Counts a dropped item in `stats`.
void count_drop(IngestorStats& stats, DropReason reason);

/// Every item accepted and not yet final, queued or in a request. Contact operations of one user
/// never share a request nor overtake each other, and an event waits for the contact operation
/// added before it for its user.
class DeliveryQueue {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Uses the options' queue bounds and batch settings; keeps its counters in `stats`.
  DeliveryQueue(const IngestorOptions& options, IngestorStats& stats);

  /// Whether an item of `bytes` fits within the queue's bounds.
  bool has_room(std::size_t bytes) const;
  /// Queues an accepted item (past the bounds: the caller checked them); returns how many items
  /// its queue holds now.
  std::size_t push(QueuedItem&& item, time_point now);
  /// Settles at once an accepted item that can never be sent (damaged in the spool).
  void settle_unsendable(QueuedItem item, Ending ending, Settled& settled);
  /// Drops the oldest queued item to make room; false when none is queued.
  bool drop_oldest(Settled& settled);
  /// Drops the queued items of spool segment `segment`, when they are all of its `live` items
  /// (so that dropping them frees it); false otherwise.
  bool drop_segment(std::uint64_t segment, std::uint64_t live, Settled& settled);
  /// Drops every item queued or in a request (close's deadline passed).
  void drop_all(Settled& settled);
  /// Drops every queued item (not those in a request) as `ending` says.
  void drop_queued(const Ending& ending, Settled& settled);
  /// Forgets every item without settling it (a forked child's copy).
  void clear();

  /// Marks every item queued so far to be sent without waiting for a full batch; returns the
  /// last one's sequence number.
  std::uint64_t flush_all();
  /// Whether every item up to sequence number `last` is final.
  bool final_up_to(std::uint64_t last) const;
  bool all_final() const { return unfinished_.empty(); }
  /// How many items have been settled (given a final state) in all.
  std::uint64_t settled_total() const { return settled_total_; }
  std::size_t queued_items() const;
  /// The items waiting in queue `q` (see queue_of), and the bytes of all queued items.
  std::size_t queued_in(std::size_t q) const { return queues_[q].size(); }
  std::size_t queued_bytes() const { return queued_bytes_; }

  /// Moves a batch that may go now (with `pacer`'s leave) from one queue into flight, taking the
  /// queues in turn. Empty when none may, with `wake` moved to when one may. `closing`: every
  /// queued item is due. The batch's items must stay where they are until `settle`: drop_all
  /// reads them meanwhile (under the caller's lock; the sender only reads them without it).
  Batch take_batch(time_point now, const Pacer& pacer, bool closing, time_point& wake);
  /// Applies a request's verdicts, one per item: final states, or back to the front of the
  /// queue to wait as `schedule` says. Items already given up by drop_all are left alone.
  void settle(Batch& batch, const std::vector<Verdict>& verdicts, const RetrySchedule& schedule,
              Settled& settled);

 private:
  // Drops every queued item with the ending `ending_of` gives it.
  void drop_each_queued(const std::function<const Ending&(const QueuedItem&)>& ending_of,
                        Settled& settled);
  // Records an item's final state, once: an item already final is left as it is.
  void finish(const QueuedItem& item, Ending ending, Settled& settled);
  void collect(std::size_t q, std::vector<QueuedItem>& batch, time_point now, const Pacer& pacer,
               time_point& wake);
  static std::size_t fresh_items(const ItemQueue& queue);
  bool retry_ready(const ItemQueue& queue, time_point now, const Pacer& pacer,
                   time_point& wake) const;

  const IngestorOptions& options_;
  IngestorStats& stats_;
  std::array<ItemQueue, kQueues> queues_;
  std::size_t queued_bytes_ = 0;
  // The items of each request in flight, by Batch::flight: what drop_all reports while their
  // sender waits for the answer. They are the sender's Batch::items, which stay in place from
  // take_batch until settle forgets them here.
  struct Flight {
    const QueuedItem* items;
    std::size_t count;
  };
  std::unordered_map<std::uint64_t, Flight> in_flight_;
  std::uint64_t next_flight_ = 1;
  SeqSet unfinished_;                 // every accepted item without a final state
  UserOrder last_contact_operation_;  // each user's, while not final
  std::uint64_t next_seq_ = 1;
  std::uint64_t flush_target_ = 0;  // items up to here are sent without waiting
  std::size_t next_queue_ = 0;
  std::uint64_t settled_total_ = 0;
};

}  // namespace instasent::detail
