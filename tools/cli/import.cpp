// SPDX-License-Identifier: Apache-2.0
#include "import.hpp"

#include <sys/stat.h>
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
#include "import_state.hpp"
#include "instasent/client.hpp"
#include "instasent/ingestor.hpp"
#include "rejects.hpp"
#include "report.hpp"
#include "stop_signals.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// --- Items -------------------------------------------------------------------------------------

// What the rejects file shows as the item of a readable record: the line as written for NDJSON,
// the object built from the row for CSV (so that the fixed item imports as NDJSON).
std::string item_json_of(const Record& record, InputFormat format) {
  return format == InputFormat::ndjson ? record.text : dump_json(record.object);
}

// An unreadable record is kept as a JSON string of its text.
std::string text_json_of(const Record& record) { return dump_json(json(record.text)); }

template <typename Item>
Item build(const json& object);
template <>
Contact build<Contact>(const json& object) {
  return contact_from_json(object);
}
template <>
Event build<Event>(const json& object) {
  return event_from_json(object);
}

// Whether two paths name one existing file (so that writing one would destroy the other).
bool same_file(const std::string& a, const std::string& b) {
  struct stat first {};
  struct stat second {};
  return stat(a.c_str(), &first) == 0 && stat(b.c_str(), &second) == 0 &&
         first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

// --- The run -------------------------------------------------------------------------------------

class ImportRun {
 public:
  explicit ImportRun(const ImportOptions& options) : options_(options) {}
  ~ImportRun() { stop_ticker(); }
  ImportRun(const ImportRun&) = delete;
  ImportRun& operator=(const ImportRun&) = delete;

  ImportSummary run(const std::function<ClientOptions()>& client_options);

 private:
  InputFormat resolve_format() const;
  void open_checkpoint();
  void save_initial_checkpoint();
  IngestorOptions ingestor_options() const;

  void read_all(const Client* client);
  void handle(const Record& record, const Client* client);
  template <typename Item>
  void dispatch(const Record& record, Item item, const Client* client);
  template <typename Item>
  void offer(const Record& record, Item item);
  template <typename Item>
  AddResult add(Item item, std::uint64_t first_line);
  void send_dry_run_batch(const Client& client);
  void finish_sending(const Client* client);

  bool stop_reading() const { return stop_signal() != 0 || state_->should_stop_reading(); }
  bool stop_sending() const { return stop_signal() != 0 || state_->should_stop(); }

  void start_ticker();
  void stop_ticker();
  void tick();
  void save_checkpoint();

  const ImportOptions& options_;
  Clock::time_point started_;
  InputFormat format_ = InputFormat::ndjson;
  std::optional<LineSource> source_;
  std::optional<RecordReader> reader_;
  std::uint64_t skip_through_ = 0;
  bool resuming_ = false;
  std::shared_ptr<ImportState> state_;
  std::atomic<bool> input_finished_{false};

  std::mutex checkpoint_mutex_;
  std::optional<Checkpoint> checkpoint_;  // the last one saved

  std::thread ticker_;
  std::mutex ticker_mutex_;
  std::condition_variable ticker_cv_;
  bool ticker_stop_ = false;

  std::vector<PendingItem> dry_run_items_;
  std::vector<Contact> dry_run_contacts_;
  std::vector<Event> dry_run_events_;

  std::optional<Ingestor> ingestor_;  // last: closed first when the run is destroyed
};

ImportSummary ImportRun::run(const std::function<ClientOptions()>& client_options) {
  started_ = Clock::now();
  format_ = resolve_format();
  if (!options_.checkpoint_path.empty() && options_.mode != ImportMode::send) {
    throw UsageError(
        "--checkpoint records deliveries: it does not go with --dry-run or --validate");
  }
  const std::vector<std::pair<const char*, const std::string*>> outputs{
      {"--rejects", &options_.rejects_path}, {"--checkpoint", &options_.checkpoint_path}};
  for (const auto& [flag, path] : outputs) {
    if (!path->empty() && options_.input != "-" && same_file(*path, options_.input)) {
      throw UsageError(std::string(flag) + " names the input file");
    }
  }
  if (!options_.rejects_path.empty() && options_.rejects_path == options_.checkpoint_path) {
    throw UsageError("--rejects and --checkpoint name the same file");
  }
  std::optional<Client> client;
  if (options_.mode != ImportMode::validate) client.emplace(make_client(client_options()));

  source_.emplace(options_.input, options_.max_line_bytes);
  open_checkpoint();  // before anything is written: a mismatch changes nothing
  reader_.emplace(*source_, format_, options_.csv, options_.kind);
  save_initial_checkpoint();
  std::unique_ptr<RejectsWriter> rejects;
  if (!options_.rejects_path.empty()) {
    rejects = std::make_unique<RejectsWriter>(
        options_.rejects_path,
        resuming_ ? std::optional<std::uint64_t>(skip_through_) : std::nullopt);
  }
  state_ =
      std::make_shared<ImportState>(options_.kind, options_.mode, options_.max_reported,
                                    skip_through_, std::move(rejects), isatty(STDERR_FILENO) != 0);
  if (resuming_ && !options_.quiet) {
    state_->console().message("instasent: resuming after line " + with_thousands(skip_through_) +
                              " (checkpoint " + options_.checkpoint_path + ")");
  }

  StopSignals signals;
  {
    StopSignalsBlocked blocked;
    if (options_.mode == ImportMode::send) ingestor_.emplace(*client, ingestor_options());
    start_ticker();
  }
  read_all(client ? &*client : nullptr);
  if (stop_signal() != 0) {
    state_->console().message(
        std::string("instasent: ") + signal_name(stop_signal()) +
        ": stopped reading; finishing the requests in flight for up to " +
        format_duration(std::chrono::duration<double>(options_.shutdown_timeout).count()) +
        " (again to quit at once)");
  }
  finish_sending(client ? &*client : nullptr);
  state_->close();
  stop_ticker();
  save_checkpoint();

  ImportSummary summary = state_->summary();
  summary.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  if (checkpoint_) summary.checkpoint_line = checkpoint_->line;
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
                         : "cannot tell the format of " + options_.input +
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

void ImportRun::open_checkpoint() {
  if (options_.checkpoint_path.empty()) return;
  const InputIdentity identity{options_.input, source_->size(), source_->head_hash(),
                               source_->head_bytes()};
  if (const auto existing = Checkpoint::load(options_.checkpoint_path)) {
    if (existing->kind != options_.kind) {
      throw UsageError("the checkpoint " + options_.checkpoint_path + " is for an import of " +
                       to_string(existing->kind) + ", not " + to_string(options_.kind));
    }
    const std::string difference = existing->input.difference(identity);
    if (!difference.empty() && !options_.force_resume) {
      throw UsageError("the checkpoint " + options_.checkpoint_path + " was written for " +
                       existing->input.path + ", and " + options_.input + " is not that input (" +
                       difference +
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
  try {
    checkpoint_->save(options_.checkpoint_path);  // now: an unwritable path fails before sending
  } catch (const std::exception& error) {
    throw UsageError(error.what());
  }
}

IngestorOptions ImportRun::ingestor_options() const {
  IngestorOptions ingestor;
  // The pending window (max_pending) keeps the queue from filling by count; blocking covers
  // the byte limit, which very large items could reach.
  ingestor.max_queue_items = options_.max_pending * 2 + kMaxBatchItems;
  ingestor.overflow = OverflowPolicy::block;
  ingestor.block_timeout = std::chrono::seconds(1);
  ingestor.max_in_flight = options_.max_in_flight;
  if (options_.max_attempts > 0) ingestor.max_attempts = options_.max_attempts;
  ingestor.shutdown_deadline = options_.shutdown_timeout;
  ingestor.on_outcome = [state = state_](const ItemOutcome& outcome) {
    state->on_outcome(outcome);
  };
  return ingestor;
}

void ImportRun::read_all(const Client* client) {
  Record record;
  while (!stop_reading()) {
    if (ingestor_ &&
        !state_->wait_for_room(options_.max_pending, [this] { return stop_reading(); })) {
      break;
    }
    try {
      if (!reader_->next(record, skip_through_)) {
        input_finished_ = true;
        break;
      }
    } catch (const InputError& error) {
      if (stop_signal() == 0) state_->fatal(error.what());  // else: the signal cut the read
      break;
    }
    handle(record, client);
  }
}

void ImportRun::handle(const Record& record, const Client* client) {
  if (record.blank) {
    state_->settled(record, /*count_as_read=*/false, /*skipped=*/false, /*valid=*/false);
    return;
  }
  if (record.skipped) {
    state_->settled(record, /*count_as_read=*/true, /*skipped=*/true, /*valid=*/false);
    return;
  }
  if (!record.problem.empty()) {
    state_->unreadable(record, record.field, record.problem, text_json_of(record));
    return;
  }
  if (options_.kind == ItemKind::contacts) {
    std::optional<Contact> contact;
    try {
      contact.emplace(contact_from_json(record.object));
    } catch (const ItemError& error) {
      state_->unreadable(record, error.field(), error.problem(), item_json_of(record, format_));
      return;
    }
    dispatch(record, std::move(*contact), client);
  } else {
    std::optional<Event> event;
    try {
      event.emplace(event_from_json(record.object));
    } catch (const ItemError& error) {
      state_->unreadable(record, error.field(), error.problem(), item_json_of(record, format_));
      return;
    }
    dispatch(record, std::move(*event), client);
  }
}

template <typename Item>
void ImportRun::dispatch(const Record& record, Item item, const Client* client) {
  switch (options_.mode) {
    case ImportMode::validate:
      state_->settled(record, /*count_as_read=*/true, /*skipped=*/false, /*valid=*/true);
      return;
    case ImportMode::dry_run:
      state_->batched();
      dry_run_items_.push_back(
          PendingItem{record.first_line, record.last_line, item_json_of(record, format_)});
      if constexpr (std::is_same_v<Item, Contact>) {
        dry_run_contacts_.push_back(std::move(item));
      } else {
        dry_run_events_.push_back(std::move(item));
      }
      if (dry_run_items_.size() >= kMaxBatchItems) send_dry_run_batch(*client);
      return;
    case ImportMode::send:
      offer(record, std::move(item));
      return;
  }
}

template <typename Item>
void ImportRun::offer(const Record& record, Item item) {
  state_->sent(PendingItem{record.first_line, record.last_line, item_json_of(record, format_)});
  AddResult result = add(std::move(item), record.first_line);
  // Full by bytes (very large items): `add` waited a second; offer it again while not stopping.
  // The item was moved, so it is built again, identically.
  while (result.status == AddStatus::queue_full && !stop_sending()) {
    result = add(build<Item>(record.object), record.first_line);
  }
  if (!result.accepted()) state_->refused_at_add(record.first_line, result);
}

template <typename Item>
AddResult ImportRun::add(Item item, std::uint64_t first_line) {
  ImportState::set_adding(true);
  AddResult result = ingestor_->add(std::move(item), first_line);
  ImportState::set_adding(false);
  return result;
}

void ImportRun::send_dry_run_batch(const Client& client) {
  if (dry_run_items_.empty()) return;
  WriteOptions write;
  write.dry_run = true;
  try {
    const BatchResult result = options_.kind == ItemKind::contacts
                                   ? client.upsert_contacts(dry_run_contacts_, write)
                                   : client.record_events(dry_run_events_, write);
    for (std::size_t i = 0; i < dry_run_items_.size(); ++i) {
      state_->batch_item(dry_run_items_[i], i < result.size() ? result[i] : ItemResult{});
    }
  } catch (const Error& error) {
    state_->batch_failed(dry_run_items_, error);
  }
  dry_run_items_.clear();
  dry_run_contacts_.clear();
  dry_run_events_.clear();
}

void ImportRun::finish_sending(const Client* client) {
  if (options_.mode == ImportMode::dry_run) {
    // The last batch goes even after a signal (one request); not after a fatal answer.
    if (state_->should_stop()) {
      state_->not_sent(dry_run_items_);
    } else {
      send_dry_run_batch(*client);
    }
    return;
  }
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
      if (now >= next_progress) {
        ProgressSnapshot shown = snapshot;
        shown.items_per_second = rate;
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
  if (!checkpoint_) return;
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

}  // namespace

ImportSummary run_import(const ImportOptions& options,
                         const std::function<ClientOptions()>& client_options) {
  ImportRun run(options);
  return run.run(client_options);
}

}  // namespace instasent::cli
