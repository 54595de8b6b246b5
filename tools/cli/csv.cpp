// SPDX-License-Identifier: Apache-2.0
#include "csv.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>

#include "exit_codes.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

json read_cell(const std::string& cell, ColumnType type, const std::string& field) {
  if (!is_valid_utf8(cell)) throw ItemError(field, "is not valid UTF-8");
  const std::string_view text = type == ColumnType::string ? std::string_view(cell) : trim(cell);
  const char* first = text.data();
  const char* last = text.data() + text.size();
  switch (type) {
    case ColumnType::string:
      return cell;
    case ColumnType::integer: {
      std::int64_t value = 0;
      if (const auto [end, error] = std::from_chars(first, last, value);
          error == std::errc() && end == last && !text.empty()) {
        return value;
      }
      std::uint64_t big = 0;  // above INT64_MAX, still a whole number
      if (const auto [end, error] = std::from_chars(first, last, big);
          error == std::errc() && end == last && !text.empty()) {
        return big;
      }
      throw ItemError(field, "is not a whole number (--type int)");
    }
    case ColumnType::floating: {
      double value = 0;
      const auto [end, error] = std::from_chars(first, last, value);
      if (error != std::errc() || end != last || text.empty() || !std::isfinite(value)) {
        throw ItemError(field, "is not a finite number (--type float)");
      }
      return value;
    }
    case ColumnType::boolean: {
      const std::string word = lower(text);
      if (word == "true" || word == "1" || word == "yes" || word == "y" || word == "t") {
        return true;
      }
      if (word == "false" || word == "0" || word == "no" || word == "n" || word == "f") {
        return false;
      }
      throw ItemError(field, "is not a boolean: true/false, 1/0 or yes/no (--type bool)");
    }
    case ColumnType::json: {
      if (json_nested_deeper_than(text, kMaxJsonNesting)) {
        throw ItemError(field, "nests arrays and objects deeper than " +
                                   std::to_string(kMaxJsonNesting) + " levels");
      }
      json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (value.is_discarded()) throw ItemError(field, "is not valid JSON (--type json)");
      return value;
    }
  }
  return cell;
}

CsvSplit split_csv_record(std::string_view record, char delimiter,
                          std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  std::size_t at = 0;
  while (true) {
    if (at < record.size() && record[at] == '"') {
      ++at;
      while (true) {
        if (at >= record.size()) return CsvSplit::open_quote;
        const char c = record[at++];
        if (c != '"') {
          field.push_back(c);
        } else if (at < record.size() && record[at] == '"') {
          field.push_back('"');
          ++at;
        } else {
          break;
        }
      }
      if (at < record.size() && record[at] != delimiter) {
        throw ItemError(
            "", "has text after the closing quote of field " + std::to_string(fields.size() + 1));
      }
    } else {
      std::size_t end = record.find(delimiter, at);
      if (end == std::string_view::npos) end = record.size();
      field.assign(record.substr(at, end - at));
      at = end;
    }
    fields.push_back(std::move(field));
    field.clear();
    if (at >= record.size()) return CsvSplit::complete;
    ++at;  // the delimiter
  }
}

std::optional<ColumnType> parse_column_type(std::string_view name) {
  if (name == "string") return ColumnType::string;
  if (name == "int") return ColumnType::integer;
  if (name == "float") return ColumnType::floating;
  if (name == "bool") return ColumnType::boolean;
  if (name == "json") return ColumnType::json;
  return std::nullopt;
}

const char* to_string(ColumnType type) noexcept {
  switch (type) {
    case ColumnType::string:
      return "string";
    case ColumnType::integer:
      return "int";
    case ColumnType::floating:
      return "float";
    case ColumnType::boolean:
      return "bool";
    case ColumnType::json:
      return "json";
  }
  return "string";
}

