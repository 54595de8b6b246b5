// SPDX-License-Identifier: Apache-2.0
// From input lines to records: one NDJSON line, or one CSV row (which quoted line breaks may
// spread over several lines), each with its item's JSON object or the reason it has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "csv.hpp"
#include "instasent/batch_result.hpp"
#include "items.hpp"
#include "json_body.hpp"
#include "line_source.hpp"

namespace instasent::cli {

enum class InputFormat {
  ndjson,   ///< One JSON object per line: the API's object for one item.
  csv,      ///< A header row, then one item per row.
  rejects,  ///< A rejects file of an earlier import: the `item` of each line (and its `types`).
};

/// "ndjson", "csv" or "rejects".
std::optional<InputFormat> parse_input_format(std::string_view name);
/// The format the file name says: .ndjson, .jsonl or .csv, each optionally followed by .gz.
std::optional<InputFormat> format_from_path(std::string_view path);

/// One record. Not copied or moved: `body` points into `text`.
struct Record {
  Record() = default;
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  std::uint64_t first_line = 0;  ///< Where the record starts (what messages name).
  std::uint64_t last_line = 0;   ///< Where it ends (a CSV row may span lines).
  std::string text;              ///< The record as read (cut at the line limit).
  /// An NDJSON line's object, when `has_body`: read in one pass (`read_json_line`), its values
  /// pointing into `text`. The item is built from it, and `object` stays null.
  tools::Body body;
  bool has_body = false;
  /// The item's object, when `problem` is empty and not `has_body`. When it is not: the item the
  /// rejects file shows instead of `text`, or null. That is a CSV row's object with the cells that
  /// their --type cannot read as text, or the `item` of a rejects record as it is.
  nlohmann::json object;
  std::string field;    ///< The field `problem` is about; empty for the whole record.
  std::string problem;  ///< Why it cannot be read; empty when it can.
  /// When values cannot be read as their --type (CSV cells, or the values a rejects record's
  /// `types` names): every one's problem by field (`field` and `problem` name the first), and
  /// in `types` the type of each, at its place in `object`, which holds them as text.
  FieldErrors type_errors;
  nlohmann::json types;
  bool skipped = false;  ///< It starts at or before the resume line; not parsed.
  bool blank = false;    ///< An empty line: no item, nothing to report.

  bool readable() const noexcept { return problem.empty() && !skipped && !blank; }
  /// Back to an empty record, keeping the memory of `text` and `body` for the next one.
  void clear();
};

/// Reads `record.text` as `read_json_object` does, with the one-pass reader: sets `record.body`
/// and `has_body` when the text is a JSON object that nlohmann::json would read, else what
/// `read_json_object` sets (the same object or the same problem).
void read_json_line(Record& record);

/// Reads `record.text` as an NDJSON line is read with a nlohmann::json tree: sets `record.object`
/// to the JSON object it holds, or `record.problem` when it is not valid UTF-8, nests deeper than
/// `kMaxJsonNesting`, is not JSON or is not an object. The problem never quotes the text.
void read_json_object(Record& record);

/// Reads records from a line source in one format.
class RecordReader {
 public:
  /// For CSV, reads the header row at once; throws `UsageError` when there is none or when it
  /// does not fit the options (see `CsvTable`).
  RecordReader(LineSource& source, InputFormat format, const CsvOptions& csv, ItemKind kind);

  /// The next record, or false at the end. A record starting at or before `skip_through` is
  /// returned with `skipped` set and is not parsed. Throws `InputError` when the input cannot be
  /// read any further.
  bool next(Record& record, std::uint64_t skip_through);

  InputFormat format() const noexcept { return format_; }

 private:
  bool next_csv(Record& record, std::uint64_t skip_through);
  bool next_json(Record& record, std::uint64_t skip_through);
  // Reads lines until the CSV record is complete; false (with `problem` set) when it never is.
  bool assemble_csv(Record& record, LineSource::Status first_status,
                    std::vector<std::string>& fields);

  LineSource& source_;
  InputFormat format_;
  char delimiter_;
  std::optional<CsvTable> table_;
  std::string line_;
  std::vector<std::string> fields_;
};

}  // namespace instasent::cli
