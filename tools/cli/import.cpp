// SPDX-License-Identifier: Apache-2.0
#include "import.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "checkpoint.hpp"
#include "connection.hpp"
#include "exit_codes.hpp"
#include "file_identity.hpp"
#include "import_run.hpp"
#include "import_state.hpp"
#include "instasent/client.hpp"
#include "instasent/error.hpp"
#include "instasent/ingestor.hpp"
#include "rejects.hpp"
#include "report.hpp"
#include "stop_signals.hpp"
#include "text.hpp"

namespace instasent::cli {

using std::chrono::milliseconds;

namespace {

// Refuses an import whose files overlap: writing one would destroy another. Besides the input,
// the rejects file and the checkpoint, the temporary files written beside the last two count:
// the checkpoint's on every save, the rejects file's when a resumed import rewrites it.
void refuse_overlapping_files(const ImportOptions& options) {
  struct Role {
    std::string name;
    std::string path;
    std::optional<FileIdentity> identity;
  };
  std::vector<Role> roles;
  if (options.input == "-") {
    roles.push_back({"the input (standard input)", "-", identify_regular_file(STDIN_FILENO)});
  } else {
    roles.push_back({"the input", options.input, identify_path(options.input)});
  }
  if (!options.rejects_path.empty()) {
    roles.push_back({"--rejects", options.rejects_path, identify_path(options.rejects_path)});
  }
  if (!options.checkpoint_path.empty()) {
    const std::string temporary = options.checkpoint_path + ".tmp";
    roles.push_back(
        {"--checkpoint", options.checkpoint_path, identify_path(options.checkpoint_path)});
    roles.push_back({"the temporary file of --checkpoint", temporary, identify_path(temporary)});
    if (!options.rejects_path.empty()) {
      const std::string rejects_temporary = options.rejects_path + ".tmp";
      roles.push_back(
          {"the temporary file of --rejects", rejects_temporary, identify_path(rejects_temporary)});
    }
  }
  for (std::size_t i = 0; i < roles.size(); ++i) {
    for (std::size_t j = i + 1; j < roles.size(); ++j) {
      if (!roles[i].identity || !roles[j].identity ||
          !roles[i].identity->same_as(*roles[j].identity)) {
        continue;
      }
      const auto describe = [](const Role& role) {
        return role.path == "-" ? role.name : role.name + " (" + display_path(role.path) + ")";
      };
      throw UsageError(describe(roles[i]) + " and " + describe(roles[j]) +
                       " are the same file: writing one would destroy the other");
    }
  }
}

// The rate limit the last answer announced, once one announced all of it.
std::optional<AnnouncedRateLimit> announced_rate_limit(const RateLimit& limit) {
  if (!limit.limit || !limit.remaining || !limit.reset) return std::nullopt;
  const std::chrono::duration<double> reset_in = *limit.reset - std::chrono::system_clock::now();
  return AnnouncedRateLimit{*limit.limit, *limit.remaining, reset_in.count()};
}

}  // namespace

ImportSummary ImportRun::run(const std::function<ClientOptions()>& client_options) {
  started_ = Clock::now();
  format_ = resolve_format();
  if (!options_.checkpoint_path.empty() && options_.mode != ImportMode::send) {
    throw UsageError(
        "--checkpoint records deliveries: it does not go with --dry-run or --validate");
  }
  refuse_overlapping_files(options_);
  if (options_.mode != ImportMode::validate) client_.emplace(make_client(client_options()));

  // From here on a signal asks the import to stop: reading the head of the input, or the CSV
  // header, may already wait on a pipe.
  StopSignals signals;
  try {
    open_input();
  } catch (const ReadInterrupted&) {
    return interrupted_before_reading();
  }
  save_initial_checkpoint();
  std::unique_ptr<RejectsWriter> rejects;
  if (!options_.rejects_path.empty()) {
    rejects = std::make_unique<RejectsWriter>(
        options_.rejects_path,
        resuming_ ? std::optional<std::uint64_t>(skip_through_) : std::nullopt);
  }
  state_ = std::make_shared<ImportState>(options_.mode, options_.max_reported, skip_through_,
                                         std::move(rejects), isatty(STDERR_FILENO) != 0);
  if (resuming_ && !options_.quiet) {
    state_->console().message("instasent: resuming after line " + with_thousands(skip_through_) +
                              " (checkpoint " + display_path(options_.checkpoint_path) + ")");
  }

  {
    StopSignalsBlocked blocked;
    if (client_) ingestor_.emplace(*client_, ingestor_options());
    start_ticker();
  }
  read_all();
  if (stop_signal() != 0) {
    state_->console().message(
        std::string("instasent: ") + signal_name(stop_signal()) +
        ": stopped reading; finishing the requests in flight for up to " +
        format_duration(std::chrono::duration<double>(options_.shutdown_timeout).count()) +
        " (again to quit at once)");
  }
  finish_sending();
  stop_ticker();
  save_checkpoint();

  ImportSummary summary = state_->summary();
  summary.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  if (ingestor_) {
    const IngestorStats stats = ingestor_->stats();
    summary.rate_limit_wait_seconds = std::chrono::duration<double>(stats.rate_limit_wait).count();
    summary.retry_wait_seconds = std::chrono::duration<double>(stats.retry_wait).count();
  }
  if (checkpoint_ && !checkpoint_refused_) summary.checkpoint_line = checkpoint_->line;
  const ImportState::Stops stops = state_->stops();
  summary.exit_code = import_exit_code(summary, stops, stop_signal());
  state_->console().end_progress();
  print_import_report(state_->console(), options_, summary, stops, state_->reported(),
                      stop_signal());
  return summary;
}

InputFormat ImportRun::resolve_format() const {
  std::optional<InputFormat> format = options_.format;
  if (!format) format = format_from_path(options_.input);
  if (!format) {
    throw UsageError(options_.input == "-"
                         ? "pass --format ndjson|csv|rejects to read standard input"
                         : "cannot tell the format of " + display_path(options_.input) +
                               " from its name (.ndjson, .jsonl, .csv, optionally .gz): pass "
                               "--format ndjson|csv|rejects");
  }
  const CsvOptions defaults;
  if (*format != InputFormat::csv && (!options_.csv.maps.empty() || !options_.csv.types.empty() ||
                                      options_.csv.delimiter != defaults.delimiter)) {
    throw UsageError("--map, --type and --delimiter apply to CSV input only");
  }
  return *format;
}

void ImportRun::open_input() {
  try {
    source_.emplace(options_.input, options_.max_line_bytes, [] { return stop_signal() != 0; });
    open_checkpoint();  // before anything is written: a mismatch changes nothing
    reader_.emplace(*source_, format_, options_.csv, options_.kind);
  } catch (const ReadInterrupted&) {
    throw;
  } catch (const InputError& error) {
    // The head or the CSV header cannot be read (corrupt gzip, an I/O error): nothing was sent.
    throw UsageError(error.what());
  }
}

ImportSummary ImportRun::interrupted_before_reading() {
  ImportSummary summary;
  summary.mode = options_.mode;
  summary.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  if (resuming_) summary.checkpoint_line = skip_through_;
  summary.exit_code = import_exit_code(summary, {}, stop_signal());
  Console console(isatty(STDERR_FILENO) != 0);
  print_import_report(console, options_, summary, {}, 0, stop_signal());
  return summary;
}

void ImportRun::open_checkpoint() {
  if (options_.checkpoint_path.empty()) return;
  const InputIdentity identity{options_.input, source_->size(), source_->head_hash(),
                               source_->head_bytes()};
  if (const auto existing = Checkpoint::load(options_.checkpoint_path)) {
    if (existing->kind != options_.kind) {
      throw UsageError("the checkpoint " + display_path(options_.checkpoint_path) +
                       " is for an import of " + to_string(existing->kind) + ", not " +
                       to_string(options_.kind));
    }
    const std::string difference = existing->input.difference(identity);
    if (!difference.empty() && !options_.force_resume) {
      throw UsageError("the checkpoint " + display_path(options_.checkpoint_path) +
                       " was written for " + display_path(existing->input.path) + ", and " +
                       display_path(options_.input) + " is not that input (" + difference +
                       "); pass --force-resume to resume anyway, or remove the checkpoint to "
                       "start over");
    }
    skip_through_ = existing->line;
    resuming_ = true;
  }
  checkpoint_ = Checkpoint{options_.kind, identity, skip_through_};
}

void ImportRun::save_initial_checkpoint() {
  if (!checkpoint_) return;
  // Now, so that an unwritable path fails before anything is sent. A resumed import leaves the
  // checkpoint as it is until it gets further: a run that is refused later changes nothing.
  try {
    if (resuming_) {
      Checkpoint::check_writable(options_.checkpoint_path);
    } else {
      checkpoint_->save(options_.checkpoint_path);
    }
  } catch (const std::exception& error) {
    throw UsageError(error.what());
  }
}

IngestorOptions ImportRun::ingestor_options() const {
  IngestorOptions ingestor;
  // The pending window (max_pending) keeps the queue from filling by count; blocking covers
  // the byte limit, which very large items could reach.
  ingestor.queue.max_items = options_.max_pending * 2 + kMaxBatchItems;
  ingestor.queue.overflow = OverflowPolicy::block;
  ingestor.queue.block_timeout = std::chrono::seconds(1);
  ingestor.max_in_flight = options_.max_in_flight;
  if (options_.max_attempts > 0) ingestor.retry.max_attempts = options_.max_attempts;
  ingestor.shutdown_deadline = options_.shutdown_timeout;
  ingestor.dry_run = options_.mode == ImportMode::dry_run;
  ingestor.on_outcome = [state = state_](const ItemOutcome& outcome) {
    state->on_outcome(outcome);
  };
  return ingestor;
}

void ImportRun::finish_sending() {
  if (!ingestor_) return;
  // Wait for every final state, unless told to stop; then close, which gives what is left
  // until the deadline. Refused credentials would refuse the rest too: no deadline then.
  while (!stop_sending() && !ingestor_->flush(milliseconds(100))) {
  }
  const bool refused = !state_->stops().access_denied.empty();
  ingestor_->close(refused ? milliseconds(0) : options_.shutdown_timeout);
}

void ImportRun::start_ticker() {
  ticker_ = std::thread([this] { tick(); });
}

void ImportRun::stop_ticker() {
  if (!ticker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(ticker_mutex_);
    ticker_stop_ = true;
  }
  ticker_cv_.notify_all();
  ticker_.join();
}

// The ticker thread: a checkpoint every checkpoint_interval, progress every so often.
void ImportRun::tick() {
  const bool terminal = state_->console().terminal();
  const bool progress =
      !options_.quiet && (terminal || options_.progress_interval > milliseconds(0));
  const milliseconds progress_every = terminal ? milliseconds(200) : options_.progress_interval;
  auto next_checkpoint = Clock::now() + options_.checkpoint_interval;
  auto next_progress = Clock::now() + progress_every;
  RateMeter meter;
  double rate_before_wait = 0;  // the rate shown for the ETA while a rate limit holds sending
  std::unique_lock<std::mutex> lock(ticker_mutex_);
  while (!ticker_cv_.wait_for(lock, milliseconds(100), [this] { return ticker_stop_; })) {
    lock.unlock();
    const auto now = Clock::now();
    if (checkpoint_ && now >= next_checkpoint) {
      save_checkpoint();
      next_checkpoint = now + options_.checkpoint_interval;
    }
    if (progress) {
      const auto snapshot_time = Clock::now();
      const ProgressSnapshot snapshot = state_->progress();
      const double rate = meter.update(snapshot_time, snapshot.done);
      const milliseconds wait_left =
          ingestor_ ? ingestor_->stats().rate_limit_wait_left : milliseconds(0);
      if (wait_left == milliseconds(0)) rate_before_wait = rate;
      if (now >= next_progress) {
        ProgressSnapshot shown = snapshot;
        shown.items_per_second = rate_before_wait;
        shown.rate_limit_wait_left = std::chrono::duration<double>(wait_left).count();
        if (client_) shown.rate_limit = announced_rate_limit(client_->rate_limit());
        shown.bytes_read = source_->position();
        shown.bytes_total = source_->size();
        shown.input_finished = input_finished_.load();
        state_->console().progress(format_progress(shown, terminal));
        next_progress = now + progress_every;
      }
    }
    lock.lock();
  }
}

void ImportRun::save_checkpoint() {
  std::lock_guard<std::mutex> lock(checkpoint_mutex_);
  if (!checkpoint_ || checkpoint_refused_) return;
  const auto line = state_->confirmed_for_checkpoint();
  if (!line || *line == checkpoint_->line) return;
  Checkpoint next = *checkpoint_;
  next.line = *line;
  try {
    next.save(options_.checkpoint_path);
    checkpoint_ = std::move(next);
  } catch (const std::exception& error) {
    state_->fatal(error.what());
  }
}

ImportSummary run_import(const ImportOptions& options,
                         const std::function<ClientOptions()>& client_options) {
  ImportRun run(options);
  return run.run(client_options);
}

}  // namespace instasent::cli