CsvTable::CsvTable(const std::vector<std::string>& header, const CsvOptions& options,
                   ItemKind kind) {
  columns_.resize(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    columns_[i].name = std::string(trim(header[i]));
    columns_[i].field = columns_[i].name;
  }

  std::set<std::string> renamed;
  for (const std::string& map : options.maps) {
    const auto equals = map.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw UsageError("--map takes COLUMN=FIELD (or COLUMN= to drop a column), not '" +
                       printable(map) + "'");
    }
    const std::string column = map.substr(0, equals);
    if (!renamed.insert(column).second) {
      throw UsageError("--map names column '" + printable(column) + "' twice");
    }
    bool found = false;
    for (Column& entry : columns_) {
      if (entry.name == column) {
        entry.field = map.substr(equals + 1);
        found = true;
      }
    }
    if (!found) {
      throw UsageError("--map " + printable(map) + ": the header has no column '" +
                       printable(column) + "'");
    }
  }

  std::map<std::string, std::size_t> field_column;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    Column& column = columns_[i];
    if (column.field.empty()) continue;  // dropped, or unnamed (see to_object)
    if (const auto [it, added] = field_column.emplace(column.field, i); !added) {
      throw UsageError("columns " + std::to_string(it->second + 1) + " and " +
                       std::to_string(i + 1) + " both give field '" + printable(column.field) +
                       "'; rename one with --map COLUMN=FIELD or drop it with --map COLUMN=");
    }
    column.key = column.field;
    if (kind == ItemKind::events) {
      for (const char* parent : {"_event_parameters", "_user_data"}) {
        const std::string prefix = std::string(parent) + ".";
        if (starts_with(column.field, prefix)) {
          column.parent = parent;
          column.key = column.field.substr(prefix.size());
        }
      }
      if (column.parent.empty() && column.field.front() != '_') {
        column.parent = "_event_parameters";  // a plain column of an event is a parameter
      }
      if (column.key.empty()) {
        throw UsageError("column " + std::to_string(i + 1) + " gives field '" +
                         printable(column.field) + "', which names no key");
      }
    }
  }

  for (const std::string& entry : options.types) {
    const auto equals = entry.find('=');
    const auto type = equals == std::string::npos
                          ? std::nullopt
                          : parse_column_type(std::string_view(entry).substr(equals + 1));
    if (equals == std::string::npos || equals == 0 || !type) {
      throw UsageError(
          "--type takes FIELD=TYPE with TYPE one of string, int, float, bool, json; "
          "not '" +
          printable(entry) + "'");
    }
    const auto it = field_column.find(entry.substr(0, equals));
    if (it == field_column.end()) {
      throw UsageError("--type " + printable(entry) + ": no column gives field '" +
                       printable(entry.substr(0, equals)) + "'");
    }
    columns_[it->second].type = *type;
  }

  std::vector<const char*> required{"_user_id"};
  if (kind == ItemKind::events) required.push_back("_event_type");
  for (const char* field : required) {
    if (field_column.count(field) == 0) {
      throw UsageError(std::string("no column gives field ") + field +
                       " (name a column so, or rename one with --map COLUMN=" + field + ")");
    }
  }
}

json CsvTable::to_object(const std::vector<std::string>& fields) const {
  Row row = read_row(fields);
  if (!row.errors.empty()) throw ItemError(row.errors.front().first, row.errors.front().second);
  return std::move(row.object);
}

CsvTable::Row CsvTable::read_row(const std::vector<std::string>& fields) const {
  if (fields.size() != columns_.size()) {
    const auto count = [](std::size_t n) {
      return std::to_string(n) + (n == 1 ? " field" : " fields");
    };
    throw ItemError("",
                    "has " + count(fields.size()) + "; the header has " + count(columns_.size()));
  }
  Row row;
  row.object = json::object();
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    const std::string& cell = fields[i];
    if (cell.empty()) continue;
    if (column.name.empty()) {
      throw ItemError("", "has a value in column " + std::to_string(i + 1) +
                              ", which has no name in the header");
    }
    if (column.field.empty()) continue;  // dropped with --map COLUMN=
    if (!is_valid_utf8(cell)) throw ItemError(column.field, "is not valid UTF-8");
    // A cell that its type cannot read stays as its text, so that the rejects file can show the
    // row as an object; its type goes with it.
    json value;
    bool as_text = false;
    try {
      value = read_cell(cell, column.type, column.field);
    } catch (const ItemError& error) {
      row.errors.emplace_back(error.field(), error.problem());
      value = cell;
      as_text = true;
    }
    // A whole `_event_parameters` column and `_event_parameters.KEY` columns cannot both fill
    // one object.
    json& parent = column.parent.empty() ? row.object : row.object[column.parent];
    if (!parent.is_object() && !parent.is_null()) {
      for (const auto& [field, problem] : row.errors) {
        if (field == column.parent) throw ItemError(field, problem);  // kept as text above
      }
      throw ItemError(column.field, "goes in " + column.parent + ", which another column sets");
    }
    if (parent.contains(column.key)) {
      throw ItemError(column.field, "is set by another column too");
    }
    parent[column.key] = std::move(value);
    if (as_text) {
      json& types = column.parent.empty() ? row.types : row.types[column.parent];
      types[column.key] = to_string(column.type);
    }
  }
  return row;
}

}  // namespace instasent::cli
