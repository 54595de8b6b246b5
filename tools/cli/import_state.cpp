// SPDX-License-Identifier: Apache-2.0
#include "import_state.hpp"

#include <chrono>

#include "text.hpp"

namespace instasent::cli {

namespace {

std::string line_message(std::uint64_t line, const std::string& field, const std::string& problem) {
  const std::string where = "line " + std::to_string(line);
  return field.empty() ? where + " " + problem : where + ": " + printable(field) + " " + problem;
}

// One problem as above; several as "line 3: amount is not ...; qty is not ...".
std::string line_message(std::uint64_t line, const FieldErrors& errors) {
  std::string message;
  for (const auto& [field, problems] : errors) {
    for (const std::string& problem : problems) {
      message += message.empty() ? line_message(line, field, problem)
                                 : "; " + printable(field) + " " + problem;
    }
  }
  return message;
}

}  // namespace

ImportState::ImportState(ImportMode mode, int max_reported, std::uint64_t confirmed,
                         std::unique_ptr<RejectsWriter> rejects, bool terminal)
    : max_reported_(max_reported),
      console_(terminal),
      tracker_(confirmed),
      rejects_(std::move(rejects)) {
  counts_.mode = mode;
}

void ImportState::settled(const Record& record, bool count_as_read, bool skipped, bool valid) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (count_as_read) ++counts_.read;
  if (skipped) ++counts_.skipped_by_checkpoint;
  if (valid) ++counts_.valid;
  tracker_.settled(record.last_line);
}

void ImportState::unreadable(const Record& record, const FieldErrors& errors,
                             const std::string& item_json, const std::string& types_json) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_.read;
  ++counts_.unreadable;
  tracker_.settled(record.last_line);
  if (!write_reject(record.first_line, item_json, errors, types_json)) {
    tracker_.unconfirmed(record.first_line);
  }
  report(line_message(record.first_line, errors));
}

void ImportState::sent(PendingItem item) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_.read;
  ++counts_.valid;
  ++counts_.sent;
  tracker_.sent(std::move(item));
}

void ImportState::refused_at_add(std::uint64_t first_line, const AddResult& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto item = tracker_.take(first_line);
  if (!item) return;
  if (result.status == AddStatus::invalid) {
    // Too large for a request, for instance: the record is as bad as an unreadable one.
    --counts_.sent;
    --counts_.valid;
    ++counts_.unreadable;
    if (!write_reject(item->first_line, item->item_json, {{"", {result.reason}}})) {
      tracker_.unconfirmed(item->first_line);
    }
    report(line_message(item->first_line, "", "cannot be sent: " + result.reason));
  } else {
    drop(*item);  // the queue stayed full or the ingestor closed while stopping
  }
  room_.notify_all();
}

bool ImportState::wait_for_room(std::size_t max_pending, const std::function<bool()>& stop) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (tracker_.pending() >= max_pending) {
    if (stop()) return false;
    room_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return !stop();
}

void ImportState::on_outcome(const ItemOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto item = tracker_.take(outcome.tag);
  if (!item) return;  // every item sent is tracked; nothing else reaches here
  switch (outcome.state) {
    case FinalState::delivered:
      ++counts_.delivered;
      break;
    case FinalState::rejected:
      reject(*item, outcome.errors);
      break;
    case FinalState::dropped:
      drop(*item);
      if (outcome.drop_reason == DropReason::unauthorized) {
        // The credentials or the stream, not the item: not a rejection to write down; the
        // Ingestor has stopped sending.
        if (stops_.access_denied.empty()) stops_.access_denied = printable(outcome.message, 300);
        stop_ = true;
      } else if (outcome.drop_reason == DropReason::retries_exhausted ||
                 outcome.drop_reason == DropReason::unrecoverable) {
        if (stops_.gave_up.empty()) stops_.gave_up = printable(outcome.message, 300);
        stop_ = true;
      }
      break;
  }
  room_.notify_all();
}

void ImportState::fatal(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  set_fatal(message);
}

void ImportState::set_fatal(const std::string& message) {
  if (stops_.fatal.empty()) stops_.fatal = message;
  halted_ = true;
}

std::optional<std::uint64_t> ImportState::confirmed_for_checkpoint() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t line = tracker_.confirmed_through();
  if (rejects_) {
    try {
      rejects_->sync();
    } catch (const std::exception& error) {
      set_fatal(error.what());
      return std::nullopt;
    }
  }
  return line;
}

ProgressSnapshot ImportState::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ProgressSnapshot snapshot;
  snapshot.done = counts_.delivered + counts_.rejected + counts_.dropped + counts_.unreadable;
  if (counts_.mode == ImportMode::validate) snapshot.done += counts_.valid;
  snapshot.skipped = counts_.skipped_by_checkpoint;
  snapshot.read = counts_.read;
  snapshot.failed = counts_.rejected + counts_.dropped + counts_.unreadable;
  return snapshot;
}

ImportSummary ImportState::summary() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

std::size_t ImportState::reported() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<std::size_t>(reported_);
}

ImportState::Stops ImportState::stops() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stops_;
}

void ImportState::reject(const PendingItem& item, const FieldErrors& errors) {
  ++counts_.rejected;
  if (!write_reject(item.first_line, item.item_json, errors)) {
    tracker_.unconfirmed(item.first_line);
  }
  report("line " + std::to_string(item.first_line) +
         " rejected by the server: " + describe_errors(errors));
}

void ImportState::drop(const PendingItem& item) {
  ++counts_.dropped;
  tracker_.unconfirmed(item.first_line);
}

bool ImportState::write_reject(std::uint64_t line, const std::string& item_json,
                               const FieldErrors& errors, const std::string& types_json) {
  if (!rejects_) return true;  // only counted
  try {
    rejects_->write(line, item_json, errors, types_json);
    return true;
  } catch (const std::exception& error) {
    set_fatal(error.what());
    return false;
  }
}

void ImportState::report(const std::string& message) {
  if (reported_ < max_reported_) console_.message("instasent: " + message);
  ++reported_;
}

}  // namespace instasent::cli
