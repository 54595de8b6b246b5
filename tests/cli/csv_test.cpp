// SPDX-License-Identifier: Apache-2.0
// CSV records, column mapping and typed columns.
#include <gtest/gtest.h>

#include "csv.hpp"
#include "exit_codes.hpp"

namespace instasent::cli {
namespace {

using nlohmann::json;
using Fields = std::vector<std::string>;

Fields split(std::string_view record, char delimiter = ',') {
  Fields fields;
  EXPECT_EQ(split_csv_record(record, delimiter, fields), CsvSplit::complete) << record;
  return fields;
}

TEST(CsvSplit, PlainQuotedAndEmptyFields) {
  EXPECT_EQ(split("a,b,c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split(""), (Fields{""}));
  EXPECT_EQ(split(",,"), (Fields{"", "", ""}));
  EXPECT_EQ(split("\"a,b\",\"say \"\"hi\"\"\",\"\""), (Fields{"a,b", "say \"hi\"", ""}));
  EXPECT_EQ(split("5\" screen,x"), (Fields{"5\" screen", "x"}));  // a stray quote is text
  EXPECT_EQ(split("a;\"b;c\"", ';'), (Fields{"a", "b;c"}));
  EXPECT_EQ(split("a\tb", '\t'), (Fields{"a", "b"}));
  EXPECT_EQ(split("\"line\nbreak\",x"), (Fields{"line\nbreak", "x"}));
}

TEST(CsvSplit, OpenQuoteAsksForTheNextLine) {
  Fields fields;
  EXPECT_EQ(split_csv_record("a,\"still open", ',', fields), CsvSplit::open_quote);
  EXPECT_EQ(split_csv_record("a,\"closed \"\"\"", ',', fields), CsvSplit::complete);
  EXPECT_EQ(split_csv_record("a,\"open \"\"", ',', fields), CsvSplit::open_quote);
}

TEST(CsvSplit, TextAfterAClosingQuoteIsAnError) {
  Fields fields;
  try {
    split_csv_record("a,\"b\"c,d", ',', fields);
    FAIL() << "no error";
  } catch (const ItemError& error) {
    EXPECT_NE(std::string(error.what()).find("field 2"), std::string::npos) << error.what();
  }
}

TEST(CsvTable, MapsColumnsAndOmitsEmptyCells) {
  CsvOptions options;
  options.maps = {"id=_user_id", "mail=_email", "ignored="};
  const CsvTable table({"id", "mail", "plan", "ignored"}, options, ItemKind::contacts);
  EXPECT_EQ(table.to_object({"U1", "a@example.com", "pro", "x"}),
            (json{{"_user_id", "U1"}, {"_email", "a@example.com"}, {"plan", "pro"}}));
  EXPECT_EQ(table.to_object({"U2", "", "", ""}), (json{{"_user_id", "U2"}}));
}

TEST(CsvTable, TypedColumns) {
  CsvOptions options;
  options.types = {"age=int", "score=float", "vip=bool", "tags=json", "zip=string"};
  const CsvTable table({"_user_id", "age", "score", "vip", "tags", "zip"}, options,
                       ItemKind::contacts);
  const json object = table.to_object({"U1", " 42 ", "3.5", "Yes", "[\"a\",\"b\"]", "00123"});
  EXPECT_EQ(object["age"], 42);
  EXPECT_TRUE(object["age"].is_number_integer());
  EXPECT_DOUBLE_EQ(object["score"].get<double>(), 3.5);
  EXPECT_EQ(object["vip"], true);
  EXPECT_EQ(object["tags"], json::array({"a", "b"}));
  EXPECT_EQ(object["zip"], "00123");
  EXPECT_EQ(table.to_object({"U1", "18446744073709551615", "", "0", "", ""})["age"],
            18446744073709551615ULL);
}

// The words a bool column reads, in any case and with blanks around them: true, 1, yes, y, t and
// false, 0, no, n, f. Anything else is the cell's error.
TEST(CsvTable, BoolCellsReadEveryWordForTrueAndFalse) {
  CsvOptions options;
  options.types = {"vip=bool"};
  const CsvTable table({"_user_id", "vip"}, options, ItemKind::contacts);
  const auto read = [&](const char* word) {
    try {
      return table.to_object({"U1", word})["vip"];
    } catch (const ItemError&) {
      return json("(refused)");
    }
  };
  for (const char* word : {"true", "1", "yes", "y", "t", "TRUE", "Yes", " 1 ", "T"}) {
    EXPECT_EQ(read(word), true) << "'" << word << "'";
  }
  for (const char* word : {"false", "0", "no", "n", "f", "FALSE", "No", " 0 ", "F"}) {
    EXPECT_EQ(read(word), false) << "'" << word << "'";
  }
  for (const char* word : {"2", "-1", "01", "on", "off", "yes!", "tru"}) {
    EXPECT_EQ(read(word), "(refused)") << "'" << word << "'";
  }
}

TEST(CsvTable, ABadCellNamesItsField) {
  CsvOptions options;
  options.types = {"age=int", "score=float", "vip=bool", "tags=json"};
  const CsvTable table({"_user_id", "age", "score", "vip", "tags"}, options, ItemKind::contacts);
  const auto field_of_error = [&](const Fields& fields) {
    try {
      table.to_object(fields);
    } catch (const ItemError& error) {
      return error.field();
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(field_of_error({"U1", "4x", "", "", ""}), "age");
  EXPECT_EQ(field_of_error({"U1", "", "nan", "", ""}), "score");
  EXPECT_EQ(field_of_error({"U1", "", "1e999", "", ""}), "score");
  EXPECT_EQ(field_of_error({"U1", "", "", "maybe", ""}), "vip");
  EXPECT_EQ(field_of_error({"U1", "", "", "", "[1,"}), "tags");
  EXPECT_EQ(
      field_of_error({"U1", "", "", "", std::string(100'000, '[') + std::string(100'000, ']')}),
      "tags");
  EXPECT_EQ(field_of_error({"U\xff", "", "", "", ""}), "_user_id");
  EXPECT_EQ(field_of_error({"U1", ""}), "");  // wrong number of fields
}

TEST(CsvTable, EventColumnsFillParametersAndUserData) {
  CsvOptions options;
  options.maps = {"who=_user_id", "what=_event_type", "mail=_user_data._email"};
  options.types = {"amount=float", "_event_parameters.qty=int"};
  const CsvTable table({"who", "what", "amount", "_event_parameters.qty", "mail"}, options,
                       ItemKind::events);
  EXPECT_EQ(table.to_object({"U1", "purchase", "9.5", "2", "a@example.com"}),
            (json{{"_user_id", "U1"},
                  {"_event_type", "purchase"},
                  {"_event_parameters", {{"amount", 9.5}, {"qty", 2}}},
                  {"_user_data", {{"_email", "a@example.com"}}}}));
}

TEST(CsvTable, ConflictingColumnsAreAnItemError) {
  CsvOptions options;
  options.types = {"_event_parameters=json"};
  const CsvTable table({"_user_id", "_event_type", "_event_parameters", "amount"}, options,
                       ItemKind::events);
  EXPECT_THROW(table.to_object({"U1", "purchase", "\"text\"", "3"}), ItemError);
  EXPECT_THROW(table.to_object({"U1", "purchase", "{\"amount\": 1}", "3"}), ItemError);
  EXPECT_NO_THROW(table.to_object({"U1", "purchase", "{\"amount\": 1}", ""}));
}

// A cell that its --type cannot read stays in the row's object as its text, with its type at the
// same place in `types` and its problem in `errors` (all of them, in column order), so that the
// rejects file can show the row as an object; to_object throws the first.
TEST(CsvTable, CellsATypeCannotReadStayAsTextWithTheirTypes) {
  CsvOptions options;
  options.maps = {"who=_user_id", "what=_event_type"};
  options.types = {"qty=int", "amount=float", "_user_data.vip=bool"};
  const CsvTable table({"who", "what", "qty", "amount", "_user_data.vip", "note"}, options,
                       ItemKind::events);
  const CsvTable::Row row = table.read_row({"U1", "purchase", "two", "9.5", "maybe", "n"});
  EXPECT_EQ(row.object,
            (json{{"_user_id", "U1"},
                  {"_event_type", "purchase"},
                  {"_event_parameters", {{"qty", "two"}, {"amount", 9.5}, {"note", "n"}}},
                  {"_user_data", {{"vip", "maybe"}}}}));
  EXPECT_EQ(row.types,
            (json{{"_event_parameters", {{"qty", "int"}}}, {"_user_data", {{"vip", "bool"}}}}));
  ASSERT_EQ(row.errors.size(), 2u);
  EXPECT_EQ(row.errors[0].first, "qty");
  EXPECT_EQ(row.errors[0].second, "is not a whole number (--type int)");
  EXPECT_EQ(row.errors[1].first, "_user_data.vip");
  try {
    table.to_object({"U1", "purchase", "two", "9.5", "maybe", "n"});
    ADD_FAILURE() << "to_object read a row with bad cells";
  } catch (const ItemError& error) {
    EXPECT_EQ(error.field(), "qty");
  }

  const CsvTable::Row good = table.read_row({"U1", "purchase", "2", "", "no", ""});
  EXPECT_TRUE(good.errors.empty());
  EXPECT_EQ(good.types, json::object());
  EXPECT_EQ(good.object["_event_parameters"]["qty"], 2);

  // What no object can hold is still an error of the whole row.
  EXPECT_THROW(table.read_row({"U1", "purchase", "two"}), ItemError);              // fields short
  EXPECT_THROW(table.read_row({"U\xff", "purchase", "", "", "", ""}), ItemError);  // not UTF-8
  EXPECT_THROW(table.read_row({"U1", "purchase", "\xff", "", "", ""}), ItemError);
}

// A whole `_event_parameters` column that is not valid JSON, kept as text, cannot take the
// `_event_parameters.KEY` columns: the row's error is the JSON's.
TEST(CsvTable, ABadJsonColumnThatOtherColumnsFillIsTheRowsError) {
  CsvOptions options;
  options.types = {"_event_parameters=json"};
  const CsvTable table({"_user_id", "_event_type", "_event_parameters", "amount"}, options,
                       ItemKind::events);
  try {
    table.read_row({"U1", "purchase", "{bad", "3"});
    ADD_FAILURE() << "a row with a bad JSON column and a parameter was read";
  } catch (const ItemError& error) {
    EXPECT_EQ(error.field(), "_event_parameters");
    EXPECT_EQ(error.problem(), "is not valid JSON (--type json)");
  }
  const CsvTable::Row row = table.read_row({"U1", "purchase", "{bad", ""});
  EXPECT_EQ(row.object["_event_parameters"], "{bad");
  EXPECT_EQ(row.types, (json{{"_event_parameters", "json"}}));
}

TEST(CsvTable, UnnamedColumnsMustStayEmpty) {
  const CsvTable table({"_user_id", ""}, {}, ItemKind::contacts);
  EXPECT_NO_THROW(table.to_object({"U1", ""}));
  EXPECT_THROW(table.to_object({"U1", "x"}), ItemError);
}

// --map =FIELD names no column, and is refused as such even when the header has a column
// without a name: an unnamed column cannot be mapped (its cells must stay empty).
TEST(CsvTable, MapWithoutAColumnIsRefusedEvenForAnUnnamedColumn) {
  CsvOptions options;
  options.maps = {"=_user_id"};
  try {
    const CsvTable table({"", "mail"}, options, ItemKind::contacts);
    ADD_FAILURE() << "--map =_user_id was accepted";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("COLUMN=FIELD"), std::string::npos) << error.what();
  }
}

TEST(CsvTable, BadOptionsAreUsageErrors) {
  const Fields header{"id", "mail", "_event_type"};
  const auto with = [&](std::vector<std::string> maps, std::vector<std::string> types,
                        ItemKind kind = ItemKind::contacts) {
    CsvOptions options;
    options.maps = std::move(maps);
    options.types = std::move(types);
    CsvTable table(header, options, kind);
  };
  EXPECT_THROW(with({}, {}), UsageError);                                // no _user_id column
  EXPECT_NO_THROW(with({"id=_user_id"}, {}));                            // now there is one
  EXPECT_THROW(with({"nope=_user_id"}, {}), UsageError);                 // no such column
  EXPECT_THROW(with({"id"}, {}), UsageError);                            // not COLUMN=FIELD
  EXPECT_THROW(with({"=_user_id"}, {}), UsageError);                     // no COLUMN
  EXPECT_THROW(with({"id=_user_id", "id=x"}, {}), UsageError);           // a column mapped twice
  EXPECT_THROW(with({"id=_user_id", "mail=_user_id"}, {}), UsageError);  // one field, two columns
  EXPECT_THROW(with({"id=_user_id"}, {"mail=date"}), UsageError);        // unknown type
  EXPECT_THROW(with({"id=_user_id"}, {"nope=int"}), UsageError);         // no such field
  EXPECT_THROW(with({"id=_user_id", "_event_type="}, {}, ItemKind::events), UsageError);
  EXPECT_NO_THROW(with({"id=_user_id"}, {}, ItemKind::events));
}

}  // namespace
}  // namespace instasent::cli
