// SPDX-License-Identifier: Apache-2.0
// CSV input: splitting records (RFC 4180) and turning a row into the API's JSON object, with
// column renames (--map) and typed columns (--type).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "items.hpp"

namespace instasent::cli {

enum class CsvSplit {
  complete,    ///< `fields` holds the record's fields.
  open_quote,  ///< The record ends inside a quoted field: it goes on with the next line.
};

/// Splits one record into `fields`: fields are separated by `delimiter`; a field in double quotes
/// may hold the delimiter, line breaks and `""` for a quote. A quote inside an unquoted field is
/// kept as text. Throws `ItemError` for text after a closing quote.
CsvSplit split_csv_record(std::string_view record, char delimiter,
                          std::vector<std::string>& fields);

enum class ColumnType { string, integer, floating, boolean, json };

/// "string", "int", "float", "bool" or "json".
std::optional<ColumnType> parse_column_type(std::string_view name);
/// The name `parse_column_type` reads: "string", "int", "float", "bool" or "json".
const char* to_string(ColumnType type) noexcept;

/// A cell's value as `type` (`string`: the cell as it is). Throws `ItemError` naming `field` when
/// the cell is not valid UTF-8 or is not such a value (not a whole number, say).
nlohmann::json read_cell(const std::string& cell, ColumnType type, const std::string& field);

struct CsvOptions {
  char delimiter = ',';
  /// "column=field" renames a column; "column=" drops it.
  std::vector<std::string> maps;
  /// "field=type": how the cells of a field are read (default string).
  std::vector<std::string> types;
};

/// What the header row and the options say about each column, and how a row becomes the
/// object for one item.
///
/// A field is the column's name unless --map renames it. For events, `_event_parameters.KEY` and
/// `_user_data.KEY` fill those objects, and a field that does not start with `_` is an event
/// parameter. An empty cell leaves the field out.
class CsvTable {
 public:
  /// Throws `UsageError` for a --map naming no column, a --type naming no field, two columns with
  /// one field, or a missing required column (`_user_id`, and `_event_type` for events).
  CsvTable(const std::vector<std::string>& header, const CsvOptions& options, ItemKind kind);

  std::size_t columns() const noexcept { return columns_.size(); }

  /// One row as an object, as far as its cells can be read.
  struct Row {
    /// The item's object. A cell that its --type cannot read is in it as its text.
    nlohmann::json object;
    /// The type of each cell kept as text, at its place in `object` (an object of the same
    /// shape: `{"_event_parameters": {"amount": "float"}}`); empty when there is none.
    nlohmann::json types = nlohmann::json::object();
    /// Why each cell kept as text could not be read: (field, problem), in column order.
    std::vector<std::pair<std::string, std::string>> errors;
  };

  /// The row of one record's fields. Throws `ItemError` when the row cannot be read as an object
  /// at all: the wrong number of fields, a cell that is not valid UTF-8, a value in a column
  /// without a name, or two columns that fill one key.
  Row read_row(const std::vector<std::string>& fields) const;

  /// The item's object for one record's fields; throws `ItemError` naming the field whose cell
  /// cannot be read as its type (the first one), or as `read_row` does.
  nlohmann::json to_object(const std::vector<std::string>& fields) const;

 private:
  struct Column {
    std::string name;    // as in the header
    std::string field;   // after --map; empty: dropped
    std::string parent;  // "_event_parameters" or "_user_data" for a nested field, else empty
    std::string key;     // the key in the item (or in `parent`)
    ColumnType type = ColumnType::string;
  };
  std::vector<Column> columns_;
};

}  // namespace instasent::cli
