// SPDX-License-Identifier: Apache-2.0
// Reading lines (plain and gzip) and records (NDJSON, CSV and rejects files).
#include <gtest/gtest.h>

#include "cli/cli_support.hpp"
#include "exit_codes.hpp"
#include "line_source.hpp"
#include "records.hpp"

namespace instasent::cli {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::write_file;
using testing::write_gzip;

std::vector<std::string> all_lines(LineSource& source) {
  std::vector<std::string> lines;
  std::string line;
  for (auto status = source.next(line); status != LineSource::Status::end;
       status = source.next(line)) {
    lines.push_back(status == LineSource::Status::too_long ? "<too long>" : line);
  }
  return lines;
}

TEST(LineSource, PlainAndGzipReadAlike) {
  ScratchDir dir;
  const std::string content = "one\r\ntwo\n\nthree";  // CRLF, a blank line, no final newline
  write_file(dir.file("a.txt"), content);
  write_gzip(dir.file("a.gz"), content);
  LineSource plain(dir.file("a.txt"));
  LineSource compressed(dir.file("a.gz"));
  const std::vector<std::string> expected{"one", "two", "", "three"};
  EXPECT_EQ(all_lines(plain), expected);
  EXPECT_EQ(all_lines(compressed), expected);
  EXPECT_EQ(plain.line_number(), 4u);
  EXPECT_EQ(plain.head_hash(), compressed.head_hash());  // the content's, not the file's
  EXPECT_EQ(plain.size(), content.size());
  EXPECT_EQ(plain.position(), content.size());
  EXPECT_NE(compressed.size(), plain.size());
}

TEST(LineSource, LongLinesAreCutAndTheNextLinesStillRead) {
  ScratchDir dir;
  write_file(dir.file("long.txt"), "short\n" + std::string(200'000, 'x') + "\nafter\n");
  LineSource source(dir.file("long.txt"), 1000);
  std::string line;
  EXPECT_EQ(source.next(line), LineSource::Status::line);
  EXPECT_EQ(source.next(line), LineSource::Status::too_long);
  EXPECT_EQ(line.size(), 1000u);
  EXPECT_EQ(source.next(line), LineSource::Status::line);
  EXPECT_EQ(line, "after");
  EXPECT_EQ(source.line_number(), 3u);
  EXPECT_EQ(source.next(line), LineSource::Status::end);
}

TEST(LineSource, ManyBuffersOfLines) {
  ScratchDir dir;
  std::string content;
  for (int i = 0; i < 50'000; ++i) content += "line " + std::to_string(i) + "\n";
  write_gzip(dir.file("many.gz"), content);
  LineSource source(dir.file("many.gz"));
  const auto lines = all_lines(source);
  ASSERT_EQ(lines.size(), 50'000u);
  EXPECT_EQ(lines[49'999], "line 49999");
}

TEST(LineSource, TruncatedGzipIsAnInputError) {
  ScratchDir dir;
  std::string content;
  for (int i = 0; i < 100'000; ++i) content += "{\"_user_id\":\"U" + std::to_string(i) + "\"}\n";
  write_gzip(dir.file("full.gz"), content);
  const std::string compressed = testing::read_file(dir.file("full.gz"));
  write_file(dir.file("cut.gz"), compressed.substr(0, compressed.size() / 2));
  EXPECT_THROW(
      {
        LineSource source(dir.file("cut.gz"));
        all_lines(source);
      },
      InputError);
  EXPECT_THROW(LineSource(dir.file("missing.ndjson")), UsageError);
  EXPECT_THROW(LineSource(dir.path()), UsageError);
}

// The records of a file that holds `text`, read as contacts in `format`.
class ContactRecords {
 public:
  ContactRecords(const std::string& name, const std::string& text, InputFormat format)
      : source_(written(dir_.file(name), text)), reader_(source_, format, {}, ItemKind::contacts) {}

  bool next(Record& record, std::uint64_t skip_through) {
    return reader_.next(record, skip_through);
  }

 private:
  static std::string written(const std::string& path, const std::string& text) {
    write_file(path, text);
    return path;
  }

  ScratchDir dir_;
  LineSource source_;
  RecordReader reader_;
};

TEST(RecordReader, NdjsonRecords) {
  ContactRecords reader("in.ndjson",
                        "\xEF\xBB\xBF{\"_user_id\":\"U1\"}\n"  // a byte order mark
                        "\n"
                        "{\"_user_id\":\"U2\"}\n"
                        "{bad\n"
                        "[1]\n"
                        "{\"s\":\"\xC3\x28\"}\n",
                        InputFormat::ndjson);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_TRUE(record.readable());
  ASSERT_TRUE(record.has_body);  // read in one pass, without a tree
  EXPECT_EQ(record.body.to_json(0), json({{"_user_id", "U1"}}));
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_TRUE(record.blank);
  ASSERT_TRUE(reader.next(record, 3));  // skipped: at or before line 3
  EXPECT_TRUE(record.skipped);
  EXPECT_EQ(record.first_line, 3u);
  ASSERT_TRUE(reader.next(record, 3));
  EXPECT_NE(record.problem.find("not valid JSON"), std::string::npos) << record.problem;
  EXPECT_EQ(record.text, "{bad");
  ASSERT_TRUE(reader.next(record, 3));
  EXPECT_EQ(record.problem, "is not a JSON object");
  ASSERT_TRUE(reader.next(record, 3));
  EXPECT_EQ(record.problem, "is not valid UTF-8");
  EXPECT_FALSE(reader.next(record, 3));
}

TEST(RecordReader, DeepNestingIsRefusedBeforeParsing) {
  const int depth = 300'000;  // would overflow the stack of a recursive walk
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  const std::string brackets_in_a_string = "{\"_user_id\":\"U2\",\"s\":\"" + std::string(100, '[') +
                                           "\\\"" + std::string(100, '{') + "\"}";
  ContactRecords reader("in.ndjson",
                        "{\"_user_id\":\"U1\",\"x\":" + deep + "}\n" + brackets_in_a_string + "\n",
                        InputFormat::ndjson);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_NE(record.problem.find("deeper than"), std::string::npos) << record.problem;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_TRUE(record.readable()) << record.problem;  // brackets inside strings do not count
}

TEST(RecordReader, CsvRowsOverSeveralLinesKeepTheirLineNumbers) {
  ContactRecords reader("in.csv",
                        "_user_id,note\r\n"
                        "U1,\"two\r\nlines\"\r\n"
                        "U2,plain\n"
                        "U3\n"
                        "U4,\"never closed\n"
                        "U5,x\n",
                        InputFormat::csv);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.first_line, 2u);
  EXPECT_EQ(record.last_line, 3u);
  EXPECT_EQ(record.object, json({{"_user_id", "U1"}, {"note", "two\nlines"}}));
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.first_line, 4u);
  EXPECT_EQ(record.object["note"], "plain");
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.first_line, 5u);
  EXPECT_EQ(record.problem, "has 1 field; the header has 2 fields");
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.first_line, 6u);
  EXPECT_EQ(record.last_line, 7u);
  EXPECT_NE(record.problem.find("not closed"), std::string::npos);
  EXPECT_FALSE(reader.next(record, 0));
}

TEST(RecordReader, CsvResumeSkipsWholeRows) {
  ContactRecords reader("in.csv", "_user_id,note\nU1,\"a\nb\"\nU2,c\n", InputFormat::csv);
  Record record;
  ASSERT_TRUE(reader.next(record, 3));
  EXPECT_TRUE(record.skipped);
  EXPECT_EQ(record.last_line, 3u);
  ASSERT_TRUE(reader.next(record, 3));
  EXPECT_FALSE(record.skipped);
  EXPECT_EQ(record.object["_user_id"], "U2");
}

TEST(RecordReader, CsvWithoutHeaderOrRequiredColumns) {
  ScratchDir dir;
  write_file(dir.file("empty.csv"), "");
  write_file(dir.file("no-id.csv"), "email\na@example.com\n");
  LineSource empty(dir.file("empty.csv"));
  EXPECT_THROW(RecordReader(empty, InputFormat::csv, {}, ItemKind::contacts), UsageError);
  LineSource no_id(dir.file("no-id.csv"));
  EXPECT_THROW(RecordReader(no_id, InputFormat::csv, {}, ItemKind::contacts), UsageError);
}

TEST(RecordReader, RejectsFilesGiveTheirItems) {
  ContactRecords reader("rejects.ndjson",
                        R"({"line":4,"item":{"_user_id":"U4"},"errors":{}})"
                        "\n"
                        R"({"line":9,"item":"raw text","errors":{}})"
                        "\n",
                        InputFormat::rejects);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.object, json({{"_user_id", "U4"}}));
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.field, "item");
  EXPECT_FALSE(record.problem.empty());
  EXPECT_EQ(record.object, "raw text");  // its reject holds the item, not the whole line
}

// A rejects record of a CSV row holds the cells that their --type could not read as text, and
// `types` names their types: each value still a string is read as its type; one written by hand
// is taken as it is; one that still cannot be read makes the record unreadable, which keeps its
// `types`.
TEST(RecordReader, RejectsFilesReadTheValuesTheirTypesName) {
  ContactRecords reader(
      "rejects.ndjson",
      R"({"line":2,"item":{"_user_id":"U2","age":" 42","vip":true,"tags":"[1]"},"errors":{},)"
      R"("types":{"age":"int","vip":"bool","tags":"json","gone":"int"}})"
      "\n"
      R"({"line":3,"item":{"_user_id":"U3","age":"forty","score":"x1"},"errors":{},)"
      R"("types":{"age":"int","score":"float"}})"
      "\n"
      R"({"line":4,"item":{"_user_id":"U4","age":"4"},"errors":{},"types":{"age":"integer"}})"
      "\n"
      R"({"line":5,"item":{"_user_id":"U5"},"errors":{},"types":["int"]})"
      "\n",
      InputFormat::rejects);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_TRUE(record.readable()) << record.problem;
  EXPECT_EQ(record.object, (json{{"_user_id", "U2"}, {"age", 42}, {"vip", true}, {"tags", {1}}}));
  EXPECT_TRUE(record.types.is_null());

  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_FALSE(record.readable());
  EXPECT_EQ(record.field, "age");
  EXPECT_EQ(record.problem, "is not a whole number (--type int)");
  EXPECT_EQ(record.type_errors,
            (FieldErrors{{"age", {"is not a whole number (--type int)"}},
                         {"score", {"is not a finite number (--type float)"}}}));
  EXPECT_EQ(record.object, (json{{"_user_id", "U3"}, {"age", "forty"}, {"score", "x1"}}));
  EXPECT_EQ(record.types, (json{{"age", "int"}, {"score", "float"}}));

  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.field, "age");
  EXPECT_NE(record.problem.find("is not string, int, float, bool or json"), std::string::npos)
      << record.problem;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_EQ(record.field, "types");
  EXPECT_EQ(record.types, json::array({"int"}));
}

// A CSV row with cells that their --type cannot read is unreadable, but has an object: those
// cells as text, and their types.
TEST(RecordReader, CsvCellsATypeCannotReadKeepTheRowAsAnObject) {
  ScratchDir dir;
  write_file(dir.file("in.csv"), "_user_id,age,vip\nU1,4x,maybe\nU2,5,yes\n");
  LineSource source(dir.file("in.csv"));
  CsvOptions options;
  options.types = {"age=int", "vip=bool"};
  RecordReader reader(source, InputFormat::csv, options, ItemKind::contacts);
  Record record;
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_FALSE(record.readable());
  EXPECT_EQ(record.field, "age");
  EXPECT_EQ(record.type_errors.size(), 2u);
  EXPECT_EQ(record.object, (json{{"_user_id", "U1"}, {"age", "4x"}, {"vip", "maybe"}}));
  EXPECT_EQ(record.types, (json{{"age", "int"}, {"vip", "bool"}}));
  ASSERT_TRUE(reader.next(record, 0));
  EXPECT_TRUE(record.readable()) << record.problem;
  EXPECT_TRUE(record.type_errors.empty());
  EXPECT_TRUE(record.types.is_null());
  EXPECT_EQ(record.object, (json{{"_user_id", "U2"}, {"age", 5}, {"vip", true}}));
}

TEST(Formats, FromFileNames) {
  EXPECT_EQ(format_from_path("a.ndjson"), InputFormat::ndjson);
  EXPECT_EQ(format_from_path("a.jsonl.gz"), InputFormat::ndjson);
  EXPECT_EQ(format_from_path("dir.csv/a.csv.gz"), InputFormat::csv);
  EXPECT_FALSE(format_from_path("a.json"));
  EXPECT_FALSE(format_from_path("-"));
  EXPECT_FALSE(format_from_path("a.gz"));
}

}  // namespace
}  // namespace instasent::cli
