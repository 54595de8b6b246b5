// SPDX-License-Identifier: Apache-2.0
#include "instasent/ingestor.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "client_impl.hpp"
#include "fork_guard.hpp"
#include "ids.hpp"
#include "json_text.hpp"
#include "retry_logic.hpp"
#include "spool.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kQueues = 3;  // indexed by Operation
// How far into a queue a sender looks for items it may send while earlier ones wait for their
// user's previous operation.
constexpr std::size_t kScanLimit = 2'000;
// Retries granted before the budget is earned, so that a short outage recovers at once.
constexpr double kInitialRetryTokens = 10;
constexpr double kMaxRetryTokens = 100;
// Past the budget, time alone earns retries at this rate (up to kInitialRetryTokens), so that
// the last retries of a run go on when no new traffic earns any.
constexpr double kMinRetriesPerSecond = 10;
// A queue's health is the share of its last kHealthWindow requests that failed. Below half, a
// failed item is retried after initial_backoff however often it failed before (a healthy server's
// failures are chance); from half on, its backoff grows with its attempts.
constexpr unsigned kHealthWindow = 20;
// Failed requests in a row after which a whole queue waits too: the server looks down. (A server
// that fails one request in five does this about once in 400,000 requests.)
constexpr int kOutageThreshold = 8;

std::size_t queue_of(Operation op) { return static_cast<std::size_t>(op); }

bool is_contact_operation(Operation op) { return op != Operation::record_event; }

struct Item {
  std::uint64_t seq = 0;
  Operation op = Operation::upsert_contact;
  std::uint64_t tag = 0;
  std::string user_id;
  std::string event_id;
  std::string json;              // ready to send; empty for deletes
  std::uint64_t depends_on = 0;  // a contact operation that must be final first; 0: none
  int attempts = 0;
  SteadyClock::time_point enqueued_at;
  SteadyClock::time_point not_before;  // after a failed attempt: its backoff
  // Refused as a whole (400, 413) in a batch of more than one: sent again in batches of at most
  // this many, halving until the culprit is alone.
  std::size_t batch_limit = kMaxBatchItems;
  detail::SpoolRef spool;  // its record in the spool, when there is one

  std::size_t bytes() const {
    return sizeof(Item) + json.size() + user_id.size() + event_id.size();
  }
};

// What the server (or the connection) said about one item of a request.
struct Verdict {
  enum Kind {
    delivered,
    rejected,
    retry,          // no answer accepted it: send again after a backoff
    split,          // the batch was refused as a whole: send again in smaller batches
    unrecoverable,  // no retry can mend the request's failure
  } kind = retry;
  FieldErrors errors;
  std::string message;  // for unrecoverable
  int http_status = 0;  // of the answer, when there was one
};

// Options that cannot work are refused, naming the option.
void check_options(const IngestorOptions& options) {
  const auto fail = [](const char* field, const char* problem) {
    throw InvalidInputError(field, problem);
  };
  const milliseconds zero(0);
  if (options.max_queue_items < 1) fail("max_queue_items", "must be at least 1");
  if (options.max_queue_bytes < 1024) fail("max_queue_bytes", "must be at least 1024");
  if (options.block_timeout < zero) fail("block_timeout", "must not be negative");
  if (options.batch_items < 1 || options.batch_items > kMaxBatchItems) {
    fail("batch_items", "must be between 1 and 100");
  }
  if (options.batch_bytes < 64) fail("batch_bytes", "must be at least 64");
  if (options.flush_interval < zero) fail("flush_interval", "must not be negative");
  if (options.max_in_flight < 1 || options.max_in_flight > 64) {
    fail("max_in_flight", "must be between 1 and 64");
  }
  if (options.max_attempts < 1 || options.max_attempts > 1000) {
    fail("max_attempts", "must be between 1 and 1000");
  }
  if (options.initial_backoff < zero) fail("initial_backoff", "must not be negative");
  if (options.max_backoff < options.initial_backoff) {
    fail("max_backoff", "must not be less than initial_backoff");
  }
  if (options.max_rate_limit_wait < zero) fail("max_rate_limit_wait", "must not be negative");
  if (!(options.retry_budget >= 0 && options.retry_budget <= 100)) {
    fail("retry_budget", "must be between 0 and 100");
  }
  if (options.shutdown_deadline < zero) fail("shutdown_deadline", "must not be negative");
  if (!options.spool.directory.empty()) {
    if (options.spool.max_bytes < (64u << 10)) fail("spool.max_bytes", "must be at least 64 KiB");
    if (options.spool.sync_interval < zero) fail("spool.sync_interval", "must not be negative");
  }
}

// A random UUID (version 4), the `_event_id` of events added without one.
std::string generate_event_id() {
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device();
  }());
  const std::uint64_t high = (random() & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  const std::uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return detail::format_uuid(high, low);
}

ItemOutcome outcome_of(const Item& item, FinalState state) {
  ItemOutcome outcome;
  outcome.operation = item.op;
  outcome.tag = item.tag;
  outcome.user_id = item.user_id;
  outcome.event_id = item.event_id;
  outcome.state = state;
  return outcome;
}

}  // namespace

