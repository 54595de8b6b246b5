// SPDX-License-Identifier: Apache-2.0
#include "instasent/ingestor.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "batch_exchange.hpp"
#include "client_core.hpp"
#include "delivery_queue.hpp"
#include "fork_guard.hpp"
#include "ids.hpp"
#include "ingestor_options.hpp"
#include "pacer.hpp"
#include "spool.hpp"

namespace instasent {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// The ingestor whose on_outcome this thread is running, if any: close, called from there against
// the rules, must not wait for that very callback to return.
thread_local const void* calling_back_for = nullptr;

}  // namespace

// The Ingestor's facade: the sender threads, add's admission, flush and close, fork, and the
// spool glue. What the items go through lives in DeliveryQueue (queues, order, batches, final
// states), Pacer (backoff, the retry budget, the 429 gate) and exchange_batch (one request).
class Ingestor::State : public std::enable_shared_from_this<Ingestor::State>,
                        private detail::ForkAware {
 public:
  State(std::shared_ptr<detail::ClientCore> client, IngestorOptions options)
      : client_(std::move(client)),
        options_(std::move(options)),
        queue_(options_, stats_),
        pacer_(options_.retry, options_.retry_budget, SteadyClock::now()) {
    detail::check_options(options_);
    if (!options_.spool.directory.empty()) spool_ = std::make_unique<detail::Spool>(options_.spool);
  }

  ~State() override { detail::unregister_fork_aware(this); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void start() {
    if (spool_) start_replay();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sync_inbox_locked();  // opens the inbox, unless replaying
    }
    detail::register_fork_aware(this);
    for (int i = 0; i < options_.max_in_flight; ++i) {
      workers_.emplace_back([self = shared_from_this()] { self->work(); });
    }
    if (replaying_) workers_.emplace_back([self = shared_from_this()] { self->replay(); });
  }

  // Builds an item (`build` fills it in and says what makes it unsendable, if anything) and queues
  // it. Never throws: running out of memory refuses the item.
  template <typename Build>
  AddResult admit(Operation op, std::uint64_t tag, const char* noun, Build build) noexcept {
    try {
      detail::QueuedItem item;
      item.op = op;
      item.tag = tag;
      if (const std::optional<std::string> problem = build(item)) {
        return refuse(AddStatus::invalid, DropReason::invalid, *problem);
      }
      if (item.json.size() > max_item_bytes()) {
        return refuse(AddStatus::invalid, DropReason::invalid,
                      std::string("the ") + noun + " is larger than batch.max_bytes allows");
      }
      if (spool_ && !detail::Spool::fits_a_record(
                        {item.op, item.tag, item.user_id, item.event_id, item.json})) {
        return refuse(
            AddStatus::invalid, DropReason::invalid,
            std::string("the ") + noun + " is larger than a spool record can be (64 MiB)");
      }
      return add(std::move(item));
    } catch (const std::exception& error) {
      return {AddStatus::invalid, error.what()};
    }
  }

  // Why the ingestor stopped sending for good, after a 401 or a 404 to a batch.
  static std::string stop_message(int status) {
    return status == 401 ? "the server refused the credentials (HTTP 401); the ingestor stopped "
                           "sending"
                         : "the server does not know the project or datasource (HTTP 404); the "
                           "ingestor stopped sending";
  }

  // `add` once closing or closed, or stopped by a 401/404.
  AddResult refuse_closed() {
    if (const int status = stopped_status_.load(); status != 0) {
      return refuse(AddStatus::closed, DropReason::unauthorized, stop_message(status));
    }
    return refuse(AddStatus::closed, DropReason::shutdown, "the ingestor is closed");
  }

  // An item refused at add: reported by the AddResult alone (it never was queued).
  AddResult refuse(AddStatus status, DropReason reason, std::string why) {
    std::lock_guard<std::mutex> lock(mutex_);
    detail::count_drop(stats_, reason);
    return {status, std::move(why)};
  }

  bool flush(milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    if (phase_ == Phase::stopped) return all_final();  // closed (or a forked child's copy)
    // What the spool still holds, and what was added meanwhile, is queued once replay ends.
    if (!done_cv_.wait_until(lock, deadline, [&] { return !replaying_; })) return false;
    sync_inbox_locked();
    const std::uint64_t target = queue_.flush_all();
    wake_senders();
    return done_cv_.wait_until(lock, deadline,
                               [&] { return queue_.final_up_to(target) && all_reported(); });
  }

  std::vector<ItemOutcome> close(milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    detail::Settled left;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (phase_ != Phase::open) return {};
      phase_ = Phase::closing;
      sync_inbox_locked();  // add refuses from here on
      queue_.flush_all();
      wake_senders();
      space_cv_.notify_all();
      done_cv_.wait_until(lock, deadline, [&] { return all_final() && all_reported(); });
      phase_ = Phase::stopped;
      // What is left, queued or in flight, is given up now; a request still in flight when its
      // answer comes later finds its items already final and reports nothing. Items of the spool
      // not read back yet stay there unreported.
      end_replay_locked();
      queue_.drop_all(left);
      sync_inbox_locked();
      wake_senders();
    }
    // What was given up stays in the spool for the next ingestor; nothing is written after this.
    if (spool_) spool_->close();
    report(left);
    // A sender may have settled items before the deadline and be passing them to on_outcome
    // now; their answers are in, so this wait is only as long as the callbacks. After it no
    // callback runs again: every item is final, and a late answer reports nothing.
    if (calling_back_for != this) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return all_reported(); });
    }
    // Senders still waiting for an answer are left to finish on their own: they hold this
    // state, so nothing they touch goes away.
    for (auto& worker : workers_) {
      if (SteadyClock::now() < deadline) join_until(worker, deadline);
      if (worker.joinable()) worker.detach();
    }
    return std::move(left.outcomes);
  }

  IngestorStats stats() const {
    const auto now = SteadyClock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    IngestorStats stats = stats_;
    {
      std::lock_guard<std::mutex> inbox(inbox_mutex_);  // accepted, and queued once a sender looks
      stats.enqueued += inbox_.size();
      stats.queued += inbox_.size();
    }
    if (spool_) stats.spool_bytes = spool_->bytes();
    stats.replay_pending = replay_pending_;
    stats.rate_limit_wait = std::chrono::duration_cast<milliseconds>(pacer_.paused());
    if (const auto until = pacer_.rate_limited_until(); until > now) {
      stats.rate_limit_wait_left = std::chrono::ceil<milliseconds>(until - now);
    }
    return stats;
  }

  milliseconds shutdown_deadline() const { return options_.shutdown_deadline; }
  bool dry_run() const { return options_.dry_run; }

 private:
  std::size_t max_item_bytes() const { return options_.batch.max_bytes - 2; }

  // open: add accepts, senders send what is due. closing: close() was called; add refuses,
  // senders send everything queued. stopped: close's deadline passed (or this is a forked
  // child's copy); senders exit. Written under the lock; add reads it without.
  enum class Phase { open, closing, stopped };

  void before_fork() override {
    mutex_.lock();
    inbox_mutex_.lock();
    if (spool_) spool_->lock_for_fork();
  }
  void after_fork_in_parent() override {
    if (spool_) spool_->unlock_after_fork();
    inbox_mutex_.unlock();
    mutex_.unlock();
  }
  void after_fork_in_child() override {
    if (spool_) {
      spool_->abandon_in_child();
      spool_->unlock_after_fork();
    }
    // The child has none of the parent's sender threads, and the items queued are the parent's
    // to deliver: the child's copy is closed (add() answers `closed`) and holds nothing. Its
    // condition variables may still count the parent's waiters, so the child never touches them.
    phase_ = Phase::stopped;
    queue_.clear();
    replaying_ = false;
    pending_.clear();
    inbox_.clear();
    inbox_open_ = false;
    inbox_mutex_.unlock();
    reported_ = queue_.settled_total();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.detach();  // those threads do not exist here
    }
    workers_.clear();
    mutex_.unlock();
  }

  AddResult add(detail::QueuedItem&& item) {
    const std::size_t bytes = item.bytes();
    const auto now = SteadyClock::now();
    const auto deadline = now + options_.queue.block_timeout;
    Reporter pushed_out(*this);  // items pushed out to make room, reported however this ends
    if (spool_) {
      if (phase_.load(std::memory_order_relaxed) != Phase::open || stopped_status_ != 0) {
        return refuse_closed();
      }
      if (auto refused = write_to_spool(item, deadline, pushed_out.settled)) return *refused;
    }
    // The way in while there is room: the inbox, without the lock the senders hold.
    if (enter_inbox(item, bytes, now)) return {};
    {
      std::unique_lock<std::mutex> lock(mutex_);
      sync_inbox_locked();
      const auto closing = [&] { return phase_ != Phase::open || stopped_status_ != 0; };
      // While the spool is read back, added items wait apart (see replay); otherwise they enter
      // the inbox, where its bounds are counted.
      const auto admit = [&] {
        if (!replaying_) return enter_inbox(item, bytes, now);
        if (!detail::within_bounds(options_.queue, pending_.size() + 1, pending_bytes_ + bytes)) {
          return false;
        }
        pending_bytes_ += bytes;
        pending_.push_back(std::move(item));
        ++stats_.enqueued;
        ++stats_.queued;
        return true;
      };
      bool admitted = !closing() && admit();
      if (!admitted && !closing()) {
        if (options_.queue.overflow == OverflowPolicy::drop_oldest && !replaying_) {
          while (!(admitted = admit()) && queue_.drop_oldest(pushed_out.settled)) {
            sync_inbox_locked();
          }
          forget_spooled_locked(pushed_out.settled);
        } else if (options_.queue.overflow == OverflowPolicy::block) {
          // Admitted as soon as there is room: others may take the room while this one waits.
          space_cv_.wait_until(lock, deadline, [&] { return closing() || (admitted = admit()); });
        }
      }
      if (!admitted) {
        const bool closed = closing();
        lock.unlock();
        forget_spooled(item);
        if (closed) return refuse_closed();
        return refuse(AddStatus::queue_full, DropReason::queue_full, "the queue is full");
      }
    }
    if (spool_ && pushed_out.settled.count > 0) spool_->write_done();
    return {};
  }

  // Puts an item in the inbox, when it is open and the queue has room; false (and `item` left as
  // it is) otherwise. A sender is woken when a queue gets its first item (to start the flush
  // timer) and when it holds a full batch; in between, adding costs no wake-up.
  bool enter_inbox(detail::QueuedItem& item, std::size_t bytes, SteadyClock::time_point now) {
    std::unique_lock<std::mutex> inbox(inbox_mutex_);
    if (!inbox_open_ || !inbox_has_room_locked(bytes)) return false;
    const std::size_t queue = detail::queue_of(item.op);
    const std::size_t queued = ++queued_[queue];
    queued_bytes_ += bytes;
    ++inbox_items_[queue];
    inbox_bytes_ += bytes;
    item.enqueued_at = now;
    inbox_.push_back(std::move(item));
    if (queued == 1 || queued % options_.batch.max_items == 0) {
      ++wakes_;
      inbox.unlock();
      sender_cv_.notify_one();
    }
    return true;
  }

  // Whether an item of `bytes` fits within the queue's bounds, counting the inbox (inbox lock
  // held).
  bool inbox_has_room_locked(std::size_t bytes) const {
    return detail::within_bounds(options_.queue, queued_[0] + queued_[1] + queued_[2] + 1,
                                 queued_bytes_ + bytes);
  }

  // Moves what the inbox holds into the queue, in the order added, and brings what add reads
  // without the lock up to date: whether the inbox is open, and how much is queued. Called with
  // the lock held after anything that changes those. The inbox's lock is held only to swap the
  // inbox out and to count, never while its items are queued. Returns the wake-up count when the
  // inbox was taken (see work).
  std::uint64_t sync_inbox_locked() {
    std::uint64_t wakes = 0;
    {
      std::lock_guard<std::mutex> inbox(inbox_mutex_);
      inbox_.swap(arrived_);  // still counted in queued_ until counted again below
      inbox_items_ = {};
      inbox_bytes_ = 0;
      wakes = wakes_;
    }
    for (detail::QueuedItem& item : arrived_) {
      const auto enqueued_at = item.enqueued_at;
      queue_.push(std::move(item), enqueued_at);
    }
    arrived_.clear();  // its blocks go back, but one kept for the next
    std::lock_guard<std::mutex> inbox(inbox_mutex_);
    inbox_open_ = phase_ == Phase::open && stopped_status_ == 0 && !replaying_;
    for (std::size_t q = 0; q < detail::kQueues; ++q) {
      queued_[q] = queue_.queued_in(q) + inbox_items_[q];
    }
    queued_bytes_ = queue_.queued_bytes() + inbox_bytes_;
    return wakes;
  }

  // Wakes the senders waiting for something to do (lock held or not).
  void wake_senders() {
    {
      std::lock_guard<std::mutex> inbox(inbox_mutex_);
      ++wakes_;
    }
    sender_cv_.notify_all();
  }

  // With items a previous ingestor left in the spool without a final state, starts reading them
  // back (replay, on its own thread) and logs what was found. Before the senders start.
  void start_replay() {
    const detail::SpoolFindings& findings = spool_->findings();
    stats_.spool_skipped_bytes = findings.skipped_bytes;
    stats_.spool_damaged_records = findings.damaged_records;
    stats_.spool_unknown_files = findings.unknown_files;
    const std::uint64_t damaged = spool_->recovered_damaged();
    replay_pending_ = spool_->recovered_items();
    replaying_ = replay_pending_ > 0;
    if (!replaying_) return;
    LogRecord record;
    record.level = LogLevel::info;
    record.event = LogEvent::spool_recovered;
    record.items = static_cast<std::size_t>(replay_pending_ - damaged);
    const std::string message = std::to_string(damaged) + " damaged records could not be sent";
    if (damaged > 0) record.message = message;
    logger().log(record);
  }

  // Queues what the spool held at start, oldest first, a segment at a time, as the queue has
  // room: memory holds the queue's bounds and one segment, whatever the backlog. Items found
  // damaged (only their key could be read) are reported at once. Items added meanwhile wait
  // apart (pending_, within the queue's bounds), so that none overtakes an earlier item of its
  // user; they are queued when this ends. Stops early when the ingestor stops sending: what is
  // not read back stays in the spool.
  void replay() {
    std::vector<detail::SpooledItem> records;
    while (spool_->read_recovered(records)) {
      Reporter damaged(*this);
      std::unique_lock<std::mutex> lock(mutex_);
      const auto stopping = [&] { return phase_ == Phase::stopped || stopped_status_ != 0; };
      for (detail::SpooledItem& record : records) {
        detail::QueuedItem item;
        item.op = record.op;
        item.tag = record.tag;
        item.user_id = std::move(record.user_id);
        item.event_id = std::move(record.event_id);
        item.json = std::move(record.json);
        item.spool = record.ref;
        if (!record.damaged) {
          // Replayed items may wait past the queue's bounds only when it is empty (one larger
          // than them).
          space_cv_.wait(lock, [&] {
            return stopping() || queue_.has_room(item.bytes()) || queue_.queued_items() == 0;
          });
        }
        if (stopping()) break;
        --replay_pending_;
        if (record.damaged) {
          queue_.settle_unsendable(
              std::move(item),
              detail::Ending::dropped(
                  DropReason::spool_damaged,
                  "its record in the spool was damaged: it can no longer be sent"),
              damaged.settled);
          continue;
        }
        queue_.push(std::move(item), SteadyClock::now());
        ++stats_.replayed;
        // Sent without waiting for a full batch: they have waited long enough.
        queue_.flush_all();
        wake_senders();
      }
      forget_spooled_locked(damaged.settled);
      const bool stop = stopping();
      lock.unlock();
      spool_->write_done();
      if (stop) break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    end_replay_locked();
    ++exited_workers_;
    exit_cv_.notify_all();
  }

  // Replay is over (read to its end, or given up): the items added meanwhile join the queue, in
  // the order added. Under the lock.
  void end_replay_locked() {
    if (!replaying_) return;
    replaying_ = false;
    const auto now = SteadyClock::now();
    for (detail::QueuedItem& item : pending_) {
      --stats_.enqueued;  // counted when added; push counts it again
      --stats_.queued;
      queue_.push(std::move(item), now);
    }
    pending_.clear();
    pending_bytes_ = 0;
    sync_inbox_locked();  // add may use the inbox now
    wake_senders();
    space_cv_.notify_all();
    done_cv_.notify_all();
  }

  // Writes an accepted item to the spool before it is queued; the refusal when it cannot be.
  std::optional<AddResult> write_to_spool(detail::QueuedItem& item,
                                          SteadyClock::time_point deadline,
                                          detail::Settled& pushed_out) {
    using Append = detail::Spool::Append;
    const detail::SpoolEntry entry{item.op, item.tag, item.user_id, item.event_id, item.json};
    const auto at_once = SteadyClock::time_point::min();
    std::string error;
    Append result =
        spool_->append(entry, options_.queue.overflow == OverflowPolicy::block ? deadline : at_once,
                       item.spool, error);
    if (result == Append::full && options_.queue.overflow == OverflowPolicy::drop_oldest &&
        drop_oldest_segment(pushed_out)) {
      spool_->write_done();
      result = spool_->append(entry, at_once, item.spool, error);
    }
    if (result == Append::ok) return std::nullopt;
    return refuse(
        AddStatus::queue_full, DropReason::queue_full,
        result == Append::full ? "the spool is full" : "the spool cannot be written: " + error);
  }

  // Drops the queued items of the oldest spool segment, when that frees it (none of its items
  // is in a request); false when it would not.
  bool drop_oldest_segment(detail::Settled& pushed_out) {
    const auto [segment, live] = spool_->oldest_segment();
    std::lock_guard<std::mutex> lock(mutex_);
    const bool dropped = queue_.drop_segment(segment, live, pushed_out);
    forget_spooled_locked(pushed_out);
    return dropped;
  }

  // An item written to the spool and then refused: its record is not to be replayed.
  void forget_spooled(const detail::QueuedItem& item) {
    if (!spool_ || item.spool.id == 0) return;
    spool_->done(item.spool);
    spool_->write_done();
  }

  // Notes in the spool the items `settled` made final (lock held, so that close finds them
  // noted), for the next write_done.
  void forget_spooled_locked(detail::Settled& settled) {
    if (spool_) {
      for (const detail::SpoolRef& ref : settled.spool_done) spool_->done(ref);
    }
    settled.spool_done.clear();
  }

  // Whether every item is final: none queued, in flight, or still to be read back (lock held).
  bool all_final() const { return !replaying_ && queue_.all_final(); }

  // Whether on_outcome has been given every outcome settled so far (lock held).
  bool all_reported() const { return reported_ == queue_.settled_total(); }

  // Items of a request wait from `from` until `until` for their next attempt: counts the time no
  // other such wait already covers (lock held).
  void note_retry_wait(SteadyClock::time_point from, SteadyClock::time_point until) {
    const auto start = std::max(from, retry_wait_until_);
    if (until > start) stats_.retry_wait += std::chrono::duration_cast<milliseconds>(until - start);
    retry_wait_until_ = std::max(retry_wait_until_, until);
  }

  // Whether settling builds the outcomes: for on_outcome, or for the log of dropped items.
  bool keep_outcomes() const { return options_.on_outcome || logger().enabled(LogLevel::warning); }

  const detail::Logger& logger() const { return client_->logger(); }

  // The log of a request's end, outside the lock: items sent back to wait (a retry, or a 429's
  // pause), and the stop after a 401/404.
  void log_request_end(Operation op, int attempt, const detail::BatchReply& result,
                       const detail::Settled& settled, bool stopped) const {
    const int status = result.verdicts.empty() ? 0 : result.verdicts.front().http_status;
    if (settled.retried > 0) {
      LogRecord record;
      const bool paused = status == 429;
      record.level = paused ? LogLevel::warning : LogLevel::info;
      record.event = paused ? LogEvent::rate_limited : LogEvent::retry_scheduled;
      record.operation = to_string(op);
      record.http_status = status;
      record.attempt = attempt;
      record.items = settled.retried;
      record.wait =
          std::max(milliseconds(0),
                   std::chrono::duration_cast<milliseconds>(settled.retry_at - SteadyClock::now()));
      logger().log(record);
    }
    if (stopped) {
      const std::string message = stop_message(result.refused_status);
      LogRecord record;
      record.level = LogLevel::error;
      record.event = LogEvent::sending_stopped;
      record.operation = to_string(op);
      record.http_status = result.refused_status;
      record.message = message;
      logger().log(record);
    }
  }

  // Passes settled outcomes to on_outcome, outside the lock; flush and close wait until it has
  // (all_reported), so that an item's callback has run when they return. Dropped items are
  // logged first.
  void report(const detail::Settled& settled) {
    if (settled.count == 0) return;
    if (logger().enabled(LogLevel::warning)) log_dropped(settled.outcomes);
    call_back(settled.outcomes);
    std::lock_guard<std::mutex> lock(mutex_);
    reported_ += settled.count;
    done_cv_.notify_all();
  }

  // Outcomes a call settled, reported when it ends, by whatever path.
  struct Reporter {
    explicit Reporter(State& owner) : state(owner) {}
    ~Reporter() { state.report(settled); }
    Reporter(const Reporter&) = delete;
    Reporter& operator=(const Reporter&) = delete;

    State& state;
    detail::Settled settled;
  };

  void log_dropped(const std::vector<ItemOutcome>& outcomes) const {
    for (const ItemOutcome& outcome : outcomes) {
      if (outcome.state != FinalState::dropped) continue;
      const std::string message =
          std::string(to_string(outcome.drop_reason)) + ": " + outcome.message;
      LogRecord record;
      record.level = LogLevel::warning;
      record.event = LogEvent::item_dropped;
      record.operation = to_string(outcome.operation);
      record.http_status = outcome.http_status;
      record.items = 1;
      record.message = message;
      logger().log(record);
    }
  }

  void call_back(const std::vector<ItemOutcome>& outcomes) const {
    if (!options_.on_outcome) return;
    const void* outer = calling_back_for;
    calling_back_for = this;
    for (const ItemOutcome& outcome : outcomes) {
      try {
        options_.on_outcome(outcome);
      } catch (...) {  // a throwing callback must not take a sender down
      }
    }
    calling_back_for = outer;
  }

  void join_until(std::thread& worker, SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    exit_cv_.wait_until(lock, deadline, [&] { return exited_workers_ == workers_.size(); });
    if (exited_workers_ == workers_.size()) {
      lock.unlock();
      worker.join();
    }
  }

  // After a 401, or a 404 to a batch: every later request would be refused the same way. What
  // is queued is dropped (and kept in the spool), and add refuses from now on. Under the lock.
  void stop_sending(int status, detail::Settled& settled) {
    stopped_status_ = status;
    stats_.stopped_status = status;
    end_replay_locked();  // what the spool still holds stays there
    sync_inbox_locked();  // add refuses from here on
    queue_.drop_queued(detail::Ending::dropped(DropReason::unauthorized,
                                               "not sent: " + stop_message(status), status),
                       settled);
    sync_inbox_locked();
    space_cv_.notify_all();  // a blocked add refuses now
  }

  // The sender loop: take a batch that is due, send it, apply the answer; until stopped.
  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (phase_ != Phase::stopped) {
      const auto now = SteadyClock::now();
      auto wake = now + std::chrono::hours(1);
      pacer_.refill(now);
      const std::uint64_t wakes = sync_inbox_locked();
      detail::Batch batch = queue_.take_batch(now, pacer_, phase_ != Phase::open, wake);
      if (batch.items.empty()) {
        // Asleep on the inbox's lock, so that add can wake it without taking this one.
        lock.unlock();
        {
          std::unique_lock<std::mutex> inbox(inbox_mutex_);
          sender_cv_.wait_until(inbox, wake, [&] { return wakes_ != wakes; });
        }
        lock.lock();
        continue;
      }
      sync_inbox_locked();  // room for add
      ++stats_.requests;
      if (batch.retry) ++stats_.retries;
      pacer_.on_send(detail::queue_of(batch.op), batch.retry);
      space_cv_.notify_all();

      lock.unlock();
      const detail::BatchReply result = detail::exchange_batch(*client_, batch, options_.dry_run);
      lock.lock();

      if (result.pause) ++stats_.rate_limited;
      const detail::RetrySchedule schedule =
          pacer_.on_end(detail::queue_of(batch.op), SteadyClock::now(),
                        {result.request_failed, result.pause, batch.retry, result.allowance});
      detail::Settled settled;
      settled.keep_outcomes = keep_outcomes();
      const Operation op = batch.op;
      const int attempt = batch.attempt();
      queue_.settle(batch, result.verdicts, schedule, settled);
      sync_inbox_locked();  // retried items are queued again
      if (settled.retried > 0 && !schedule.gated) note_retry_wait(schedule.now, settled.retry_at);
      const bool stops = result.refused_status != 0 && stopped_status_ == 0;
      if (stops) stop_sending(result.refused_status, settled);
      forget_spooled_locked(settled);
      stats_.bytes_sent += result.body_bytes;
      lock.unlock();
      if (spool_) spool_->write_done();
      log_request_end(op, attempt, result, settled, stops);
      report(settled);
      lock.lock();
      wake_senders();
    }
    ++exited_workers_;
    exit_cv_.notify_all();
  }

  const std::shared_ptr<detail::ClientCore> client_;
  const IngestorOptions options_;
  std::unique_ptr<detail::Spool> spool_;  // null without a spool

  mutable std::mutex mutex_;          // guards what follows
  std::condition_variable done_cv_;   // flush/close: items reached final states
  std::condition_variable space_cv_;  // add (block policy): room freed
  std::condition_variable exit_cv_;   // close: senders exited

  IngestorStats stats_;
  detail::DeliveryQueue queue_;

  // The inbox: items add accepted and no sender has queued yet (see sync_inbox_locked). add
  // reaches it without the lock above, which senders hold while they take or settle a batch.
  // Lock order: mutex_, then inbox_mutex_.
  mutable std::mutex inbox_mutex_;     // guards what follows
  std::condition_variable sender_cv_;  // senders: something may be due (see wakes_)
  detail::ItemQueue inbox_;            // in blocks: a burst never moves what it holds
  bool inbox_open_ = false;            // open, not stopped, not replaying: add may use the inbox
  // What is queued, in the queue and the inbox, per queue and in bytes (add's bounds), and what
  // of it is in the inbox.
  std::array<std::size_t, detail::kQueues> queued_{};
  std::size_t queued_bytes_ = 0;
  std::array<std::size_t, detail::kQueues> inbox_items_{};
  std::size_t inbox_bytes_ = 0;
  std::uint64_t wakes_ = 0;    // counts the calls for senders to look for work again
  detail::ItemQueue arrived_;  // the inbox being queued (under mutex_)
  // Replay (see replay()): whether it is under way, the items the spool still holds for it, and
  // the items added meanwhile, in order, with their bytes.
  bool replaying_ = false;
  std::uint64_t replay_pending_ = 0;
  std::deque<detail::QueuedItem> pending_;
  std::size_t pending_bytes_ = 0;
  detail::Pacer pacer_;
  std::uint64_t reported_ = 0;                  // outcomes passed to on_outcome (see all_reported)
  SteadyClock::time_point retry_wait_until_{};  // the latest retry wait counted (note_retry_wait)
  std::atomic<Phase> phase_{Phase::open};
  std::atomic<int> stopped_status_{0};  // 401 or 404 once the server refused (see stop_sending)
  std::vector<std::thread> workers_;
  std::size_t exited_workers_ = 0;
};

