// SPDX-License-Identifier: Apache-2.0
// The rejects file imports again as it is (`--format rejects`), end to end against the emulator:
// a CSV row whose cells its --type cannot read is rejected as an object (those cells as text, with
// their `types`), and a rejects file imported unfixed gives the same records again, never its
// lines nested in strings.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli/cli_support.hpp"

namespace instasent::cli::testing {
namespace {

// The records of a rejects file without their "line", in the order of their items: what stays
// the same when the file is imported again.
std::vector<json> records_without_lines(const std::string& path) {
  std::vector<json> records;
  for (auto [line, record] : rejects_by_line(path)) {
    record.erase("line");
    records.push_back(record);
  }
  std::sort(records.begin(), records.end(),
            [](const json& a, const json& b) { return a["item"].dump() < b["item"].dump(); });
  return records;
}

// The stored events of the emulator, by user id.
std::map<std::string, json> events_by_user(const Emulator& emulator) {
  std::map<std::string, json> events;
  const json state = emulator.state();
  for (const json& entry : state["events"]) {
    const json& event = entry.contains("event") ? entry["event"] : entry;
    events[event["_user_id"].get<std::string>()] = event;
  }
  return events;
}

const std::vector<std::string> kCsvEventOptions{
    "--map",  "customer=_user_id", "--map",  "event=_event_type",
    "--type", "amount=float",      "--type", "items=int"};

// Rows 3 and 4 have cells their --type cannot read; row 5 is a field short.
constexpr const char* kEventsCsv =
    "customer,event,amount,items,currency\n"  // 1
    "USER-1,purchase,49.90,2,EUR\n"           // 2
    "USER-2,purchase,12;00,two,USD\n"         // 3: amount and items
    "USER-3,purchase,7.5,x3,EUR\n"            // 4: items
    "USER-4,purchase,1.5,1\n"                 // 5: a field short
    "USER-5,purchase,3.25,4,EUR\n";           // 6

TEST(CliRejects, ACsvRowThatATypeCannotReadIsRejectedAsAnObjectAndReimportsFixed) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("events.csv"), kEventsCsv);
  const std::string rejects = dir.file("rejects.ndjson");
  const std::string checkpoint = dir.file("events.checkpoint");
  std::vector<std::string> first{"import", "events", dir.file("events.csv"), "--rejects",
                                 rejects,  "--json", "--checkpoint",         checkpoint};
  first.insert(first.end(), kCsvEventOptions.begin(), kCsvEventOptions.end());
  const CliResult result = run_cli(dir, first, emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_EQ(result.summary()["delivered"], 2);
  EXPECT_EQ(result.summary()["unreadable"], 3);
  EXPECT_TRUE(contains(result.err,
                       "line 3: amount is not a finite number (--type float); items is not a whole "
                       "number (--type int)"))
      << result.err;
  // Every line reached its final state: the rejects file holds the bad ones.
  EXPECT_EQ(checkpoint_line(checkpoint), 6u);

  const auto records = rejects_by_line(rejects);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(
      records.at(3)["item"],
      (json{{"_user_id", "USER-2"},
            {"_event_type", "purchase"},
            {"_event_parameters", {{"amount", "12;00"}, {"items", "two"}, {"currency", "USD"}}}}));
  EXPECT_EQ(records.at(3)["types"],
            (json{{"_event_parameters", {{"amount", "float"}, {"items", "int"}}}}));
  EXPECT_EQ(records.at(3)["errors"], (json{{"amount", {"is not a finite number (--type float)"}},
                                           {"items", {"is not a whole number (--type int)"}}}));
  EXPECT_EQ(records.at(4)["item"]["_event_parameters"],
            (json{{"amount", 7.5}, {"items", "x3"}, {"currency", "EUR"}}));
  EXPECT_EQ(records.at(4)["types"], (json{{"_event_parameters", {{"items", "int"}}}}));
  EXPECT_EQ(records.at(5)["item"], "USER-4,purchase,1.5,1");  // no object: the row as text
  EXPECT_FALSE(records.at(5).contains("types"));

  // Imported as it is, unfixed: nothing is sent, and the same records come out, again and again.
  const std::uint64_t accepted = emulator.accepted();
  std::string previous = rejects;
  for (int round = 1; round <= 2; ++round) {
    const std::string next = dir.file("rejects-" + std::to_string(round) + ".ndjson");
    const CliResult again = run_cli(
        dir, {"import", "events", "--format", "rejects", previous, "--rejects", next, "--json"},
        emulator.env());
    EXPECT_EQ(again.status, 1) << again.err;
    EXPECT_EQ(again.summary()["unreadable"], 3) << round;
    EXPECT_EQ(again.summary()["sent"], 0) << round;
    const std::vector<json> before = records_without_lines(previous);
    const std::vector<json> after = records_without_lines(next);
    ASSERT_EQ(after.size(), 3u);
    for (std::size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i]["item"], before[i]["item"]) << round;
      EXPECT_EQ(after[i].value("types", json()), before[i].value("types", json())) << round;
    }
    previous = next;
  }
  EXPECT_EQ(emulator.accepted(), accepted);
  // The second round's records are the first round's but for their lines, errors included.
  EXPECT_EQ(records_without_lines(dir.file("rejects-1.ndjson")),
            records_without_lines(dir.file("rejects-2.ndjson")));
  const auto reimported = rejects_by_line(dir.file("rejects-1.ndjson"));
  bool named_in_the_item = false;
  for (const auto& [line, record] : reimported) {
    if (record["errors"].contains("_event_parameters.amount")) named_in_the_item = true;
  }
  EXPECT_TRUE(named_in_the_item) << "a value's error names its place in the item";

  // Fixed in place: a value as text that its type reads, a value written as JSON, and the short
  // row written as an object. Imported as it is, every item lands, typed.
  std::string fixed;
  for (auto [line, record] : records) {
    if (line == 3) {
      record["item"]["_event_parameters"]["amount"] = "12.00";  // read as its type, float
      record["item"]["_event_parameters"]["items"] = 2;  // written as a number, taken as it is
    } else if (line == 4) {
      record["item"]["_event_parameters"]["items"] = "3";
    } else {
      record["item"] = json{{"_user_id", "USER-4"},
                            {"_event_type", "purchase"},
                            {"_event_parameters", {{"amount", 1.5}, {"items", 1}}}};
    }
    fixed += record.dump() + "\n";
  }
  write_file(dir.file("fixed.ndjson"), fixed);
  const CliResult last =
      run_cli(dir,
              {"import", "events", "--format", "rejects", dir.file("fixed.ndjson"), "--rejects",
               dir.file("rejects-fixed.ndjson"), "--json"},
              emulator.env());
  EXPECT_EQ(last.status, 0) << last.err;
  EXPECT_EQ(last.summary()["delivered"], 3);
  EXPECT_EQ(read_file(dir.file("rejects-fixed.ndjson")), "");

  const auto events = events_by_user(emulator);
  ASSERT_EQ(events.size(), 5u);
  const json& user2 = events.at("USER-2")["_event_parameters"];
  EXPECT_TRUE(user2["amount"].is_number_float()) << user2;
  EXPECT_DOUBLE_EQ(user2["amount"].get<double>(), 12.0);
  EXPECT_EQ(user2["items"], 2);
  EXPECT_EQ(user2["currency"], "USD");
  EXPECT_EQ(events.at("USER-3")["_event_parameters"]["items"], 3);
  EXPECT_TRUE(events.at("USER-3")["_event_parameters"]["items"].is_number_integer());
  EXPECT_EQ(events.at("USER-4")["_event_parameters"]["amount"], 1.5);
}

