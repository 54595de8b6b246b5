// SPDX-License-Identifier: Apache-2.0
// The command-line tool's CSV splitter and row mapping: records that span lines, quotes in any
// place, typed cells (int, float, bool, json). A bad record is an ItemError, never a crash; a
// bad cell stays in the row as text.
#include <string>
#include <vector>

#include "csv.hpp"
#include "exit_codes.hpp"
#include "fuzz_support.hpp"

using namespace instasent::cli;
using instasent::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const char delimiter = (data[0] & 3) == 0 ? ',' : (data[0] & 3) == 1 ? ';' : '\t';
  std::string_view text = instasent::fuzz::text_of(data + 1, size - 1);
  static const CsvTable table = [] {
    CsvOptions options;
    options.types = {"n=int", "f=float", "b=bool", "j=json", "_event_parameters.p=json"};
    return CsvTable({"_user_id", "_event_type", "n", "f", "b", "j", "_event_parameters.p", "s"},
                    options, ItemKind::events);
  }();
  // Line by line, as the reader does: an open quote takes in the next line.
  std::string record;
  std::vector<std::string> fields;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!record.empty()) record.push_back('\n');
    record.append(line);
    try {
      if (split_csv_record(record, delimiter, fields) == CsvSplit::open_quote) continue;
      // A row is an object, with the cells that their type cannot read as text and their types
      // beside it (for the rejects file); to_object refuses exactly those rows.
      const CsvTable::Row row = table.read_row(fields);
      require(row.object.is_object(), "a row makes an object");
      require(row.errors.empty() == row.types.empty(), "a cell kept as text has its type");
      bool refused = false;
      try {
        table.to_object(fields);
      } catch (const ItemError&) {
        refused = true;
      }
      require(refused == !row.errors.empty(), "to_object refuses the rows with bad cells");
    } catch (const ItemError&) {
    }
    record.clear();
  }
  return 0;
}