Ingestor::Ingestor(const Client& client, IngestorOptions options)
    : state_(std::make_shared<State>(client.core_, std::move(options))) {
  state_->start();
}

Ingestor::~Ingestor() { close(state_->shutdown_deadline()); }

AddResult Ingestor::add(Contact contact, std::uint64_t tag) noexcept {
  return state_->admit(Operation::upsert_contact, tag, "contact",
                       [&](detail::QueuedItem& item) -> std::optional<std::string> {
                         item.user_id = contact.user_id();
                         if (item.user_id.empty()) {
                           return "_user_id is empty (a moved-from contact?)";
                         }
                         item.json = std::move(contact).to_json();
                         return std::nullopt;
                       });
}

AddResult Ingestor::add(Event event, std::uint64_t tag) noexcept {
  return state_->admit(Operation::record_event, tag, "event",
                       [&](detail::QueuedItem& item) -> std::optional<std::string> {
                         item.user_id = event.user_id();
                         if (item.user_id.empty() || event.event_type().empty()) {
                           return "_user_id or _event_type is empty (a moved-from event?)";
                         }
                         if (event.event_id().empty()) event.event_id(detail::random_event_id());
                         item.event_id = event.event_id();
                         item.json = event.to_json();
                         return std::nullopt;
                       });
}

AddResult Ingestor::delete_contact(std::string user_id, std::uint64_t tag) noexcept {
  return state_->admit(Operation::delete_contact, tag, "delete",
                       [&](detail::QueuedItem& item) -> std::optional<std::string> {
                         if (state_->dry_run()) {
                           return std::string(
                               "a dry run cannot delete: the API checks batches of "
                               "contacts and events only");
                         }
                         item.user_id = std::move(user_id);
                         if (const auto problem = detail::path_segment_problem(item.user_id)) {
                           return std::string("user id ") + *problem;
                         }
                         return std::nullopt;
                       });
}

bool Ingestor::flush(std::chrono::milliseconds timeout) { return state_->flush(timeout); }

std::vector<ItemOutcome> Ingestor::close(std::chrono::milliseconds timeout) {
  return state_->close(timeout);
}

IngestorStats Ingestor::stats() const { return state_->stats(); }

}  // namespace instasent
