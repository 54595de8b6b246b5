// SPDX-License-Identifier: Apache-2.0
#include "records.hpp"

#include "exit_codes.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

void strip_byte_order_mark(std::string& line) {
  if (line.compare(0, kByteOrderMark.size(), kByteOrderMark) == 0) {
    line.erase(0, kByteOrderMark.size());
  }
}

std::string too_long_problem(std::size_t limit) {
  return "is longer than " + std::to_string(limit) + " bytes";
}

// "syntax error while parsing value - invalid literal" out of nlohmann's message, without the
// "last read: '...'" part, which quotes the input.
std::string describe_parse_error(const json::parse_error& error) {
  std::string what = error.what();
  if (const auto colon = what.find(": ", what.find("column")); colon != std::string::npos) {
    what.erase(0, colon + 2);
  }
  if (const auto quote = what.find("; last read"); quote != std::string::npos) what.erase(quote);
  return "is not valid JSON (byte " + std::to_string(error.byte) + ": " + printable(what, 200) +
         ")";
}

// Any other refusal of the parser. nlohmann's messages quote the input, so they are not shown.
std::string describe_json_error(const json::exception& error) {
  constexpr int kNumberOverflow = 406;  // json::out_of_range: a number beyond a double's range
  if (error.id == kNumberOverflow) {
    return "holds a number out of range (JSON numbers here must fit a double, about 1.8e308 at "
           "most)";
  }
  return "is not valid JSON (error " + std::to_string(error.id) + ")";
}

// Reads the values of `object` that `types` names (an object of the same shape, with the name of
// a --type at each value), as `read_typed_values` says.
void read_typed_values(json& object, const json& types, const std::string& prefix, Record& record) {
  for (const auto& entry : types.items()) {
    const std::string field = prefix.empty() ? entry.key() : prefix + "." + entry.key();
    const auto value = object.find(entry.key());
    if (value == object.end()) continue;  // taken out by hand
    if (entry.value().is_object()) {
      if (value->is_object()) read_typed_values(*value, entry.value(), field, record);
      continue;
    }
    const auto type = entry.value().is_string()
                          ? parse_column_type(entry.value().get<std::string>())
                          : std::nullopt;
    if (!type) {
      record.type_errors[field].push_back(
          "has a type in types that is not string, int, float, bool or json");
      continue;
    }
    if (!value->is_string()) continue;  // written by hand as a value
    try {
      *value = read_cell(value->get<std::string>(), *type, field);
    } catch (const ItemError& error) {
      record.type_errors[field].push_back(error.problem());
    }
  }
}

// A rejects record of a CSV row holds the cells that their --type could not read as text, and
// `types` gives their types. Each one that is still a string is read as its type, as the cell
// was; any other value (written by hand) is taken as it is. When one still cannot be read, the
// record keeps its `types`, so that its reject holds them again.
void read_typed_values(Record& record, const json& types) {
  if (types.is_object()) read_typed_values(record.object, types, "", record);
  if (!types.is_object()) record.type_errors["types"].push_back("is not an object");
  if (record.type_errors.empty()) return;
  record.field = record.type_errors.begin()->first;
  record.problem = record.type_errors.begin()->second.front();
  record.types = types;
}

}  // namespace

void Record::clear() {
  first_line = last_line = 0;
  text.clear();
  has_body = false;
  object = nullptr;
  field.clear();
  problem.clear();
  type_errors.clear();
  types = nullptr;
  skipped = blank = false;
}

void read_json_line(Record& record) {
  // What the reader accepts, nlohmann::json::parse accepts, and within the nesting limit the
  // check below would apply. Only a NUL byte, where both stop reading, could hide a deeper
  // nesting or invalid UTF-8 after it: such a line, and every line refused, takes the tree's way,
  // which says why.
  if (record.text.find('\0') == std::string::npos &&
      record.body.parse(record.text, kMaxJsonNesting) &&
      record.body[0].kind == tools::JsonKind::object) {
    record.has_body = true;
    return;
  }
  read_json_object(record);
}

void read_json_object(Record& record) {
  if (!is_valid_utf8(record.text)) {
    record.problem = "is not valid UTF-8";
    return;
  }
  if (json_nested_deeper_than(record.text, kMaxJsonNesting)) {
    record.problem =
        "nests arrays and objects deeper than " + std::to_string(kMaxJsonNesting) + " levels";
    return;
  }
  json parsed;
  try {
    parsed = json::parse(record.text);
  } catch (const json::parse_error& error) {
    record.problem = describe_parse_error(error);
    return;
  } catch (const json::exception& error) {
    record.problem = describe_json_error(error);
    return;
  }
  if (!parsed.is_object()) {
    record.problem = "is not a JSON object";
    return;
  }
  record.object = std::move(parsed);
}

std::optional<InputFormat> parse_input_format(std::string_view name) {
  if (name == "ndjson") return InputFormat::ndjson;
  if (name == "csv") return InputFormat::csv;
  if (name == "rejects") return InputFormat::rejects;
  return std::nullopt;
}

