// SPDX-License-Identifier: Apache-2.0
// The Ingestor's options and the names of its enumerations.
#include "ingestor_options.hpp"

#include "instasent/error.hpp"
#include "option_checks.hpp"

namespace instasent {

namespace detail {

void check_options(const IngestorOptions& options) {
  const auto fail = [](const char* field, const char* problem) {
    throw InvalidInputError(field, problem);
  };
  const std::chrono::milliseconds zero(0);
  const QueueOptions& queue = options.queue;
  if (queue.max_items < 1) fail("queue.max_items", "must be at least 1");
  if (queue.max_bytes < 1024) fail("queue.max_bytes", "must be at least 1024");
  if (queue.block_timeout < zero) fail("queue.block_timeout", "must not be negative");
  check_batch_limits(options.batch);
  if (options.flush_interval < zero) fail("flush_interval", "must not be negative");
  if (options.max_in_flight < 1 || options.max_in_flight > 64) {
    fail("max_in_flight", "must be between 1 and 64");
  }
  check_retry_policy(options.retry, 1000);
  if (!(options.retry_budget >= 0 && options.retry_budget <= 100)) {
    fail("retry_budget", "must be between 0 and 100");
  }
  if (options.shutdown_deadline < zero) fail("shutdown_deadline", "must not be negative");
  if (!options.spool.directory.empty()) {
    if (options.dry_run) {
      fail("dry_run", "does not go with a spool: a later ingestor would replay its items for real");
    }
    if (options.spool.max_bytes < (64u << 10)) fail("spool.max_bytes", "must be at least 64 KiB");
    if (options.spool.sync_interval < zero) fail("spool.sync_interval", "must not be negative");
  }
}

}  // namespace detail

const char* to_string(Operation operation) noexcept {
  switch (operation) {
    case Operation::upsert_contact:
      return "upsert_contact";
    case Operation::record_event:
      return "record_event";
    case Operation::delete_contact:
      return "delete_contact";
  }
  return "unknown";
}

const char* to_string(AddStatus status) noexcept {
  switch (status) {
    case AddStatus::queued:
      return "queued";
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
    case DropReason::unauthorized:
      return "unauthorized";
  }
  return "unknown";
}

}  // namespace instasent
