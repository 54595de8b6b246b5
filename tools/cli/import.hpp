// SPDX-License-Identifier: Apache-2.0
// `instasent import contacts|events FILE`: reads the input record by record, sends the items
// through the Ingestor (or checks them only), writes bad records to the rejects file, keeps a
// checkpoint for resuming, shows progress and prints a summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "csv.hpp"
#include "instasent/options.hpp"
#include "items.hpp"
#include "line_source.hpp"
#include "records.hpp"

namespace instasent::cli {

enum class ImportMode {
  send,      ///< Through the Ingestor: batches of 100, several requests in flight, retries.
  dry_run,   ///< Sent with `_dryRun`: the server validates and stores nothing.
  validate,  ///< Checked here only; nothing is sent and no credentials are needed.
};

struct ImportOptions {
  ItemKind kind = ItemKind::contacts;
  std::string input;                  ///< A path, or "-" for standard input.
  std::optional<InputFormat> format;  ///< Unset: from the file name.
  CsvOptions csv;
  std::string rejects_path;     ///< Empty: rejected and unreadable records are only counted.
  std::string checkpoint_path;  ///< Empty: no checkpoint.
  bool force_resume = false;    ///< Resume even when the input does not look like the same.
  ImportMode mode = ImportMode::send;
  int max_in_flight = 4;
  int max_attempts = 0;  ///< Per item; 0 keeps the Ingestor's (and the client's) default.
  std::chrono::milliseconds shutdown_timeout{5'000};
  std::chrono::milliseconds checkpoint_interval{1'000};
  std::chrono::milliseconds progress_interval{5'000};  ///< When stderr is not a terminal.
  bool quiet = false;         ///< No progress and no summary on stderr; errors still.
  bool json_summary = false;  ///< The summary as JSON on stdout.
  /// Records sent and not yet final, at most: bounds memory whatever the input's size.
  std::size_t max_pending = 5'000;
  std::size_t max_line_bytes = LineSource::kDefaultMaxLineBytes;
  /// Bad records described on stderr; the rest are counted.
  int max_reported = 20;
};

/// The outcome of an import, as printed at the end.
struct ImportSummary {
  std::uint64_t read = 0;  ///< Records read (not blank lines), skipped ones included.
  std::uint64_t skipped_by_checkpoint = 0;
  std::uint64_t unreadable = 0;  ///< Could not be read or built into an item (not sent).
  std::uint64_t valid = 0;       ///< Built into an item.
  std::uint64_t sent = 0;        ///< Handed to the server (or to the Ingestor).
  std::uint64_t delivered = 0;   ///< Accepted by the server (for a dry run: would be).
  std::uint64_t rejected = 0;    ///< Refused by the server, with errors.
  std::uint64_t dropped = 0;     ///< Sent but not delivered: gave up, interrupted, unauthorized.
  std::optional<std::uint64_t> checkpoint_line;
  double seconds = 0;
  double rate_limit_wait_seconds = 0;  ///< Sending held back by rate limits (429s).
  double retry_wait_seconds = 0;       ///< Failed items waiting out their backoff.
  int exit_code = 0;
  ImportMode mode = ImportMode::send;

  nlohmann::json to_json() const;
};

/// Runs an import and returns its summary (with the exit code). `client_options` is called
/// unless the mode is `validate`; it may throw `UsageError`. Throws `UsageError` for problems
/// found before anything is sent (options, input, checkpoint).
ImportSummary run_import(const ImportOptions& options,
                         const std::function<ClientOptions()>& client_options);

}  // namespace instasent::cli
