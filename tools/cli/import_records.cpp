// SPDX-License-Identifier: Apache-2.0
// The import's reading: each record read becomes an item that is checked, batched for a dry run
// or sent through the Ingestor, or an unreadable record.
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "import_run.hpp"
#include "instasent/error.hpp"
#include "items.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

// What the rejects file shows as the item of a readable record: the line as written for NDJSON,
// the object built from the row for CSV (so that the fixed item imports as NDJSON).
std::string item_json_of(const Record& record, InputFormat format) {
  return format == InputFormat::ndjson ? record.text : dump_json(record.object);
}

// What the rejects file shows as the item of an unreadable record: the object read, when there
// is one (a CSV row whose cells a --type cannot read, which holds them as text; the item of a
// rejects record as it was), else its text as a JSON string.
std::string unreadable_item_json_of(const Record& record) {
  return dump_json(record.object.is_null() ? json(record.text) : record.object);
}

// Its errors: every value that its --type cannot read, or the one problem.
FieldErrors errors_of(const Record& record) {
  if (!record.type_errors.empty()) return record.type_errors;
  return {{record.field, {record.problem}}};
}

}  // namespace

void ImportRun::read_all() {
  Record record;
  while (!stop_reading()) {
    if (ingestor_ &&
        !state_->wait_for_room(options_.max_pending, [this] { return stop_reading(); })) {
      break;
    }
    try {
      if (!reader_->next(record, skip_through_)) {
        input_finished_ = true;
        refuse_checkpoint_beyond_the_end();
        break;
      }
    } catch (const InputError& error) {
      if (stop_signal() == 0) state_->fatal(error.what());  // else: the signal cut the read
      break;
    }
    handle(record);
  }
}

// A checkpoint that says more lines are done than the input has belongs to another input (or to
// this one before it was cut short): nothing of it was sent, and the checkpoint stays as it was.
void ImportRun::refuse_checkpoint_beyond_the_end() {
  const std::uint64_t lines = source_->line_number();
  if (!resuming_ || lines >= skip_through_) return;
  checkpoint_refused_ = true;
  state_->fatal("the checkpoint " + display_path(options_.checkpoint_path) +
                " says every line up to " + with_thousands(skip_through_) +
                " is done, but the input has only " + with_thousands(lines) +
                " lines: it is not this input's checkpoint (remove it to start over)");
}

void ImportRun::handle(const Record& record) {
  if (record.blank) {
    state_->settled(record, /*count_as_read=*/false, /*skipped=*/false, /*valid=*/false);
    return;
  }
  if (record.skipped) {
    state_->settled(record, /*count_as_read=*/true, /*skipped=*/true, /*valid=*/false);
    return;
  }
  if (!record.problem.empty()) {
    state_->unreadable(record, errors_of(record), unreadable_item_json_of(record),
                       record.types.is_null() ? "" : dump_json(record.types));
    return;
  }
  if (options_.kind == ItemKind::contacts) {
    if (auto contact = build_item<Contact>(record)) dispatch(record, std::move(*contact));
  } else {
    if (auto event = build_item<Event>(record)) dispatch(record, std::move(*event));
  }
}

// The item of a readable record, or nullopt when it cannot be built (then it is unreadable). No
// line may end the import: whatever the building throws is that line's problem.
template <typename Item>
std::optional<Item> ImportRun::build_item(const Record& record) {
  FieldErrors errors;
  std::optional<Item> item = record.has_body ? cli::build_item<Item>(record.body, errors)
                                             : cli::build_item<Item>(record.object, errors);
  if (!item) state_->unreadable(record, errors, item_json_of(record, format_));
  return item;
}

template <typename Item>
void ImportRun::dispatch(const Record& record, Item item) {
  switch (options_.mode) {
    case ImportMode::validate:
      state_->settled(record, /*count_as_read=*/true, /*skipped=*/false, /*valid=*/true);
      return;
    case ImportMode::dry_run:  // the same pipeline: the Ingestor sends with ?_dryRun
    case ImportMode::send:
      offer(record, std::move(item));
      return;
  }
}

template <typename Item>
void ImportRun::offer(const Record& record, Item item) {
  state_->sent(PendingItem{record.first_line, record.last_line, item_json_of(record, format_)});
  AddResult result = ingestor_->add(std::move(item), record.first_line);
  // Full by bytes (very large items): `add` waited a second; offer it again while not stopping.
  // The item was moved, so it is built again, identically.
  while (result.status == AddStatus::queue_full && !stop_sending()) {
    FieldErrors ignored;  // it was built once, so it builds again
    std::optional<Item> again = record.has_body ? cli::build_item<Item>(record.body, ignored)
                                                : cli::build_item<Item>(record.object, ignored);
    if (!again) break;
    result = ingestor_->add(std::move(*again), record.first_line);
  }
  if (!result.queued()) state_->refused_at_add(record.first_line, result);
}

}  // namespace instasent::cli