// The same with contacts, and with --validate: the rejects file of a run that sends nothing is
// as re-importable, and a value fixed as text is sent typed.
TEST(CliRejects, ContactRowsRejectedByValidateReimportFixed) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("contacts.csv"),
             "id,email,age,vip\n"
             "U1,u1@example.com,30,yes\n"
             "U2,u2@example.com,thirty,perhaps\n");
  const std::string rejects = dir.file("rejects.ndjson");
  const CliResult validate =
      run_cli(dir,
              {"import", "contacts", dir.file("contacts.csv"), "--validate", "--map", "id=_user_id",
               "--map", "email=_email", "--type", "age=int", "--type", "vip=bool", "--rejects",
               rejects, "--json"},
              {});
  EXPECT_EQ(validate.status, 1) << validate.err;
  const auto records = rejects_by_line(rejects);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records.at(3)["item"], (json{{"_user_id", "U2"},
                                         {"_email", "u2@example.com"},
                                         {"age", "thirty"},
                                         {"vip", "perhaps"}}));
  EXPECT_EQ(records.at(3)["types"], (json{{"age", "int"}, {"vip", "bool"}}));

  json record = records.at(3);
  record["item"]["age"] = "30";
  record["item"]["vip"] = "no";
  write_file(dir.file("fixed.ndjson"), record.dump() + "\n");
  const CliResult again = run_cli(
      dir, {"import", "contacts", "--format", "rejects", dir.file("fixed.ndjson"), "--json"},
      emulator.env());
  EXPECT_EQ(again.status, 0) << again.err;
  const json contact = emulator.state()["contacts"]["U2"];
  EXPECT_EQ(contact["age"], 30) << contact;
  EXPECT_TRUE(contact["age"].is_number_integer()) << contact;
  EXPECT_EQ(contact["vip"], false) << contact;
}

}  // namespace
}  // namespace instasent::cli::testing