const char* to_string(AddStatus status) noexcept {
  switch (status) {
    case AddStatus::accepted:
      return "accepted";
    case AddStatus::queue_full:
      return "queue_full";
    case AddStatus::invalid:
      return "invalid";
    case AddStatus::closed:
      return "closed";
  }
  return "unknown";
}

const char* to_string(FinalState state) noexcept {
  switch (state) {
    case FinalState::delivered:
      return "delivered";
    case FinalState::rejected:
      return "rejected";
    case FinalState::dropped:
      return "dropped";
  }
  return "unknown";
}

const char* to_string(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::none:
      return "none";
    case DropReason::queue_full:
      return "queue_full";
    case DropReason::invalid:
      return "invalid";
    case DropReason::retries_exhausted:
      return "retries_exhausted";
    case DropReason::shutdown:
      return "shutdown";
    case DropReason::unrecoverable:
      return "unrecoverable";
    case DropReason::spool_damaged:
      return "spool_damaged";
  }
  return "unknown";
}

class Ingestor::State : public std::enable_shared_from_this<Ingestor::State>,
                        private detail::ForkAware {
 public:
  State(std::shared_ptr<Client::Impl> client, IngestorOptions options)
      : client_(std::move(client)), options_(std::move(options)) {
    check_options(options_);
    backoff_.initial_backoff = options_.initial_backoff;
    backoff_.max_backoff = options_.max_backoff;
    jitter_.seed(std::random_device{}());
    if (!options_.spool.directory.empty()) spool_ = std::make_unique<detail::Spool>(options_.spool);
  }

  ~State() override { detail::unregister_fork_aware(this); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void start() {
    if (spool_) replay();
    detail::register_fork_aware(this);
    for (int i = 0; i < options_.max_in_flight; ++i) {
      workers_.emplace_back([self = shared_from_this()] { self->work(); });
    }
  }

  AddResult add(Item item) noexcept {
    try {
      return add_item(std::move(item));
    } catch (const std::exception& error) {  // allocation failure: refuse, never throw
      return {AddStatus::invalid, error.what()};
    }
  }

  AddResult refuse(const Item& item, AddStatus status, DropReason reason, std::string why) {
    ItemOutcome outcome = outcome_of(item, FinalState::dropped);
    outcome.drop_reason = reason;
    outcome.message = why;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      count_drop(reason);
    }
    call_back({std::move(outcome)});
    return {status, std::move(why)};
  }

  bool flush(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) return unfinished_.empty();  // closed (or a forked child's copy)
    const std::uint64_t target = next_seq_ - 1;
    flush_target_ = std::max(flush_target_, target);
    work_cv_.notify_all();
    return done_cv_.wait_for(lock, timeout, [&] {
      return (unfinished_.empty() || *unfinished_.begin() > target) && reporting_ == 0;
    });
  }

  std::vector<ItemOutcome> close(milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    std::vector<ItemOutcome> left;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (closed_) return {};
      closed_ = true;
      closing_ = true;
      closing_flag_ = true;
      flush_target_ = next_seq_ - 1;
      work_cv_.notify_all();
      space_cv_.notify_all();
      done_cv_.wait_until(lock, deadline, [&] { return unfinished_.empty() && reporting_ == 0; });
      stopping_ = true;
      // What is left, queued or in flight, is given up now; a request still in flight when its
      // answer comes later finds its items already final and reports nothing.
      for (auto& queue : queues_) {
        for (const Item& item : queue) drop_shutdown(item, left);
        queue.clear();
      }
      queued_bytes_ = 0;
      for (const auto& [seq, item] : in_flight_) drop_shutdown(item, left);
      work_cv_.notify_all();
    }
    // What was given up stays in the spool for the next ingestor; nothing is written after this.
    if (spool_) spool_->close();
    report(left);
    // Senders still waiting for an answer are left to finish on their own: they hold this
    // state, so nothing they touch goes away.
    for (auto& worker : workers_) {
      if (SteadyClock::now() < deadline) {
        join_until(worker, deadline);
      }
      if (worker.joinable()) worker.detach();
    }
    return left;
  }

  IngestorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    IngestorStats stats = stats_;
    if (spool_) stats.spool_bytes = spool_->bytes();
    return stats;
  }

  milliseconds shutdown_deadline() const { return options_.shutdown_deadline; }
  std::size_t max_item_bytes() const { return options_.batch_bytes - 2; }

 private:
  void before_fork() override {
    mutex_.lock();
    if (spool_) spool_->lock_for_fork();
  }
  void after_fork_in_parent() override {
    if (spool_) spool_->unlock_after_fork();
    mutex_.unlock();
  }
  void after_fork_in_child() override {
    if (spool_) {
      spool_->abandon_in_child();
      spool_->unlock_after_fork();
    }
    closing_flag_ = true;
    // The child has none of the parent's sender threads, and the items queued are the parent's
    // to deliver: the child's copy is closed (add() answers `closed`) and holds nothing. Its
    // condition variables may still count the parent's waiters, so the child never touches them.
    closing_ = closed_ = stopping_ = true;
    for (auto& queue : queues_) queue.clear();
    queued_bytes_ = 0;
    in_flight_.clear();
    unfinished_.clear();
    reporting_ = 0;
    last_contact_operation_.clear();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.detach();  // those threads do not exist here
    }
    workers_.clear();
    stats_.queued = stats_.in_flight = 0;
    mutex_.unlock();
  }

  AddResult add_item(Item item) {
    const std::size_t bytes = item.bytes();
    const auto deadline = SteadyClock::now() + options_.block_timeout;
    Settled pushed_out(*this);  // items pushed out to make room, reported however this ends
    if (spool_) {
      if (closing_flag_.load(std::memory_order_relaxed)) {
        return refuse(item, AddStatus::closed, DropReason::shutdown, "the ingestor is closed");
      }
      if (auto refused = write_to_spool(item, deadline, pushed_out.outcomes)) return *refused;
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (closing_) {
        lock.unlock();
        forget_spooled(item);
        return refuse(item, AddStatus::closed, DropReason::shutdown, "the ingestor is closed");
      }
      const auto has_room = [&] {
        return queued_items() + 1 <= options_.max_queue_items &&
               queued_bytes_ + bytes <= options_.max_queue_bytes;
      };
      if (!has_room()) {
        if (options_.overflow == OverflowPolicy::drop_oldest) {
          while (!has_room() && drop_oldest(pushed_out.outcomes)) {
          }
        } else if (options_.overflow == OverflowPolicy::block) {
          space_cv_.wait_until(lock, deadline, [&] { return closing_ || has_room(); });
        }
        if (closing_ || !has_room()) {
          const bool closed = closing_;
          lock.unlock();
          forget_spooled(item);
          return refuse(item, closed ? AddStatus::closed : AddStatus::queue_full,
                        closed ? DropReason::shutdown : DropReason::queue_full,
                        closed ? "the ingestor is closed" : "the queue is full");
        }
      }

      enqueue(std::move(item));
    }
    if (spool_ && !pushed_out.outcomes.empty()) spool_->write_done();
    return {};
  }

  // Queues an accepted item (lock held).
  void enqueue(Item item) {
    item.seq = next_seq_++;
    item.enqueued_at = SteadyClock::now();
    const auto last = last_contact_operation_.find(item.user_id);
    if (last != last_contact_operation_.end() && unfinished_.count(last->second) > 0) {
      item.depends_on = last->second;
    }
    if (is_contact_operation(item.op)) last_contact_operation_[item.user_id] = item.seq;
    unfinished_.insert(item.seq);
    ++stats_.enqueued;
    ++stats_.queued;
    queued_bytes_ += item.bytes();
    auto& queue = queues_[queue_of(item.op)];
    queue.push_back(std::move(item));
    // A sender is woken when a queue gets its first item (to start the flush timer) and when
    // it holds a full batch; in between, adding costs no wake-up.
    if (queue.size() == 1 || queue.size() % options_.batch_items == 0) work_cv_.notify_one();
  }

  // Queues what a previous ingestor left in the spool without a final state, oldest first and
  // past the queue's bounds (they were accepted already); reports at once those whose records
  // were damaged (only their key could be read). Called before the senders start.
  void replay() {
    std::vector<detail::SpooledItem> recovered = spool_->take_recovered();
    std::vector<ItemOutcome> damaged;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (detail::SpooledItem& record : recovered) {
        Item item;
        item.op = record.op;
        item.tag = record.tag;
        item.user_id = std::move(record.user_id);
        item.event_id = std::move(record.event_id);
        item.json = std::move(record.json);
        item.spool = record.ref;
        if (record.damaged) {
          item.seq = next_seq_++;
          unfinished_.insert(item.seq);
          ++stats_.enqueued;
          finish(item, FinalState::dropped, damaged, DropReason::spool_damaged,
                 "its record in the spool was damaged: it can no longer be sent");
        } else {
          enqueue(std::move(item));
          ++stats_.replayed;
        }
      }
      const detail::SpoolFindings& findings = spool_->findings();
      stats_.spool_skipped_bytes = findings.skipped_bytes;
      stats_.spool_damaged_records = findings.damaged_records;
      stats_.spool_unknown_files = findings.unknown_files;
    }
    spool_->write_done();
    report(damaged);
  }

  // Writes an accepted item to the spool before it is queued; the refusal when it cannot be.
  std::optional<AddResult> write_to_spool(Item& item, SteadyClock::time_point deadline,
                                          std::vector<ItemOutcome>& pushed_out) {
    using Append = detail::Spool::Append;
    const detail::SpoolEntry entry{item.op, item.tag, item.user_id, item.event_id, item.json};
    const auto at_once = SteadyClock::time_point::min();
    std::string error;
    Append result = spool_->append(
        entry, options_.overflow == OverflowPolicy::block ? deadline : at_once, item.spool, error);
    if (result == Append::full && options_.overflow == OverflowPolicy::drop_oldest &&
        drop_oldest_segment(pushed_out)) {
      spool_->write_done();
      result = spool_->append(entry, at_once, item.spool, error);
    }
    if (result == Append::ok) return std::nullopt;
    return refuse(
        item, AddStatus::queue_full, DropReason::queue_full,
        result == Append::full ? "the spool is full" : "the spool cannot be written: " + error);
  }

  // Drops the queued items of the oldest spool segment, when that frees it (none of its items
  // is in a request); false when it would not.
  bool drop_oldest_segment(std::vector<ItemOutcome>& outcomes) {
    const std::pair<std::uint64_t, std::uint64_t> oldest = spool_->oldest_segment();
    const std::uint64_t segment = oldest.first;
    const std::uint64_t live = oldest.second;
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Item> dropped;
    std::uint64_t queued = 0;
    for (const auto& queue : queues_) {
      queued += static_cast<std::uint64_t>(
          std::count_if(queue.begin(), queue.end(),
                        [&](const Item& item) { return item.spool.segment == segment; }));
    }
    if (queued == 0 || queued != live) return false;
    for (auto& queue : queues_) {
      std::deque<Item> kept;
      for (Item& item : queue) {
        if (item.spool.segment == segment) {
          dropped.push_back(std::move(item));
        } else {
          kept.push_back(std::move(item));
        }
      }
      queue.swap(kept);
    }
    std::sort(dropped.begin(), dropped.end(),
              [](const Item& a, const Item& b) { return a.seq < b.seq; });
    for (const Item& item : dropped) {
      --stats_.queued;
      queued_bytes_ -= item.bytes();
      finish(item, FinalState::dropped, outcomes, DropReason::queue_full,
             "pushed out of a full spool by a newer item");
    }
    return true;
  }

  // An item written to the spool and then refused: its record is not to be replayed.
  void forget_spooled(const Item& item) {
    if (!spool_ || item.spool.id == 0) return;
    spool_->done(item.spool);
    spool_->write_done();
  }

  std::size_t queued_items() const {
    return queues_[0].size() + queues_[1].size() + queues_[2].size();
  }

  // Drops the oldest queued item (lowest sequence number) to make room; false when none is left.
  bool drop_oldest(std::vector<ItemOutcome>& outcomes) {
    std::deque<Item>* oldest = nullptr;
    for (auto& queue : queues_) {
      if (!queue.empty() && (oldest == nullptr || queue.front().seq < oldest->front().seq)) {
        oldest = &queue;
      }
    }
    if (oldest == nullptr) return false;
    Item item = std::move(oldest->front());
    oldest->pop_front();
    --stats_.queued;
    queued_bytes_ -= item.bytes();
    finish(item, FinalState::dropped, outcomes, DropReason::queue_full,
           "pushed out of a full queue by a newer item");
    return true;
  }

  void drop_shutdown(const Item& item, std::vector<ItemOutcome>& outcomes) {
    finish(item, FinalState::dropped, outcomes, DropReason::shutdown,
           spool_ && item.spool.id != 0
               ? "not delivered by the close deadline; kept in the spool for the next ingestor"
               : "not delivered by the close deadline");
  }

  // Records an item's final state, once: an item already final is left as it is.
  void finish(const Item& item, FinalState state, std::vector<ItemOutcome>& outcomes,
              DropReason reason = DropReason::none, std::string message = {},
              FieldErrors errors = {}, int http_status = 0) {
    if (unfinished_.erase(item.seq) == 0) return;
    bool kept_in_spool = false;
    if (spool_ && item.spool.id != 0) {
      // Given up at shutdown, it stays in the spool to be sent by the next ingestor.
      kept_in_spool = state == FinalState::dropped && reason == DropReason::shutdown;
      if (!kept_in_spool) spool_->done(item.spool);
    }
    if (is_contact_operation(item.op)) {
      const auto last = last_contact_operation_.find(item.user_id);
      if (last != last_contact_operation_.end() && last->second == item.seq) {
        last_contact_operation_.erase(last);
      }
    }
    switch (state) {
      case FinalState::delivered:
        ++stats_.delivered;
        break;
      case FinalState::rejected:
        ++stats_.rejected;
        break;
      case FinalState::dropped:
        count_drop(reason);
        break;
    }
    ItemOutcome outcome = outcome_of(item, state);
    outcome.drop_reason = reason;
    outcome.message = std::move(message);
    outcome.errors = std::move(errors);
    outcome.kept_in_spool = kept_in_spool;
    outcome.http_status = http_status;
    outcomes.push_back(std::move(outcome));
    ++reporting_;
  }

  void count_drop(DropReason reason) {
    switch (reason) {
      case DropReason::queue_full:
        ++stats_.dropped_queue_full;
        break;
      case DropReason::invalid:
        ++stats_.dropped_invalid;
        break;
      case DropReason::retries_exhausted:
        ++stats_.dropped_retries_exhausted;
        break;
      case DropReason::shutdown:
        ++stats_.dropped_shutdown;
        break;
      case DropReason::unrecoverable:
        ++stats_.dropped_unrecoverable;
        break;
      case DropReason::spool_damaged:
        ++stats_.dropped_spool_damaged;
        break;
      case DropReason::none:
        break;
    }
  }

  // Passes outcomes that finish() settled to on_outcome, outside the lock; flush and close wait
  // until it has (reporting_ counts them), so that an item's callback has run when they return.
  void report(const std::vector<ItemOutcome>& outcomes) {
    if (outcomes.empty()) return;
    call_back(outcomes);
    std::lock_guard<std::mutex> lock(mutex_);
    reporting_ -= outcomes.size();
    done_cv_.notify_all();
  }

  // Outcomes a call settled, reported when it ends, by whatever path.
  struct Settled {
    explicit Settled(State& owner) : state(owner) {}
    ~Settled() { state.report(outcomes); }
    Settled(const Settled&) = delete;
    Settled& operator=(const Settled&) = delete;

    State& state;
    std::vector<ItemOutcome> outcomes;
  };

  void call_back(const std::vector<ItemOutcome>& outcomes) const {
    if (!options_.on_outcome) return;
    for (const ItemOutcome& outcome : outcomes) {
      try {
        options_.on_outcome(outcome);
      } catch (...) {  // a throwing callback must not take a sender down
      }
    }
  }

  void join_until(std::thread& worker, SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    exit_cv_.wait_until(lock, deadline, [&] { return exited_workers_ == workers_.size(); });
    if (exited_workers_ == workers_.size()) {
      lock.unlock();
      worker.join();
    }
  }

  // The sender loop: take a batch that is due, send it, apply the answer; until stopped.
  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      std::vector<Item> batch;
      auto wake = SteadyClock::now() + std::chrono::hours(1);
      const std::size_t queue = take_batch(batch, wake);
      if (batch.empty()) {
        work_cv_.wait_until(lock, wake);
        continue;
      }
      const bool retry = std::any_of(batch.begin(), batch.end(),
                                     [](const Item& item) { return item.attempts > 0; });
      ++stats_.requests;
      if (retry) {
        ++stats_.retries;
        retry_tokens_ = std::max(0.0, retry_tokens_ - 1);
      } else {
        retry_tokens_ = std::min(kMaxRetryTokens, retry_tokens_ + options_.retry_budget);
      }
      for (Item& item : batch) {
        ++item.attempts;
        Item record;  // what close() needs to report it, without the payload
        record.seq = item.seq;
        record.op = item.op;
        record.user_id = item.user_id;
        record.event_id = item.event_id;
        record.tag = item.tag;
        record.spool = item.spool;
        in_flight_.emplace(item.seq, std::move(record));
      }
      stats_.queued -= batch.size();
      stats_.in_flight += batch.size();
      space_cv_.notify_all();

      lock.unlock();
      Exchange exchange = send(queue, batch);
      exchange.retry = retry;
      lock.lock();

      std::vector<ItemOutcome> outcomes;
      apply(queue, batch, exchange, outcomes);
      stats_.bytes_sent += exchange.body_bytes;
      stats_.in_flight -= batch.size();
      lock.unlock();
      if (spool_) spool_->write_done();
      report(outcomes);
      lock.lock();
      work_cv_.notify_all();
    }
    ++exited_workers_;
    exit_cv_.notify_all();
  }

  // Time alone earns retries, slowly and up to a few, once the budget is spent.
  void refill_retry_tokens(SteadyClock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    if (retry_tokens_ < kInitialRetryTokens && seconds > 0) {
      retry_tokens_ = std::min(kInitialRetryTokens, retry_tokens_ + seconds * kMinRetriesPerSecond);
    }
  }

  // Moves a batch that is due from one queue into `batch` and returns that queue; leaves `batch`
  // empty (and `wake` at the next time something may be due) when nothing is.
  std::size_t take_batch(std::vector<Item>& batch, SteadyClock::time_point& wake) {
    const auto now = SteadyClock::now();
    refill_retry_tokens(now);
    for (std::size_t turn = 0; turn < kQueues; ++turn) {
      const std::size_t q = (next_queue_ + turn) % kQueues;
      auto& queue = queues_[q];
      if (queue.empty()) continue;
      const auto ready_at = std::max(gate_, resume_at_[q]);
      if (now < ready_at) {
        wake = std::min(wake, ready_at);
        continue;
      }
      const Item& head = queue.front();
      const bool due = q == queue_of(Operation::delete_contact) || closing_ ||
                       fresh_items(queue) >= options_.batch_items || head.seq <= flush_target_ ||
                       now >= head.enqueued_at + options_.flush_interval ||
                       retry_ready(queue, now, wake);
      if (!due) {
        wake = std::min(wake, head.enqueued_at + options_.flush_interval);
        continue;
      }
      collect(q, batch, now, wake);
      if (!batch.empty()) {
        next_queue_ = (q + 1) % kQueues;
        return q;
      }
    }
    return 0;
  }

  // The items of `queue` not waiting to be retried (those are at its front), so that a full
  // batch means a batch of items that may go now.
  static std::size_t fresh_items(const std::deque<Item>& queue) {
    std::size_t retries = 0;
    for (const Item& item : queue) {
      if (item.attempts == 0 || retries == kScanLimit) break;
      ++retries;
    }
    return queue.size() - retries;
  }

  // Whether an item waiting to be retried at the front of `queue` may go now; otherwise moves
  // `wake` to when the first may.
  bool retry_ready(const std::deque<Item>& queue, SteadyClock::time_point now,
                   SteadyClock::time_point& wake) const {
    std::size_t scanned = 0;
    for (const Item& item : queue) {
      if (item.attempts == 0 || ++scanned > kScanLimit) break;  // retries are at the front
      if (now >= item.not_before) {
        if (retry_tokens_ >= 1) return true;
        wake = std::min(wake, now + retry_token_wait());
      } else {
        wake = std::min(wake, item.not_before);
      }
    }
    return false;
  }

  // How long until time alone earns the next retry.
  milliseconds retry_token_wait() const {
    return milliseconds(
        static_cast<std::int64_t>((1 - retry_tokens_) / kMinRetriesPerSecond * 1000) + 1);
  }

  // Takes the sendable items from the front of queue `q`, in order, up to a batch. An item waits
  // (stays queued) while its user's previous contact operation is not final, while its backoff
  // runs, and while retries are over the budget.
  void collect(std::size_t q, std::vector<Item>& batch, SteadyClock::time_point now,
               SteadyClock::time_point& wake) {
    auto& queue = queues_[q];
    std::size_t limit = q == queue_of(Operation::delete_contact) ? 1 : options_.batch_items;
    std::size_t body_bytes = 2;
    std::set<std::uint64_t> taken;
    std::deque<Item> kept;
    std::size_t scanned = 0;
    const bool may_retry = retry_tokens_ >= 1;
    while (!queue.empty() && scanned < kScanLimit && batch.size() < limit) {
      Item& item = queue.front();
      ++scanned;
      const bool backing_off = item.attempts > 0 && (now < item.not_before || !may_retry);
      const bool waiting =
          backing_off ||
          (item.depends_on != 0 && unfinished_.count(item.depends_on) > 0 &&
           !(q == queue_of(Operation::upsert_contact) && taken.count(item.depends_on) > 0));
      const std::size_t size = item.json.size() + (batch.empty() ? 0 : 1);
      if (!waiting && !batch.empty() &&
          (body_bytes + size > options_.batch_bytes || batch.size() >= item.batch_limit)) {
        break;
      }
      if (waiting) {
        if (backing_off) {
          wake = std::min(wake, may_retry ? item.not_before : now + retry_token_wait());
        }
        kept.push_back(std::move(item));
      } else {
        body_bytes += size;
        taken.insert(item.seq);
        queued_bytes_ -= item.bytes();
        limit = std::min(limit, item.batch_limit);
        batch.push_back(std::move(item));
      }
      queue.pop_front();
    }
    while (!kept.empty()) {
      queue.push_front(std::move(kept.back()));
      kept.pop_back();
    }
  }

  // What one request came to.
  struct Exchange {
    std::vector<Verdict> verdicts;
    std::optional<milliseconds> pause;  // a 429 asked every sender to wait
    bool request_failed = false;        // no usable answer: the items are to be sent again
    std::size_t body_bytes = 0;
    bool retry = false;  // it resent items (and took a retry token)
  };

  // Sends one request (no lock held) and says what became of each item. Never throws: running
  // out of memory here fails the request like a dropped connection.
  Exchange send(std::size_t q, const std::vector<Item>& batch) {
    Exchange exchange;
    try {
      exchange.verdicts.assign(batch.size(), Verdict{});
      exchange_with_server(q, batch, exchange);
    } catch (const std::exception&) {
      exchange.verdicts.assign(batch.size(), Verdict{});
      exchange.request_failed = true;
    }
    return exchange;
  }

  void exchange_with_server(std::size_t q, const std::vector<Item>& batch, Exchange& exchange) {
    std::vector<Verdict>& verdicts = exchange.verdicts;
    HttpRequest request;
    if (q == queue_of(Operation::delete_contact)) {
      request = client_->make_request(
          "DELETE", "/stream/contacts/" + detail::encode_path_segment(batch.front().user_id), {});
    } else {
      std::string body = "[";
      for (const Item& item : batch) {
        if (body.size() > 1) body.push_back(',');
        body.append(item.json);
      }
      body.push_back(']');
      request = client_->make_request(
          "POST", q == queue_of(Operation::record_event) ? "/stream/events" : "/stream/contacts",
          std::move(body));
    }
    exchange.body_bytes = request.body.size();
    const detail::Outcome outcome = client_->send_once(request);
    if (!outcome.response) {
      const TransportError& error = *outcome.transport_error;
      if (error.retryable()) {
        exchange.request_failed = true;  // connection failure or timeout: resend (idempotent)
        return;
      }
      for (Verdict& verdict : verdicts) {
        verdict.kind = Verdict::unrecoverable;
        verdict.message = error.what();
      }
      return;
    }
    const HttpResponse& response = *outcome.response;
    const int status = response.status;
    for (Verdict& verdict : verdicts) verdict.http_status = status;
    if (status == 429) {
      // The server's time when it gave one; otherwise the usual backoff (never a tight loop).
      exchange.pause = detail::rate_limit_delay(response.headers, client_->clock()->system_now())
                           .value_or(milliseconds(0));
      exchange.request_failed = true;
      return;
    }
    if (detail::is_retryable_status(status)) {
      exchange.request_failed = true;
      return;
    }
    if (q == queue_of(Operation::delete_contact)) {
      if (detail::is_success(status)) {
        verdicts.front().kind = Verdict::delivered;
      } else {
        reject_all(response, verdicts);
      }
      return;
    }
    if ((status == 400 || status == 413) && batch.size() > 1) {
      // Refused as a whole, perhaps for one item (too large, too deep for the server): split the
      // batch until the culprit is alone, so that it cannot sink the others.
      for (Verdict& verdict : verdicts) verdict.kind = Verdict::split;
      return;
    }
    if (!detail::is_success(status) && status != 422) {
      reject_all(response, verdicts);
      return;
    }
    std::vector<std::string_view> ids;
    ids.reserve(batch.size());
    const BatchKind kind =
        q == queue_of(Operation::record_event) ? BatchKind::events : BatchKind::contacts;
    for (const Item& item : batch)
      ids.emplace_back(kind == BatchKind::events ? item.event_id : item.user_id);
    std::vector<ItemResult> results;
    client_->read_answer(response.body, kind, ids, 0, results);
    for (std::size_t i = 0; i < results.size() && i < verdicts.size(); ++i) {
      if (results[i].status == ItemStatus::accepted) {
        verdicts[i].kind = Verdict::delivered;
      } else if (results[i].status == ItemStatus::rejected) {
        verdicts[i].kind = Verdict::rejected;
        verdicts[i].errors = std::move(results[i].errors);
      }  // unknown: resend
    }
  }

  void reject_all(const HttpResponse& response, std::vector<Verdict>& verdicts) const {
    std::string message = "request refused with HTTP " + std::to_string(response.status);
    const std::string server = detail::server_message(response, client_->token());
    if (!server.empty()) message += ": " + server;
    for (Verdict& verdict : verdicts) {
      verdict.kind = Verdict::rejected;
      verdict.errors[""].push_back(message);
    }
  }

  // Applies a request's verdicts (lock held): final states, or back to the front of the queue.
  void apply(std::size_t q, std::vector<Item>& batch, const Exchange& exchange,
             std::vector<ItemOutcome>& outcomes) {
    const auto now = SteadyClock::now();
    if (exchange.pause) {
      ++stats_.rate_limited;
      gate_ = std::max(gate_, now + std::min(*exchange.pause, options_.max_rate_limit_wait));
    }
    history_[q] = (history_[q] << 1) | (exchange.request_failed ? 1u : 0u);
    requests_seen_[q] = std::min(requests_seen_[q] + 1, kHealthWindow);
    if (exchange.request_failed) {
      // Many failures in a row: the server looks down, and the whole queue waits.
      if (++failures_[q] >= kOutageThreshold && (!exchange.pause || exchange.pause->count() == 0)) {
        resume_at_[q] = std::max(
            resume_at_[q], now + detail::backoff_delay(
                                     backoff_, failures_[q] - kOutageThreshold + 1, draw_jitter()));
      }
    } else {
      failures_[q] = 0;
      resume_at_[q] = std::min(resume_at_[q], now);
      // The budget is spent by retries that fail: one that got an answer gives its token back.
      if (exchange.retry) retry_tokens_ = std::min(kMaxRetryTokens, retry_tokens_ + 1);
    }
    // One draw for the whole request: its items become due together and go out together again,
    // instead of one by one.
    const std::uint64_t jitter = draw_jitter();
    std::vector<Item> again;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Item& item = batch[i];
      in_flight_.erase(item.seq);
      const Verdict& verdict = exchange.verdicts[i];
      if (verdict.kind == Verdict::delivered) {
        finish(item, FinalState::delivered, outcomes, DropReason::none, {}, {},
               verdict.http_status);
      } else if (verdict.kind == Verdict::rejected) {
        finish(item, FinalState::rejected, outcomes, DropReason::none, {}, verdict.errors,
               verdict.http_status);
      } else if (unfinished_.count(item.seq) == 0) {
        continue;  // given up by close() while it was in flight
      } else if (verdict.kind == Verdict::unrecoverable) {
        finish(item, FinalState::dropped, outcomes, DropReason::unrecoverable, verdict.message);
      } else if (verdict.kind == Verdict::split) {
        // Not a failed attempt: the request said nothing about this item.
        --item.attempts;
        item.batch_limit = std::max<std::size_t>(1, (batch.size() + 1) / 2);
        again.push_back(std::move(item));
      } else if (item.attempts >= options_.max_attempts) {
        finish(item, FinalState::dropped, outcomes, DropReason::retries_exhausted,
               "no answer accepted it after " + std::to_string(item.attempts) + " attempts", {},
               verdict.http_status);
      } else {
        // Its own backoff, while newer items keep flowing (a 429's pause is the gate's).
        const bool gated = exchange.pause && exchange.pause->count() > 0;
        const int step = healthy(q) ? 1 : item.attempts;
        item.not_before = gated ? now : now + detail::backoff_delay(backoff_, step, jitter);
        again.push_back(std::move(item));
      }
    }
    // Resent first, in their order, ahead of newer items.
    auto& queue = queues_[q];
    for (auto it = again.rbegin(); it != again.rend(); ++it) {
      queued_bytes_ += it->bytes();
      ++stats_.queued;
      queue.push_front(std::move(*it));
    }
  }

  // Whether fewer than half of the queue's recent requests failed.
  bool healthy(std::size_t q) const {
    const std::uint32_t recent = history_[q] & ((1u << kHealthWindow) - 1);
    return 2 * static_cast<unsigned>(__builtin_popcount(recent)) < requests_seen_[q];
  }

  std::uint64_t draw_jitter() {
    std::uniform_int_distribution<std::uint64_t> draw;
    return draw(jitter_);
  }

  const std::shared_ptr<Client::Impl> client_;
  IngestorOptions options_;
  std::unique_ptr<detail::Spool> spool_;   // null without a spool
  std::atomic<bool> closing_flag_{false};  // closing_, readable without the lock
  RetryPolicy backoff_;                    // only its backoff fields are used

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // senders: something may be due
  std::condition_variable done_cv_;   // flush/close: items reached final states
  std::condition_variable space_cv_;  // add (block policy): room freed
  std::condition_variable exit_cv_;   // close: senders exited

  std::array<std::deque<Item>, kQueues> queues_;
  std::size_t queued_bytes_ = 0;
  std::unordered_map<std::uint64_t, Item> in_flight_;
  std::set<std::uint64_t> unfinished_;  // every accepted item without a final state
  std::size_t reporting_ = 0;           // outcomes settled and not yet passed to on_outcome
  std::unordered_map<std::string, std::uint64_t> last_contact_operation_;  // by user id
  std::uint64_t next_seq_ = 1;
  std::uint64_t flush_target_ = 0;  // items up to here are sent without waiting
  std::size_t next_queue_ = 0;

  std::array<SteadyClock::time_point, kQueues> resume_at_{};  // backoff per queue
  std::array<int, kQueues> failures_{};                       // consecutive failed requests
  std::array<std::uint32_t, kQueues> history_{};   // the last requests, newest in bit 0: 1 failed
  std::array<unsigned, kQueues> requests_seen_{};  // how many of history_'s bits count
  SteadyClock::time_point gate_{};                 // 429: nobody sends before
  double retry_tokens_ = kInitialRetryTokens;
  SteadyClock::time_point last_refill_ = SteadyClock::now();
  std::mt19937_64 jitter_;

  bool closing_ = false;
  bool closed_ = false;
  bool stopping_ = false;
  IngestorStats stats_;
  std::vector<std::thread> workers_;
  std::size_t exited_workers_ = 0;
};

