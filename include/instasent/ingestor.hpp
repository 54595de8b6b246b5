// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "instasent/batch_result.hpp"
#include "instasent/client.hpp"
#include "instasent/contact.hpp"
#include "instasent/event.hpp"
#include "instasent/export.hpp"
#include "instasent/options.hpp"
#include "instasent/retry.hpp"

namespace instasent {

/// What `Ingestor::add` did with an item, at once. Only a queued item has an `ItemOutcome`
/// later; a refused one is reported by its `AddResult` alone (and counted in `IngestorStats`).
enum class AddStatus {
  queued,      ///< Queued; its final state will be passed to `on_outcome` exactly once.
  queue_full,  ///< Refused: the queue is full (item count or bytes) and the policy refused it.
  invalid,     ///< Refused: the item cannot be sent (see `AddResult::reason`).
  /// Refused: the ingestor is closing or closed, or it stopped sending because the server
  /// refused its credentials or stream (see `IngestorStats::stopped_status`).
  closed,
};

/// The status's name as spelled in the enumeration, e.g. "queue_full".
INSTASENT_EXPORT const char* to_string(AddStatus status) noexcept;

/// What `Ingestor::add` (or `Ingestor::delete_contact`) returns: whether the item was queued,
/// and if not, why.
struct AddResult {
  AddStatus status = AddStatus::queued;  ///< What was done with the item.
  std::string reason;                    ///< Why it was refused; empty when queued.
  /// True when the item was queued.
  bool queued() const noexcept { return status == AddStatus::queued; }
  /// `queued()`, so that `if (ingestor.add(item))` reads "if it was queued".
  explicit operator bool() const noexcept { return queued(); }
};

/// What an item asks the API to do.
enum class Operation {
  upsert_contact,  ///< `Ingestor::add(Contact)`: POST /stream/contacts.
  record_event,    ///< `Ingestor::add(Event)`: POST /stream/events.
  delete_contact   ///< `Ingestor::delete_contact`: DELETE /stream/contacts/{userId}.
};

/// The operation's name as spelled in the enumeration, e.g. "record_event".
INSTASENT_EXPORT const char* to_string(Operation operation) noexcept;

/// The one final state every item reaches.
enum class FinalState {
  delivered,  ///< The server accepted it.
  rejected,   ///< The server refused it, with its errors; resending it as is would not help.
  dropped,    ///< Given up without the server's verdict; `drop_reason` says why.
};

/// Why an item was dropped. An item refused at `add` has no outcome: its reason is counted in
/// `IngestorStats` (`queue_full`, `invalid` or `shutdown` for a closed ingestor).
enum class DropReason {
  none,               ///< Not dropped: delivered or rejected.
  queue_full,         ///< Pushed out by a newer item (drop_oldest policy); or refused at `add`.
  invalid,            ///< Refused at `add`: it cannot be sent (counted, never in an outcome).
  retries_exhausted,  ///< Every attempt failed (server errors, timeouts, connection failures).
  shutdown,           ///< Not delivered by the deadline of `close()` (or the destructor).
  /// A request failed in a way no retry can mend: the server's certificate failed verification,
  /// the answer was not HTTP, or it was larger than `max_response_bytes`.
  unrecoverable,
  /// Read back from a damaged spool record (its id could still be read, its payload could not):
  /// the item was accepted by an earlier ingestor and can no longer be sent.
  spool_damaged,
  /// Not sent, or refused as a whole, after the server refused the credentials (401) or did not
  /// know the project or datasource (404 to a batch): the ingestor stopped sending. With a spool
  /// the item stays in it (`kept_in_spool`) for an ingestor opened with the right settings.
  unauthorized,
};

/// The state's name as spelled in the enumeration, e.g. "delivered".
INSTASENT_EXPORT const char* to_string(FinalState state) noexcept;
/// The reason's name as spelled in the enumeration, e.g. "retries_exhausted".
INSTASENT_EXPORT const char* to_string(DropReason reason) noexcept;

/// The final state of one item, as passed to `IngestorOptions::on_outcome` and returned by
/// `close()`.
struct ItemOutcome {
  Operation operation = Operation::upsert_contact;  ///< What the item asked for.
  std::uint64_t tag = 0;  ///< What was passed to `add` (or `delete_contact`) with the item.
  std::string user_id;    ///< The item's `_user_id` (for a delete, the contact's).
  std::string event_id;   ///< Events only: the id sent (generated at `add` when it had none).
  FinalState state = FinalState::delivered;   ///< Its one final state.
  DropReason drop_reason = DropReason::none;  ///< Why it was dropped; `none` unless dropped.
  FieldErrors errors;  ///< For rejected items: field -> messages ("" for the whole request).
  /// The status of the answer that settled it (e.g. 202, 422, or 401 for a request refused as a
  /// whole); for dropped items, of the last answer; 0 when there was none.
  int http_status = 0;
  std::string message;  ///< A short description for dropped items.
  /// Dropped at shutdown but still in the spool: the next ingestor opened on the same spool
  /// directory sends it (and reports its final state then).
  bool kept_in_spool = false;
};

/// What `add` does when the queue (or the spool) is full.
enum class OverflowPolicy {
  reject_new,  ///< Refuse the new item (`AddStatus::queue_full`). The default.
  /// Drop the oldest queued item (reported as dropped, queue_full) to make room. When the spool
  /// is full, queued items are dropped only if that frees the oldest spool segment (none of its
  /// items is in a request); otherwise the new item is refused.
  drop_oldest,
  block,  ///< Wait up to `block_timeout` for room, then refuse.
};

/// When the spool forces its writes to the disk (fdatasync). In every mode an item's record
/// reaches the operating system before `add` returns accepted, so a process that is killed (even
/// with SIGKILL) loses nothing; the modes differ only on a power failure or a kernel crash.
enum class SpoolSync {
  always,    ///< Before `add` returns: nothing accepted is lost, at the price of a disk flush each.
  interval,  ///< At most every `sync_interval` (at the next add after it), and at close.
  none,      ///< Left to the operating system.
};

/// The durable spool (opt-in): every accepted item is written to an append-only, checksummed log
/// in `directory` before `add` returns, and forgotten once it has its final state. An ingestor
/// opened on a directory sends the items a previous one left without a final state (it crashed,
/// or `close` gave up on them), before anything added to it; delivery is then at least once,
/// which the API makes harmless (events are deduplicated by `_event_id`, upserts are idempotent).
/// The items left are read back in the background, oldest first, one segment of the log at a
/// time (at most 4 MiB, or one larger record), and queued as the queue's bounds allow: memory at
/// start does not grow with the backlog but for 8 bytes per item left, and the first request goes
/// out at once. Items added meanwhile wait apart, within the queue's bounds again, and are queued
/// after the last item read back, so none overtakes an earlier item of its user; while they wait,
/// `drop_oldest` refuses a new item rather than drop one (the oldest are still in the spool).
/// `flush` waits for what is read back too; `close` drops (and reports) what was queued and
/// leaves in the spool, unreported, what it had not read back yet. One ingestor (one process)
/// uses a directory at a time. A record holds at most 64 MiB: with a spool, an item whose JSON and
/// ids take more than 64 MiB less 34 bytes is refused at `add` (`AddStatus::invalid`), whatever
/// `batch.max_bytes` allows.
struct SpoolOptions {
  std::string directory;  ///< Empty: no spool.
  /// The most the log may take on disk. Full: `add` applies the overflow policy (see
  /// `OverflowPolicy`).
  std::uint64_t max_bytes = 1ull << 30;
  SpoolSync sync = SpoolSync::interval;            ///< When records are forced to the disk.
  std::chrono::milliseconds sync_interval{1'000};  ///< For `SpoolSync::interval`.
  /// Called while the ingestor is constructed, once for each file in the directory that is not
  /// the spool's (left alone) and once for each segment with damaged records (and, should a
  /// segment read then be unreadable when its items are read back, from the thread that reads
  /// them); it must not throw.
  /// Null: no call (both are still counted in `IngestorStats`).
  std::function<void(const std::string& message)> on_warning;
};

/// Bounds on what waits to be sent (items not yet in a request), and what `add` does at them.
struct QueueOptions {
  std::size_t max_items = 100'000;                       ///< At least 1.
  std::size_t max_bytes = 64u << 20;                     ///< At least 1024.
  OverflowPolicy overflow = OverflowPolicy::reject_new;  ///< What `add` does when it is full.
  std::chrono::milliseconds block_timeout{100};          ///< For OverflowPolicy::block.
};

/// The Ingestor's retry defaults: more attempts and shorter first waits than a `Client` call's,
/// since a failed item waits while newer ones keep flowing.
inline RetryPolicy ingestor_retry_policy() {
  RetryPolicy policy;
  policy.max_attempts = 10;
  policy.initial_backoff = std::chrono::milliseconds(50);
  policy.max_backoff = std::chrono::milliseconds(30'000);
  return policy;
}

/// Everything an `Ingestor` is configured with. Invalid values make the constructor throw
/// `InvalidInputError` naming the field (e.g. "queue.max_items"); none is adjusted silently.
struct IngestorOptions {
  /// Bounds on what waits to be sent, and what `add` does at them.
  QueueOptions queue;

  /// A batch is sent when it reaches `batch.max_items` (at most 100) or `batch.max_bytes`, or when
  /// its oldest item has waited `flush_interval`.
  BatchLimits batch;
  /// The longest an item waits for its batch to fill before the batch is sent as it is.
  std::chrono::milliseconds flush_interval{500};

  /// Requests in flight at once (1..64), each on its own sender thread with reused connections.
  int max_in_flight = 4;

  /// `max_attempts` (1..1000) per item before it is dropped (retries_exhausted). The backoff
  /// after a failed request (5xx, timeout, connection failure) is per item, so that an item that
  /// failed waits while newer ones keep flowing; the items of one request wait together and go
  /// out together again. While fewer than half of the last 20 requests failed (the server is
  /// healthy and the failure was chance) the wait is `initial_backoff`, with jitter; from half on
  /// it grows by `multiplier` with the item's attempts, up to `max_backoff`. After 8 failed
  /// requests in a row the whole queue waits too (the server looks down), growing the same way;
  /// any success ends that. A 429 pauses every sender until the time the server gave, at most
  /// `max_rate_limit_wait`. `jitter_seed` seeds the jitter (0: at random). `deadline` is not used:
  /// an item's attempts bound its retries.
  RetryPolicy retry = ingestor_retry_policy();
  /// Retry budget: retries that fail may add at most this fraction (0..100) to the new requests
  /// sent (plus 10 to start with), so an outage does not turn into a retry storm; past it, retries
  /// go at most 10 a second until new requests earn more. A retry that gets an answer costs
  /// nothing.
  double retry_budget = 0.2;

  /// Opt-in durability across crashes and restarts.
  SpoolOptions spool;

  /// How long the destructor may take to deliver what is queued before dropping it.
  std::chrono::milliseconds shutdown_deadline{5'000};

  /// Send every batch with `?_dryRun`: the server validates the items and stores nothing, so
  /// `delivered` means it would have stored the item (and `rejected` that it would not). Deletes
  /// are refused at `add` (`invalid`), and it does not go with a spool (`InvalidInputError`,
  /// field "dry_run"), whose items a later ingestor would replay for real.
  bool dry_run = false;

  /// Called once per queued item with its final state, from a sender thread (or from `add` for
  /// items it pushed out, from `close` for items it gave up, and from the thread that reads the
  /// spool back for items found damaged in it). Items refused at `add` are not reported here: the
  /// `AddResult` says so. It must not block for long; it must not throw. It may call `add`, but not
  /// `flush` or `close`: they wait for the callbacks of the items they settle, so from a callback
  /// they would only wait out their timeout. Calls are not serialized: with several senders
  /// (`max_in_flight`), or an `add` that pushes an item out, they may run on several threads at
  /// once, so what the callback touches must be safe for that.
  std::function<void(const ItemOutcome&)> on_outcome;
};

/// A snapshot of the ingestor's counters.
struct IngestorStats {
  std::uint64_t enqueued = 0;                   ///< Accepted by `add`.
  std::uint64_t queued = 0;                     ///< Waiting now (not in a request).
  std::uint64_t in_flight = 0;                  ///< In a request now.
  std::uint64_t delivered = 0;                  ///< Final state `delivered`.
  std::uint64_t rejected = 0;                   ///< Final state `rejected`.
  std::uint64_t dropped_queue_full = 0;         ///< Refused at `add` or pushed out.
  std::uint64_t dropped_invalid = 0;            ///< Refused at `add`.
  std::uint64_t dropped_retries_exhausted = 0;  ///< Dropped, `retries_exhausted`.
  std::uint64_t dropped_shutdown = 0;           ///< Dropped at `close`; refused at `add` since.
  std::uint64_t dropped_unrecoverable = 0;      ///< Dropped, `unrecoverable`.
  std::uint64_t dropped_spool_damaged = 0;      ///< Dropped, `spool_damaged`.
  std::uint64_t dropped_unauthorized = 0;  ///< Dropped after a 401/404; refused at `add` since.
  std::uint64_t requests = 0;              ///< Requests sent, retries included.
  std::uint64_t retries = 0;               ///< Requests that resent items.
  std::uint64_t rate_limited = 0;          ///< 429 answers.
  std::uint64_t bytes_sent = 0;            ///< Request body bytes.
  /// Items found in the spool at start and queued again so far (also in `enqueued`).
  std::uint64_t replayed = 0;
  /// Items found in the spool at start and not read back yet (see `SpoolOptions`).
  std::uint64_t replay_pending = 0;
  std::uint64_t spool_bytes = 0;          ///< The spool's size on disk now.
  std::uint64_t spool_skipped_bytes = 0;  ///< Bytes of torn or damaged records skipped at start.
  /// Records found damaged at start (a damaged stretch counts once). Those that were items whose
  /// key could still be read are reported (dropped, `spool_damaged`, also in `enqueued`).
  std::uint64_t spool_damaged_records = 0;
  std::uint64_t spool_unknown_files = 0;  ///< Files in the spool's directory left alone.
  /// 0 while sending. 401 (the server refused the credentials) or 404 (it does not know the
  /// project or datasource) once the ingestor has stopped sending for good: see `Ingestor`.
  int stopped_status = 0;
  /// How much longer a rate limit holds sending back: a 429 (every sender), or the allowance the
  /// server announced being used up (that operation's requests); 0 when none does.
  std::chrono::milliseconds rate_limit_wait_left{0};
  /// The time rate limits held every sender back, in all (pauses that overlap counted once; a
  /// pause under way counted to its end).
  std::chrono::milliseconds rate_limit_wait{0};
  /// The time failed items waited out their backoff before going again, in all (waits that
  /// overlap counted once; rate-limit pauses not included).
  std::chrono::milliseconds retry_wait{0};
};

/// Sends contacts, events and deletes in the background: `add` never blocks (unless the block
/// policy says so), never throws, and every accepted item reaches exactly one final state.
///
/// Contacts and events go in separate batches; per user, order is kept: an event is sent only
/// after the contact upsert (or delete) added before it for the same user has its final state,
/// and contact operations for one user are never in two requests at once. Only the items the
/// server did not accept are resent. Retries back off exponentially with jitter; a 429 pauses
/// every sender until the server's reset time. Once the allowance the answers announce
/// (`X-RateLimit-Remaining` until `X-RateLimit-Reset`) is used up for contacts, events or deletes,
/// that queue waits for the reset rather than earn a 429.
///
/// A 401 to any request, or a 404 to a batch of contacts or events (the project or datasource is
/// unknown), would be the answer to every later request too: the ingestor stops sending for
/// good. The items of that request and every item queued are dropped (`DropReason::unauthorized`,
/// kept in the spool when there is one), `stats().stopped_status` says why, and `add` refuses new
/// items (`AddStatus::closed`) until a new ingestor is opened with the right settings. Requests
/// already under way settle as their answers say. A 404 to a delete (an unknown contact) only
/// rejects that delete.
///
/// `add`, `delete_contact`, `flush`, `close` and `stats` may be called from several threads at
/// once.
///
/// @code
/// instasent::IngestorOptions options;
/// options.on_outcome = [](const instasent::ItemOutcome& outcome) {
///   // On a sender thread, perhaps several at once: do not block for long, do not throw.
///   if (outcome.state == instasent::FinalState::rejected) {
///     std::cerr << "item " << outcome.tag << " rejected: fix it before sending it again\n";
///   } else if (outcome.state == instasent::FinalState::dropped) {
///     std::cerr << "item " << outcome.tag << " dropped, "
///               << instasent::to_string(outcome.drop_reason) << ": " << outcome.message << '\n';
///   }
/// };
/// instasent::Ingestor ingestor(client, options);
///
/// // Returns at once; never throws (the builders may, before add is called).
/// const instasent::AddResult added =
///     ingestor.add(instasent::Contact("USER-123").email("ada@example.com"), /*tag=*/1);
/// if (!added) std::cerr << instasent::to_string(added.status) << ": " << added.reason << '\n';
/// ingestor.add(instasent::Event("USER-123", "purchase").parameter("amount", 49.90), 2);
///
/// // At shutdown: what is neither delivered nor rejected within 5 s is dropped, passed to
/// // on_outcome and returned (the destructor does the same, with options.shutdown_deadline).
/// const std::vector<instasent::ItemOutcome> undelivered = ingestor.close(std::chrono::seconds(5));
/// @endcode
class INSTASENT_EXPORT Ingestor {
 public:
  /// Sends through `client`'s transport and connections; `client`'s own retry policy is not
  /// used (the ingestor schedules its retries itself). With a spool, opens it and starts reading
  /// back what it holds (see `SpoolOptions`); throws InvalidInputError (field "spool.directory")
  /// when the directory cannot be used (not creatable, or in use by another ingestor). An invalid
  /// option throws `InvalidInputError` too, naming it (see `IngestorOptions`).
  explicit Ingestor(const Client& client, IngestorOptions options = {});
  /// `close(options.shutdown_deadline)`: never blocks longer than that, plus the time callbacks
  /// already running take to return.
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  /// `tag` is the caller's own reference for the item (a line number, a row id), given back in
  /// its `ItemOutcome`; the ingestor does not look at it.
  AddResult add(Contact contact, std::uint64_t tag = 0) noexcept;
  /// An event without `_event_id` gets one generated here, kept across every retry.
  AddResult add(Event event, std::uint64_t tag = 0) noexcept;
  /// Queues a DELETE of the contact `user_id`, with `tag` as in `add`. A user id that is empty,
  /// longer than `kMaxIdBytes`, not valid UTF-8, "." or ".." is refused (`AddStatus::invalid`).
  AddResult delete_contact(std::string user_id, std::uint64_t tag = 0) noexcept;

  /// Waits until every item accepted before this call has its final state and `on_outcome` has
  /// returned for it, or `timeout` passes; true when all did.
  bool flush(std::chrono::milliseconds timeout);
  /// Stops accepting items, sends what is queued until `timeout`, then drops what is left
  /// (reported as dropped, shutdown) and returns the outcomes of every item not delivered or
  /// rejected by then. Later calls return nothing. When it returns, `on_outcome` has returned
  /// for every item and is not called again: past the deadline it still waits for callbacks a
  /// sender had already begun (an answer that comes later finds its items final and reports
  /// nothing).
  std::vector<ItemOutcome> close(std::chrono::milliseconds timeout);

  /// A snapshot of the counters.
  IngestorStats stats() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

}  // namespace instasent