std::optional<InputFormat> format_from_path(std::string_view path) {
  if (ends_with(path, ".gz")) path.remove_suffix(3);
  if (ends_with(path, ".ndjson") || ends_with(path, ".jsonl")) return InputFormat::ndjson;
  if (ends_with(path, ".csv")) return InputFormat::csv;
  return std::nullopt;
}

RecordReader::RecordReader(LineSource& source, InputFormat format, const CsvOptions& csv,
                           ItemKind kind)
    : source_(source), format_(format), delimiter_(csv.delimiter) {
  if (format_ != InputFormat::csv) return;
  Record header;
  LineSource::Status status = LineSource::Status::end;
  do {  // blank lines before the header are skipped
    status = source_.next(line_);
    if (status == LineSource::Status::end) {
      throw UsageError("the CSV input has no header row");
    }
    if (source_.line_number() == 1) strip_byte_order_mark(line_);
  } while (status == LineSource::Status::line && trim(line_).empty());
  header.first_line = header.last_line = source_.line_number();
  header.text = line_;
  std::vector<std::string> names;
  if (!assemble_csv(header, status, names)) {
    throw UsageError("the CSV header (line " + std::to_string(header.first_line) + ") " +
                     header.problem);
  }
  table_.emplace(names, csv, kind);
}

bool RecordReader::next(Record& record, std::uint64_t skip_through) {
  record.clear();
  return format_ == InputFormat::csv ? next_csv(record, skip_through)
                                     : next_json(record, skip_through);
}

bool RecordReader::next_json(Record& record, std::uint64_t skip_through) {
  const LineSource::Status status = source_.next(record.text);
  if (status == LineSource::Status::end) return false;
  record.first_line = record.last_line = source_.line_number();
  if (record.first_line == 1) strip_byte_order_mark(record.text);
  if (status == LineSource::Status::line && trim(record.text).empty()) {
    record.blank = true;
    return true;
  }
  if (record.first_line <= skip_through) {
    record.skipped = true;
    return true;
  }
  if (status == LineSource::Status::too_long) {
    record.problem = too_long_problem(source_.max_line_bytes());
    return true;
  }
  if (format_ == InputFormat::ndjson) {
    read_json_line(record);
    return true;
  }
  read_json_object(record);
  if (!record.problem.empty()) return true;
  if (format_ == InputFormat::rejects) {
    json parsed = std::move(record.object);
    record.object = json();
    const auto item = parsed.find("item");
    if (item == parsed.end() || !item->is_object()) {
      record.field = "item";
      record.problem =
          "is not an object (this line is not a rejects record, or its item was "
          "unreadable: write the fixed item as an object)";
      // Its reject holds the item as it is rather than the whole line, so that a rejects file
      // imported again unfixed gives the same records.
      if (item != parsed.end()) record.object = std::move(*item);
      return true;
    }
    record.object = std::move(*item);
    if (const auto types = parsed.find("types"); types != parsed.end()) {
      read_typed_values(record, *types);
    }
  }
  return true;
}

bool RecordReader::assemble_csv(Record& record, LineSource::Status first_status,
                                std::vector<std::string>& fields) {
  if (first_status == LineSource::Status::too_long) {
    record.problem = too_long_problem(source_.max_line_bytes());
    return false;
  }
  while (true) {
    try {
      if (split_csv_record(record.text, delimiter_, fields) == CsvSplit::complete) return true;
    } catch (const ItemError& error) {
      record.problem = error.what();
      return false;
    }
    // A quoted field goes on in the next line.
    const LineSource::Status status = source_.next(line_);
    if (status == LineSource::Status::end) {
      record.problem = "has a quoted field that is not closed at the end of the input";
      return false;
    }
    record.last_line = source_.line_number();
    if (status == LineSource::Status::too_long ||
        record.text.size() + 1 + line_.size() > source_.max_line_bytes()) {
      record.problem = "has a quoted field that is not closed within " +
                       std::to_string(source_.max_line_bytes()) + " bytes (lines " +
                       std::to_string(record.first_line) + "-" + std::to_string(record.last_line) +
                       ")";
      return false;
    }
    record.text.push_back('\n');
    record.text.append(line_);
  }
}

bool RecordReader::next_csv(Record& record, std::uint64_t skip_through) {
  const LineSource::Status status = source_.next(record.text);
  if (status == LineSource::Status::end) return false;
  record.first_line = record.last_line = source_.line_number();
  if (status == LineSource::Status::line && record.text.empty()) {
    record.blank = true;
    return true;
  }
  const bool complete = assemble_csv(record, status, fields_);
  if (record.first_line <= skip_through) {
    record.skipped = true;
    record.problem.clear();
    return true;
  }
  if (!complete) return true;
  try {
    CsvTable::Row row = table_->read_row(fields_);
    record.object = std::move(row.object);
    if (!row.errors.empty()) {
      record.field = row.errors.front().first;
      record.problem = row.errors.front().second;
      for (auto& [field, problem] : row.errors) {
        record.type_errors[field].push_back(std::move(problem));
      }
      record.types = std::move(row.types);
    }
  } catch (const ItemError& error) {
    record.field = error.field();
    record.problem = error.problem();
  }
  return true;
}

}  // namespace instasent::cli