Ingestor::Ingestor(const Client& client, IngestorOptions options)
    : state_(std::make_shared<State>(client.impl_, std::move(options))) {
  state_->start();
}

Ingestor::~Ingestor() { close(state_->shutdown_deadline()); }

AddResult Ingestor::add(Contact contact, std::uint64_t tag) noexcept {
  try {
    Item item;
    item.op = Operation::upsert_contact;
    item.tag = tag;
    item.user_id = contact.user_id();
    if (item.user_id.empty()) {
      return state_->refuse(item, AddStatus::invalid, DropReason::invalid,
                            "_user_id is empty (a moved-from contact?)");
    }
    item.json = contact.to_json();
    if (item.json.size() > state_->max_item_bytes()) {
      return state_->refuse(item, AddStatus::invalid, DropReason::invalid,
                            "the contact is larger than batch_bytes allows");
    }
    return state_->add(std::move(item));
  } catch (const std::exception& error) {
    return {AddStatus::invalid, error.what()};
  }
}

AddResult Ingestor::add(Event event, std::uint64_t tag) noexcept {
  try {
    Item item;
    item.op = Operation::record_event;
    item.tag = tag;
    item.user_id = event.user_id();
    if (item.user_id.empty() || event.event_type().empty()) {
      return state_->refuse(item, AddStatus::invalid, DropReason::invalid,
                            "_user_id or _event_type is empty (a moved-from event?)");
    }
    if (event.event_id().empty()) event.event_id(generate_event_id());
    item.event_id = event.event_id();
    item.json = event.to_json();
    if (item.json.size() > state_->max_item_bytes()) {
      return state_->refuse(item, AddStatus::invalid, DropReason::invalid,
                            "the event is larger than batch_bytes allows");
    }
    return state_->add(std::move(item));
  } catch (const std::exception& error) {
    return {AddStatus::invalid, error.what()};
  }
}

AddResult Ingestor::delete_contact(std::string user_id, std::uint64_t tag) noexcept {
  try {
    Item item;
    item.op = Operation::delete_contact;
    item.tag = tag;
    item.user_id = std::move(user_id);
    if (const auto problem = detail::path_segment_problem(item.user_id)) {
      return state_->refuse(item, AddStatus::invalid, DropReason::invalid,
                            std::string("user id ") + *problem);
    }
    return state_->add(std::move(item));
  } catch (const std::exception& error) {
    return {AddStatus::invalid, error.what()};
  }
}

bool Ingestor::flush(std::chrono::milliseconds timeout) { return state_->flush(timeout); }

std::vector<ItemOutcome> Ingestor::close(std::chrono::milliseconds timeout) {
  return state_->close(timeout);
}

IngestorStats Ingestor::stats() const { return state_->stats(); }

}  // namespace instasent
