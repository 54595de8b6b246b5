// SPDX-License-Identifier: Apache-2.0
// What the reading thread, the Ingestor's sender threads and the progress ticker share during an
// import: the delivery tracker, the counters, the rejects file and the reasons to stop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "import.hpp"
#include "instasent/error.hpp"
#include "instasent/ingestor.hpp"
#include "progress.hpp"
#include "records.hpp"
#include "rejects.hpp"

namespace instasent::cli {

/// Thread-safe: the Ingestor's senders report outcomes here while the reader adds records. (Once
/// the Ingestor's close returns, no outcome comes any more.)
class ImportState {
 public:
  ImportState(ImportMode mode, int max_reported, std::uint64_t confirmed,
              std::unique_ptr<RejectsWriter> rejects, bool terminal);

  Console& console() noexcept { return console_; }

  // --- The reading thread -----------------------------------------------------------------
  /// A record that needs nothing (blank), was skipped by the checkpoint, or passed `--validate`.
  void settled(const Record& record, bool count_as_read, bool skipped, bool valid);
  /// A record that cannot be sent: reported, written to the rejects file (with `item_json` as
  /// its item and, unless empty, `types_json` as its types), counted unreadable.
  void unreadable(const Record& record, const FieldErrors& errors, const std::string& item_json,
                  const std::string& types_json = "");
  /// A valid record handed to the Ingestor; its outcome will come through `on_outcome`.
  void sent(PendingItem item);
  /// The Ingestor refused the record `sent` last with `key` at once (`AddResult` not queued).
  void refused_at_add(std::uint64_t first_line, const AddResult& result);
  /// Waits until fewer than `max_pending` records are in the Ingestor's hands, or `stop()` says
  /// to stop; false in that case.
  bool wait_for_room(std::size_t max_pending, const std::function<bool()>& stop);

  // --- Outcomes -------------------------------------------------------------------------------
  /// `IngestorOptions::on_outcome`: the final state of a record the Ingestor queued.
  void on_outcome(const ItemOutcome& outcome);

  // --- Stopping -------------------------------------------------------------------------------
  /// A reason to stop sending has come: unauthorized or retries exhausted.
  bool should_stop() const noexcept { return stop_.load(); }
  /// A reason to stop reading has come: one to stop sending, or a fatal error (after which what
  /// was read is still delivered).
  bool should_stop_reading() const noexcept { return stop_.load() || halted_.load(); }
  /// A problem that ends the import with exit code 2 (e.g. the rejects file cannot be written).
  void fatal(const std::string& message);

  // --- Reading the state ----------------------------------------------------------------------
  /// The confirmed line for a checkpoint, after syncing the rejects file that it counts on;
  /// nullopt when the rejects file cannot be synced.
  std::optional<std::uint64_t> confirmed_for_checkpoint();
  ProgressSnapshot progress() const;
  ImportSummary summary() const;
  std::size_t reported() const;
  /// Why the import stopped early, for the exit code and the last words.
  struct Stops {
    std::string access_denied;  ///< 401/404: exit 3.
    std::string gave_up;        ///< Retries exhausted: exit 4.
    std::string fatal;          ///< Exit 2.
  };
  Stops stops() const;

 private:
  // All with mutex_ held.
  void reject(const PendingItem& item, const FieldErrors& errors);
  void drop(const PendingItem& item);
  bool write_reject(std::uint64_t line, const std::string& item_json, const FieldErrors& errors,
                    const std::string& types_json = "");
  void report(const std::string& message);
  void set_fatal(const std::string& message);

  const int max_reported_;
  Console console_;

  mutable std::mutex mutex_;
  std::condition_variable room_;
  DeliveryTracker tracker_;
  std::unique_ptr<RejectsWriter> rejects_;
  ImportSummary counts_;
  int reported_ = 0;
  Stops stops_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> halted_{false};
};

}  // namespace instasent::cli
