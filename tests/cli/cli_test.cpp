// SPDX-License-Identifier: Apache-2.0
// The `instasent` binary end to end: real HTTP against the emulator binary, both run as child
// processes; what the emulator stored and counted is the evidence.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <set>

#include "cli/cli_support.hpp"
#include "support/raw_server.hpp"

namespace instasent::cli::testing {
namespace {

// Events as a spreadsheet would export them: own column names, numbers and flags as text.
std::string events_csv(int count) {
  std::string text = "user,type,when,amount,qty,vip,note\n";
  char when[32];
  for (int i = 0; i < count; ++i) {
    std::snprintf(when, sizeof when, "2026-01-01T%02d:%02d:%02dZ", i / 3600 % 24, i / 60 % 60,
                  i % 60);
    text += "U" + std::to_string(i % 500) + ",purchase," + when + "," + std::to_string(i) + ".50," +
            std::to_string(i % 7) + "," + (i % 2 == 0 ? "yes" : "no") + "," +
            (i % 3 == 0 ? "\"with, comma\"" : "") + "\n";
  }
  return text;
}

const std::vector<std::string> kEventMapping{
    "--map",  "user=_user_id", "--map",  "type=_event_type", "--map",  "when=_event_date",
    "--type", "amount=float",  "--type", "qty=int",          "--type", "vip=bool"};

std::vector<std::string> args(std::vector<std::string> head,
                              const std::vector<std::string>& tail = {}) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

using instasent::testing::RawConnection;
using instasent::testing::RawServer;

// INSTASENT_* for a server that is not the emulator (any project, datasource and token do).
Env env_for(const std::string& base_url) {
  return {{"INSTASENT_PROJECT", "p"},
          {"INSTASENT_DATASOURCE", "d"},
          {"INSTASENT_TOKEN", "t"},
          {"INSTASENT_BASE_URL", base_url}};
}

// The JSON array a request to a raw server carries (discarded when it is not one).
json request_items(const RawConnection& connection) {
  const std::string& request = connection.request();
  const auto body = request.find("\r\n\r\n");
  if (body == std::string::npos) return json(json::value_t::discarded);
  return json::parse(request.substr(body + 4), nullptr, /*allow_exceptions=*/false);
}

// Waits until the checkpoint file confirms at least `line`; false after `timeout`.
bool wait_for_checkpoint(const std::string& path, std::uint64_t line, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (checkpoint_line(path) >= line) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// --- Imports land exactly once -------------------------------------------------------------------

TEST(CliImport, NdjsonContactsLandExactlyOnce) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("contacts.ndjson"), contacts_ndjson(10'000));
  const CliResult result =
      run_cli(dir, {"import", "contacts", dir.file("contacts.ndjson"), "--json"}, emulator.env());
  ASSERT_EQ(result.status, 0) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 10'000);
  EXPECT_EQ(summary["sent"], 10'000);
  EXPECT_EQ(summary["delivered"], 10'000);
  EXPECT_EQ(summary["rejected"], 0);
  EXPECT_EQ(summary["unreadable"], 0);
  EXPECT_EQ(summary["exit_code"], 0);
  const json stats = emulator.stats();
  EXPECT_EQ(stats["itemsAccepted"], 10'000);  // nothing was sent twice
  EXPECT_EQ(stats["itemsRejected"], 0);
  EXPECT_GE(stats["requests"].get<int>(), 100);
  const json contacts = emulator.state()["contacts"];
  EXPECT_EQ(contacts.size(), 10'000u);
  EXPECT_EQ(contacts["U1234"]["n"], 1234);
  EXPECT_EQ(contacts["U1234"]["_email"], "u1234@example.com");
}

TEST(CliImport, CsvEventsLandExactlyOnceAndAgainStoreNothingNew) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("events.csv"), events_csv(10'000));
  const auto command = args({"import", "events", dir.file("events.csv"), "--json"}, kEventMapping);
  const CliResult result = run_cli(dir, command, emulator.env());
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.summary()["delivered"], 10'000);
  json stats = emulator.stats();
  EXPECT_EQ(stats["itemsAccepted"], 10'000);
  EXPECT_EQ(stats["duplicateEvents"], 0);
  EXPECT_EQ(emulator.event_ids().size(), 10'000u);

  // The typed columns arrived typed; text with a comma arrived whole.
  bool found = false;
  const json state = emulator.state();
  for (const json& stored : state["events"]) {
    const json& event = stored["event"];
    if (event["_event_date"] != "2026-01-01T00:00:03.000Z") continue;
    found = true;
    EXPECT_EQ(event["_user_id"], "U3");
    EXPECT_DOUBLE_EQ(event["_event_parameters"]["amount"].get<double>(), 3.5);
    EXPECT_EQ(event["_event_parameters"]["qty"], 3);
    EXPECT_EQ(event["_event_parameters"]["vip"], false);
    EXPECT_EQ(event["_event_parameters"]["note"], "with, comma");
  }
  EXPECT_TRUE(found);

  // The ids derived from the content make a second import of the same file record nothing new.
  const CliResult again = run_cli(dir, command, emulator.env());
  ASSERT_EQ(again.status, 0) << again.err;
  stats = emulator.stats();
  EXPECT_EQ(stats["duplicateEvents"], 10'000);
  EXPECT_EQ(emulator.event_ids().size(), 10'000u);
}

// --- Bad input -------------------------------------------------------------------------------

TEST(CliImport, RejectsFileHoldsExactlyTheBadLinesAndReimportsFixed) {
  ScratchDir dir;
  Emulator emulator;
  // 1,000 lines; six bad ones (four found here, two by the server) and a blank one.
  std::map<int, std::string> bad{
      {5, R"({"_user_id": "U5", oops})"},                               // not JSON
      {17, R"({"_email": "u17@example.com"})"},                         // no _user_id
      {100, "{\"_user_id\": \"U100\", \"name\": \"\xC3\x28\"}"},        // invalid UTF-8
      {250, R"({"_user_id": "U250", "_email": "not an address"})"},     // server: _email
      {500, R"({"_user_id": "U500", "address": {"city": "Madrid"}})"},  // object value
      {999, R"({"_user_id": "U999", "_shoe_size": "42"})"},             // server: unknown
  };
  std::string text;
  for (int line = 1; line <= 1'000; ++line) {
    if (line == 300) {
      text += "\n";
    } else if (bad.count(line) > 0) {
      text += bad[line] + "\n";
    } else {
      text += contact_line(line) + "\n";
    }
  }
  write_file(dir.file("contacts.ndjson"), text);
  const std::string rejects = dir.file("rejects.ndjson");
  const CliResult result = run_cli(
      dir, {"import", "contacts", dir.file("contacts.ndjson"), "--rejects", rejects, "--json"},
      emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 999);
  EXPECT_EQ(summary["delivered"], 993);
  EXPECT_EQ(summary["rejected"], 2);
  EXPECT_EQ(summary["unreadable"], 4);
  EXPECT_EQ(summary["exit_code"], 1);

  const auto records = rejects_by_line(rejects);
  std::set<std::uint64_t> lines;
  for (const auto& [line, record] : records) lines.insert(line);
  EXPECT_EQ(lines, (std::set<std::uint64_t>{5, 17, 100, 250, 500, 999}));
  EXPECT_EQ(records.at(5)["item"], bad[5]);  // unreadable: the line as text
  EXPECT_TRUE(records.at(5)["errors"].contains(""));
  EXPECT_TRUE(records.at(17)["errors"].contains("_user_id"));
  EXPECT_TRUE(records.at(100)["item"].is_string());
  EXPECT_EQ(records.at(250)["item"], json::parse(bad[250]));  // the original object
  EXPECT_TRUE(records.at(250)["errors"].contains("_email"));
  EXPECT_TRUE(records.at(500)["errors"].contains("address"));
  EXPECT_TRUE(records.at(999)["errors"].contains("_shoe_size"));
  for (const char* expected : {"line 5 is not valid JSON", "line 17: _user_id is missing",
                               "line 100 is not valid UTF-8", "line 250 rejected by the server",
                               "line 500: address", "line 999 rejected by the server"}) {
    EXPECT_NE(result.err.find(expected), std::string::npos) << expected << "\n" << result.err;
  }

  // Fix every item in the rejects file and import it as it is.
  std::string fixed;
  for (auto [line, record] : records) {
    const std::string id = "U" + std::to_string(line);
    record["item"] =
        json{{"_user_id", id}, {"_email", "fixed" + std::to_string(line) + "@example.com"}};
    fixed += record.dump() + "\n";
  }
  write_file(dir.file("fixed.ndjson"), fixed);
  const CliResult again =
      run_cli(dir,
              {"import", "contacts", "--format", "rejects", dir.file("fixed.ndjson"), "--rejects",
               dir.file("rejects2.ndjson"), "--json"},
              emulator.env());
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.summary()["delivered"], 6);
  EXPECT_EQ(read_file(dir.file("rejects2.ndjson")), "");
  const json contacts = emulator.state()["contacts"];
  EXPECT_EQ(contacts.size(), 999u);
  EXPECT_EQ(contacts["U250"]["_email"], "fixed250@example.com");
}

TEST(CliImport, CsvRejectsNameTheRowsFirstLine) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("contacts.csv"),
             "id,email,age\n"                    // 1
             "U1,u1@example.com,30\n"            // 2
             "U2,\"u2@example.com\",\"4\n2\"\n"  // 3-4: a quoted line break, not a number
             "U3,u3@example.com,33\n"            // 5
             "U4,u4@example.com\n"               // 6: a field short
             "U5,bad address,35\n");             // 7: rejected by the server
  const std::string rejects = dir.file("rejects.ndjson");
  const CliResult result =
      run_cli(dir,
              {"import", "contacts", dir.file("contacts.csv"), "--map", "id=_user_id", "--map",
               "email=_email", "--type", "age=int", "--rejects", rejects, "--json"},
              emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const auto records = rejects_by_line(rejects);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(records.at(3)["errors"].contains("age"));
  EXPECT_EQ(records.at(6)["item"], "U4,u4@example.com");
  EXPECT_EQ(records.at(7)["item"],
            (json{{"_user_id", "U5"}, {"_email", "bad address"}, {"age", 35}}));
  EXPECT_TRUE(records.at(7)["errors"].contains("_email"));
  const json contacts = emulator.state()["contacts"];
  EXPECT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts["U3"]["age"], 33);
}

// A record that reads well but is larger than one request body may be (batch.max_bytes,
// 1,000,000 bytes; the line limit is 1 MiB) is refused by the Ingestor as it is added. It is as
// bad as an unreadable line: counted unreadable (not sent, not dropped), written to the rejects
// file, and passed by the checkpoint; the lines around it are delivered.
TEST(CliImport, ARecordTooLargeForARequestIsUnsendableLikeAnUnreadableLine) {
  ScratchDir dir;
  Emulator emulator;
  const std::string input = dir.file("contacts.ndjson");
  const std::string rejects = dir.file("rejects.ndjson");
  const std::string checkpoint = dir.file("checkpoint.json");
  const std::string large = json{{"_user_id", "U2"}, {"note", std::string(1'000'000, 'x')}}.dump();
  write_file(input, contact_line(1) + "\n" + large + "\n" + contact_line(3) + "\n");
  const CliResult result = run_cli(
      dir,
      {"import", "contacts", input, "--rejects", rejects, "--checkpoint", checkpoint, "--json"},
      emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 3);
  EXPECT_EQ(summary["valid"], 2);
  EXPECT_EQ(summary["sent"], 2);
  EXPECT_EQ(summary["delivered"], 2);
  EXPECT_EQ(summary["unreadable"], 1);
  EXPECT_EQ(summary["dropped"], 0);
  EXPECT_EQ(summary["checkpoint_line"], 3);
  EXPECT_EQ(checkpoint_line(checkpoint), 3u);
  const auto records = rejects_by_line(rejects);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records.count(2), 1u);
  EXPECT_EQ(records.at(2)["item"]["_user_id"], "U2");
  EXPECT_TRUE(contains(records.at(2)["errors"][""][0].get<std::string>(), "batch.max_bytes"))
      << records.at(2)["errors"];
  EXPECT_TRUE(contains(result.err, "line 2 cannot be sent")) << result.err.substr(0, 2'000);
  const json contacts = emulator.state()["contacts"];
  EXPECT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts.count("U2"), 0u);
}

TEST(CliImport, RepeatedUsersKeepTheirOrderAndRejectsNameTheRightLine) {
  ScratchDir dir;
  Emulator emulator;
  // 2,000 lines over 20 users, each line setting `seq`; line 777 alone has a bad address.
  std::string text;
  for (int line = 1; line <= 2'000; ++line) {
    json contact{{"_user_id", "U" + std::to_string(line % 20)}, {"seq", line}};
    if (line == 777) contact["_email"] = "not an address";
    text += contact.dump() + "\n";
  }
  write_file(dir.file("contacts.ndjson"), text);
  const CliResult result = run_cli(
      dir,
      {"import", "contacts", dir.file("contacts.ndjson"), "--rejects", dir.file("rejects.ndjson")},
      emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const auto records = rejects_by_line(dir.file("rejects.ndjson"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records.begin()->first, 777u);
  EXPECT_EQ(records.begin()->second["item"]["seq"], 777);
  const json contacts = emulator.state()["contacts"];
  ASSERT_EQ(contacts.size(), 20u);
  for (int user = 0; user < 20; ++user) {  // the last line of each user won
    EXPECT_EQ(contacts["U" + std::to_string(user)]["seq"], 1'980 + (user == 0 ? 20 : user));
  }
}

// As above, with a server that delays some answers, refuses others (503) and cuts some off after
// storing their items (so that they are sent again): requests finish out of order and items are
// retried, and each user's operations must still reach the server in file order. Each line of a
// user sets an attribute of its own and clears the one the user's previous line set:
//   line 151 of U1: {"_user_id": "U1", "seq": 151, "a151": 1, "a1": null}
// Applied in file order, each clears the one before, and only the last line's attribute is left.
// A line applied before the one preceding it (or an earlier line sent again after a later one)
// leaves that earlier line's attribute behind.
TEST(CliImport, RepeatedUsersKeepTheirOrderThroughDelaysFailuresAndRetries) {
  ScratchDir dir;
  Emulator emulator("cli-test-token", {"--fault-503", "0.15", "--fault-drop", "0.1", "--fault-slow",
                                       "0.3", "--slow-ms", "40", "--fault-seed", "11"});
  constexpr int kUsers = 150;  // a batch of 100 holds some users' lines, the next one others'
  constexpr int kLines = 6'000;
  std::string text;
  for (int line = 1; line <= kLines; ++line) {
    json contact{{"_user_id", "U" + std::to_string(line % kUsers)},
                 {"seq", line},
                 {"a" + std::to_string(line), 1}};
    if (line > kUsers) contact["a" + std::to_string(line - kUsers)] = nullptr;
    text += contact.dump() + "\n";
  }
  write_file(dir.file("contacts.ndjson"), text);
  const CliResult result = run_cli(
      dir, {"import", "contacts", dir.file("contacts.ndjson"), "--max-attempts", "30", "--json"},
      emulator.env());
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.summary()["delivered"], kLines);
  const json stats = emulator.stats();
  EXPECT_GT(stats["faultsInjected"].get<int>(), 10) << stats;  // the faults did happen
  EXPECT_GT(stats["responsesByStatus"].value("503", 0), 0) << stats;

  const json contacts = emulator.state()["contacts"];
  ASSERT_EQ(contacts.size(), static_cast<std::size_t>(kUsers));
  std::string out_of_order;  // "U7: a307 a5857" for each user with more than its last left
  for (int user = 0; user < kUsers; ++user) {
    const int last = kLines - kUsers + (user == 0 ? kUsers : user);
    const json& contact = contacts.at("U" + std::to_string(user));
    EXPECT_EQ(contact["seq"], last) << "U" << user;
    std::vector<std::string> left;
    for (const auto& entry : contact.items()) {
      if (entry.key().front() == 'a') left.push_back(entry.key());
    }
    if (left != std::vector<std::string>{"a" + std::to_string(last)}) {
      out_of_order += "\nU" + std::to_string(user) + ":";
      for (const std::string& key : left) out_of_order += " " + key;
    }
  }
  EXPECT_EQ(out_of_order, "") << "lines applied out of order";
}

// --- Resuming ------------------------------------------------------------------------------------

// An emulator whose every answer takes 100 ms, so that a signal lands in the middle of an import,
// and an input of `count` contacts for it.
struct SlowImport {
  ScratchDir dir;
  Emulator emulator{"cli-test-token", {"--fault-slow", "1", "--slow-ms", "100"}};
  std::string input = dir.file("contacts.ndjson");
  std::string checkpoint = dir.file("checkpoint.json");

  explicit SlowImport(int count) { write_file(input, contacts_ndjson(count)); }
};

TEST(CliImport, ResumesAfterSigkillWithoutResendingConfirmedLines) {
  constexpr int kContacts = 20'000;
  const SlowImport slow(kContacts);
  const auto& [dir, emulator, input, checkpoint] = slow;
  {
    CliProcess first(dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--quiet"},
                     emulator.env());
    ASSERT_TRUE(wait_for_checkpoint(checkpoint, 2'000, 60s));
    first.send_signal(SIGKILL);
    const auto killed = first.wait(10s);
    ASSERT_TRUE(killed && killed->signaled);
  }
  // The requests the killed process left in the emulator (each delayed 100 ms) are answered: the
  // count of accepted items stops moving (three equal reads 150 ms apart; at most 10 s).
  std::uint64_t last = emulator.accepted();
  for (int equal = 0, polls = 0; equal < 3 && polls < 60; ++polls) {
    std::this_thread::sleep_for(150ms);
    const std::uint64_t now = emulator.accepted();
    equal = now == last ? equal + 1 : 0;
    last = now;
  }
  const std::uint64_t confirmed = checkpoint_line(checkpoint);
  ASSERT_GE(confirmed, 2'000u);
  ASSERT_LT(confirmed, static_cast<std::uint64_t>(kContacts)) << "the kill came too late";
  const std::uint64_t accepted_before = emulator.accepted();
  EXPECT_GE(accepted_before, confirmed);  // every confirmed line was stored

  emulator.post("faults", {{"slow", 0.0}});
  const CliResult second = run_cli(
      dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--json"}, emulator.env());
  ASSERT_EQ(second.status, 0) << second.err;
  const json summary = second.summary();
  EXPECT_EQ(summary["skipped_by_checkpoint"], confirmed);
  EXPECT_LE(summary["sent"].get<std::uint64_t>(), kContacts - confirmed);
  EXPECT_EQ(summary["sent"], kContacts - confirmed);
  // The emulator received exactly what the second run says it sent: no confirmed line again.
  EXPECT_EQ(emulator.accepted() - accepted_before, summary["sent"].get<std::uint64_t>());
  EXPECT_EQ(emulator.state()["contacts"].size(), static_cast<std::size_t>(kContacts));
  EXPECT_EQ(checkpoint_line(checkpoint), static_cast<std::uint64_t>(kContacts));
}

TEST(CliImport, SigintFinishesInFlightWritesCheckpointAndExits130) {
  constexpr int kContacts = 30'000;
  const SlowImport slow(kContacts);
  const auto& [dir, emulator, input, checkpoint] = slow;
  CliProcess first(dir,
                   {"import", "contacts", input, "--checkpoint", checkpoint, "--json",
                    "--shutdown-timeout", "10"},
                   emulator.env());
  ASSERT_TRUE(wait_for_checkpoint(checkpoint, 1'000, 60s));
  const auto interrupted_at = steady_clock::now();
  first.send_signal(SIGINT);
  const auto result = first.wait(30s);
  ASSERT_TRUE(result);
  EXPECT_LT(steady_clock::now() - interrupted_at, 12s);
  EXPECT_FALSE(result->signaled);
  EXPECT_EQ(result->status, 130) << result->err;
  const json summary = result->summary();
  EXPECT_EQ(summary["exit_code"], 130);
  EXPECT_LT(summary["read"].get<int>(), kContacts) << "it went on reading";
  EXPECT_EQ(summary["dropped"], 0);  // everything in flight finished within the deadline
  EXPECT_EQ(summary["checkpoint_line"], checkpoint_line(checkpoint));
  EXPECT_EQ(summary["checkpoint_line"], summary["read"]);
  EXPECT_NE(result->err.find("SIGINT"), std::string::npos);

  emulator.post("faults", {{"slow", 0.0}});
  const CliResult second = run_cli(
      dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--json"}, emulator.env());
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.summary()["sent"], kContacts - summary["checkpoint_line"].get<int>());
  EXPECT_EQ(emulator.stats()["itemsAccepted"], kContacts);  // each contact once in all
}

TEST(CliImport, SigtermExits143) {
  const SlowImport slow(20'000);
  const auto& [dir, emulator, input, checkpoint] = slow;
  CliProcess process(dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--quiet"},
                     emulator.env());
  ASSERT_TRUE(wait_for_checkpoint(checkpoint, 400, 60s));
  process.send_signal(SIGTERM);
  const auto result = process.wait(30s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 143) << result->err;
}

TEST(CliImport, CheckpointOfAnotherInputIsRefused) {
  ScratchDir dir;
  Emulator emulator;
  const std::string checkpoint = dir.file("checkpoint.json");
  write_file(dir.file("a.ndjson"), contacts_ndjson(300));
  write_file(dir.file("b.ndjson"), contacts_ndjson(400, 1'000));
  ASSERT_EQ(run_cli(dir, {"import", "contacts", dir.file("a.ndjson"), "--checkpoint", checkpoint},
                    emulator.env())
                .status,
            0);
  const json requests = emulator.stats()["requests"];

  const CliResult other =
      run_cli(dir, {"import", "contacts", dir.file("b.ndjson"), "--checkpoint", checkpoint},
              emulator.env());
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.err.find("--force-resume"), std::string::npos) << other.err;
  const CliResult kind = run_cli(
      dir, {"import", "events", dir.file("a.ndjson"), "--checkpoint", checkpoint}, emulator.env());
  EXPECT_EQ(kind.status, 2);
  EXPECT_NE(kind.err.find("contacts"), std::string::npos) << kind.err;
  EXPECT_EQ(emulator.stats()["requests"], requests);  // nothing was sent
  EXPECT_EQ(checkpoint_line(checkpoint), 300u);       // nor the checkpoint touched

  const CliResult forced = run_cli(dir,
                                   {"import", "contacts", dir.file("b.ndjson"), "--checkpoint",
                                    checkpoint, "--force-resume", "--json"},
                                   emulator.env());
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(forced.summary()["skipped_by_checkpoint"], 300);
  EXPECT_EQ(forced.summary()["sent"], 100);
}

// --- Inputs --------------------------------------------------------------------------------------

TEST(CliImport, ReadsStandardInputFromAFileAndFromAPipe) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("contacts.ndjson"), contacts_ndjson(500));
  const CliResult from_file = run_cli(dir, {"import", "contacts", "--format", "ndjson", "-"},
                                      emulator.env(), dir.file("contacts.ndjson"));
  EXPECT_EQ(from_file.status, 0) << from_file.err;

  // A pipe carrying gzip: not seekable, no size, decompressed on the fly.
  write_gzip(dir.file("more.ndjson.gz"), contacts_ndjson(700, 500));
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string payload = read_file(dir.file("more.ndjson.gz"));
  std::thread writer([&] {
    std::FILE* out = std::fopen(fifo.c_str(), "wb");  // waits for the reader
    if (out == nullptr) return;
    for (std::size_t at = 0; at < payload.size(); at += 1000) {
      std::fwrite(payload.data() + at, 1, std::min<std::size_t>(1000, payload.size() - at), out);
      std::fflush(out);
    }
    std::fclose(out);
  });
  const CliResult from_pipe = run_cli(
      dir, {"import", "contacts", "--format", "ndjson", "-", "--json"}, emulator.env(), fifo);
  writer.join();
  EXPECT_EQ(from_pipe.status, 0) << from_pipe.err;
  EXPECT_EQ(from_pipe.summary()["delivered"], 700);
  EXPECT_EQ(emulator.state()["contacts"].size(), 1'200u);

  const CliResult no_format =
      run_cli(dir, {"import", "contacts", "-"}, emulator.env(), dir.file("contacts.ndjson"));
  EXPECT_EQ(no_format.status, 2);
  EXPECT_NE(no_format.err.find("--format"), std::string::npos);
}

TEST(CliImport, ReadsGzipFilesAndStopsCleanlyAtATruncatedOne) {
  ScratchDir dir;
  Emulator emulator;
  write_gzip(dir.file("contacts.ndjson.gz"), contacts_ndjson(1'000));
  EXPECT_EQ(
      run_cli(dir, {"import", "contacts", dir.file("contacts.ndjson.gz")}, emulator.env()).status,
      0);
  write_gzip(dir.file("events.csv.gz"), events_csv(1'000));
  const CliResult events = run_cli(
      dir, args({"import", "events", dir.file("events.csv.gz")}, kEventMapping), emulator.env());
  EXPECT_EQ(events.status, 0) << events.err;
  EXPECT_EQ(emulator.state()["contacts"].size(), 1'000u);
  EXPECT_EQ(emulator.event_ids().size(), 1'000u);

  // Cut in the middle: what could be read is delivered, then a clear error and exit 2.
  write_gzip(dir.file("big.ndjson.gz"), contacts_ndjson(50'000, 10'000));
  const std::string whole = read_file(dir.file("big.ndjson.gz"));
  write_file(dir.file("cut.ndjson.gz"), whole.substr(0, whole.size() / 2));
  const CliResult cut =
      run_cli(dir, {"import", "contacts", dir.file("cut.ndjson.gz"), "--json"}, emulator.env());
  EXPECT_EQ(cut.status, 2) << cut.err;
  EXPECT_NE(cut.err.find("cannot read"), std::string::npos) << cut.err;
  const json summary = cut.summary();
  EXPECT_GT(summary["delivered"].get<int>(), 1'000);
  EXPECT_EQ(summary["delivered"], summary["read"]);
}

// --- Modes ---------------------------------------------------------------------------------------

TEST(CliImport, ValidateSendsNothingAndNeedsNoCredentials) {
  ScratchDir dir;
  write_file(dir.file("good.ndjson"), contacts_ndjson(100));
  write_file(dir.file("bad.ndjson"), contacts_ndjson(10) + "{\"n\": 1}\n");
  // Pointed at a closed port with no credentials: any request would fail.
  const emulator::testing::RefusingPort down;
  const Env env{{"INSTASENT_BASE_URL", down.base_url()}};
  const CliResult good =
      run_cli(dir, {"import", "contacts", dir.file("good.ndjson"), "--validate", "--json"}, env);
  EXPECT_EQ(good.status, 0) << good.err;
  EXPECT_EQ(good.summary()["valid"], 100);
  EXPECT_EQ(good.summary()["sent"], 0);
  const CliResult bad =
      run_cli(dir, {"import", "contacts", dir.file("bad.ndjson"), "--validate", "--json"}, env);
  EXPECT_EQ(bad.status, 1) << bad.err;
  EXPECT_EQ(bad.summary()["unreadable"], 1);
  EXPECT_NE(bad.err.find("line 11: _user_id is missing"), std::string::npos) << bad.err;
}

TEST(CliImport, DryRunAsksTheServerAndStoresNothing) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("contacts.ndjson"),
             contacts_ndjson(250) + R"({"_user_id": "X", "_email": "nope"})" + "\n");
  const CliResult result = run_cli(dir,
                                   {"import", "contacts", dir.file("contacts.ndjson"), "--dry-run",
                                    "--rejects", dir.file("rejects.ndjson"), "--json"},
                                   emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["mode"], "dry_run");
  EXPECT_EQ(summary["delivered"], 250);
  EXPECT_EQ(summary["rejected"], 1);
  EXPECT_EQ(rejects_by_line(dir.file("rejects.ndjson")).count(251), 1u);
  EXPECT_EQ(emulator.stats()["requests"], 3);  // 100 + 100 + 51
  EXPECT_TRUE(emulator.state()["contacts"].empty());
}

// A dry run goes through the same pipeline as an import, with ?_dryRun. A batch refused as a
// whole (400) is split until the culprit is alone: only it is rejected, written to the rejects
// file with the server's refusal, and the import goes on. A batch that failed for the server
// (503, attempts exhausted) says nothing about its items: they are not delivered, not rejected,
// and the import stops (exit 4).
TEST(CliImport, DryRunSplitsABatchRefusedAsAWholeAndDropsOneThatFailed) {
  ScratchDir dir;
  // 400 for a batch that holds a user id with "BAD" in it; the others accepted item by item.
  RawServer refusing(instasent::testing::refuse_batches_with_bad_items());
  // Lines 1 to 100 (the first batch) hold U-BAD at line 37; lines 101 to 150 are fine.
  std::string text;
  for (int line = 1; line <= 150; ++line) {
    text += (line == 37 ? json{{"_user_id", "U-BAD"}}.dump() : contact_line(line)) + "\n";
  }
  write_file(dir.file("contacts.ndjson"), text);
  const std::string rejects = dir.file("rejects.ndjson");
  const CliResult refused = run_cli(dir,
                                    {"import", "contacts", dir.file("contacts.ndjson"), "--dry-run",
                                     "--rejects", rejects, "--json"},
                                    env_for(refusing.base_url()));
  EXPECT_EQ(refused.status, 1) << refused.err;
  EXPECT_EQ(refused.summary()["rejected"], 1);
  EXPECT_EQ(refused.summary()["delivered"], 149);
  EXPECT_EQ(refused.summary()["dropped"], 0);
  EXPECT_GT(refusing.requests(), 2u);  // the refused batch was split
  const auto records = rejects_by_line(rejects);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records.begin()->first, 37u);
  EXPECT_EQ(records.at(37)["item"]["_user_id"], "U-BAD");
  EXPECT_TRUE(contains(records.at(37)["errors"][""][0].get<std::string>(), "400"))
      << records.at(37)["errors"];

  RawServer unavailable([](RawConnection& connection) {
    connection.write(RawServer::answer(503, R"({"message":"Try later"})"));
  });
  const CliResult failed = run_cli(dir,
                                   {"import", "contacts", dir.file("contacts.ndjson"), "--dry-run",
                                    "--max-attempts", "1", "--rejects", rejects, "--json"},
                                   env_for(unavailable.base_url()));
  EXPECT_EQ(failed.status, 4) << failed.err;
  EXPECT_EQ(failed.summary()["rejected"], 0);
  EXPECT_GE(failed.summary()["dropped"], 100);
  EXPECT_EQ(failed.summary()["delivered"], 0);
  EXPECT_EQ(read_file(rejects), "");  // nothing the items did wrong
  EXPECT_TRUE(contains(failed.err, "gave up")) << failed.err;
}

// --- Bounds --------------------------------------------------------------------------------------

// The import keeps at most 5,000 records sent and not yet final, whatever the input's size: with a
// server that never answers, it reads 5,000 records and waits. With 64 requests in flight (of up to
// 100 items each), every one of them is in a request the server holds; once all 5,000 have
// arrived the tool is waiting for room, and SIGTERM finds it there.
TEST(CliImport, AtMostFiveThousandRecordsAreInFlightAtOnce) {
  ScratchDir dir;
  std::atomic<std::size_t> items{0};
  RawServer holding([&items](RawConnection& connection) {
    const json batch = request_items(connection);
    if (batch.is_array()) items += batch.size();
    while (!connection.stopping()) std::this_thread::sleep_for(10ms);  // no answer
  });
  write_file(dir.file("c.ndjson"), contacts_ndjson(6'000));
  CliProcess process(dir,
                     {"import", "contacts", dir.file("c.ndjson"), "--max-in-flight", "64",
                      "--shutdown-timeout", "0", "--json"},
                     env_for(holding.base_url()));
  ASSERT_TRUE(wait_until([&] { return items.load() >= 5'000; }, 60s)) << items.load();
  process.send_signal(SIGTERM);
  const auto result = process.wait(30s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 143) << result->err;
  const json summary = result->summary();
  EXPECT_EQ(summary["read"], 5'000);
  EXPECT_EQ(summary["sent"], 5'000);
  EXPECT_EQ(summary["dropped"], 5'000);  // given up at the deadline, none of them answered
  EXPECT_EQ(items.load(), 5'000u);
}

// --- Exit codes ----------------------------------------------------------------------------------

TEST(CliExitCodes, UsageAndConfigurationErrorsAre2) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("c.ndjson"), contacts_ndjson(3));
  write_file(dir.file("c.txt"), contacts_ndjson(3));
  Env no_project = emulator.env();
  no_project.erase("INSTASENT_PROJECT");
  const std::vector<std::pair<std::vector<std::string>, Env>> cases{
      {{}, emulator.env()},
      {{"frobnicate"}, emulator.env()},
      {{"import", "contacts"}, emulator.env()},
      {{"import", "contacts", dir.file("missing.ndjson")}, emulator.env()},
      {{"import", "contacts", dir.file("c.txt")}, emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--map", "a=b"}, emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--dry-run", "--validate"}, emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--validate", "--checkpoint",
        dir.file("cp.json")},
       emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--delimiter", "ab"}, emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--token-file", dir.file("nope")},
       emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson")}, no_project},
      {{"stream"}, no_project},
      {{"specs"}, emulator.env()},
      {{"import", "contacts", dir.file("c.ndjson"), "--rejects", dir.file("c.ndjson")},
       emulator.env()},
  };
  for (const auto& [command, env] : cases) {
    const CliResult result = run_cli(dir, command, env);
    std::string line;
    for (const std::string& word : command) line += word + " ";
    EXPECT_EQ(result.status, 2) << line << "\n" << result.err;
    EXPECT_FALSE(result.err.empty()) << line;
  }
  EXPECT_EQ(emulator.stats()["requests"], 0);
  EXPECT_EQ(read_file(dir.file("c.ndjson")), contacts_ndjson(3));  // not taken for rejects
  const CliResult missing = run_cli(dir, {"stream"}, no_project);
  EXPECT_NE(missing.err.find("INSTASENT_PROJECT"), std::string::npos) << missing.err;
}

TEST(CliExitCodes, UnauthorizedOrNotFoundAre3) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("c.ndjson"), contacts_ndjson(10'000));
  Env wrong_token = emulator.env();
  wrong_token["INSTASENT_TOKEN"] = "not-the-token";
  const CliResult import =
      run_cli(dir,
              {"import", "contacts", dir.file("c.ndjson"), "--json", "--rejects",
               dir.file("rejects.ndjson"), "--checkpoint", dir.file("cp.json")},
              wrong_token);
  EXPECT_EQ(import.status, 3) << import.err;
  EXPECT_EQ(import.summary()["delivered"], 0);
  EXPECT_EQ(import.summary()["rejected"], 0);  // the items were not at fault
  EXPECT_GT(import.summary()["dropped"].get<int>(), 0);
  EXPECT_NE(import.err.find("401"), std::string::npos) << import.err;
  EXPECT_EQ(read_file(dir.file("rejects.ndjson")), "");
  EXPECT_EQ(checkpoint_line(dir.file("cp.json")), 0u);  // nothing confirmed
  // It stopped early rather than sending all 100 batches to be refused.
  EXPECT_LT(emulator.stats()["responsesByStatus"]["401"].get<int>(), 30);

  Env wrong_datasource = emulator.env();
  wrong_datasource["INSTASENT_DATASOURCE"] = "ds_other";
  EXPECT_EQ(run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, wrong_datasource).status, 3);
  EXPECT_EQ(run_cli(dir, {"stream"}, wrong_token).status, 3);
  EXPECT_EQ(run_cli(dir, {"get", "nobody"}, emulator.env()).status, 3);
  EXPECT_EQ(
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--dry-run"}, wrong_token).status,
      3);
}

TEST(CliExitCodes, GivingUpAfterRetriesIs4) {
  ScratchDir dir;
  write_file(dir.file("c.ndjson"), contacts_ndjson(500));
  const emulator::testing::RefusingPort down;
  Env closed{{"INSTASENT_PROJECT", "p"},
             {"INSTASENT_DATASOURCE", "d"},
             {"INSTASENT_TOKEN", "t"},
             {"INSTASENT_BASE_URL", down.base_url()}};
  const CliResult refused = run_cli(dir,
                                    {"import", "contacts", dir.file("c.ndjson"), "--max-attempts",
                                     "2", "--json", "--shutdown-timeout", "1"},
                                    closed);
  EXPECT_EQ(refused.status, 4) << refused.err;
  EXPECT_GT(refused.summary()["dropped"].get<int>(), 0);
  EXPECT_NE(refused.err.find("gave up"), std::string::npos) << refused.err;
  EXPECT_EQ(run_cli(dir, {"stream", "--max-attempts", "1"}, closed).status, 4);

  // Every request answered 503. (The Ingestor's backoff grows with each failed request of a
  // queue, so one batch keeps this short.)
  Emulator failing("cli-test-token", {"--fault-503", "1"});
  write_file(dir.file("one-batch.ndjson"), contacts_ndjson(100));
  const CliResult unavailable =
      run_cli(dir,
              {"import", "contacts", dir.file("one-batch.ndjson"), "--max-attempts", "3",
               "--shutdown-timeout", "1", "--json"},
              failing.env());
  EXPECT_EQ(unavailable.status, 4) << unavailable.err;
  EXPECT_EQ(unavailable.summary()["delivered"], 0);
  EXPECT_EQ(run_cli(dir, {"get", "U1", "--max-attempts", "2"}, failing.env()).status, 4);
}

// A failure no retry can mend (here an answer that is not HTTP at all) drops the request's items
// at the first attempt, and stops the import as giving up after retries does: it reads no further
// than the records it had in hand, says why, and exits 4. 10,000 contacts make 100 batches; the
// import stops long before it has sent them all.
TEST(CliExitCodes, AFailureNoRetryCanMendStopsTheImportAndIs4) {
  ScratchDir dir;
  RawServer not_http(
      [](RawConnection& connection) { connection.write("SSH-2.0-OpenSSH_9.2\r\n"); });
  const std::string checkpoint = dir.file("checkpoint.json");
  write_file(dir.file("c.ndjson"), contacts_ndjson(10'000));
  const CliResult result = run_cli(dir,
                                   {"import", "contacts", dir.file("c.ndjson"), "--checkpoint",
                                    checkpoint, "--json", "--shutdown-timeout", "0"},
                                   env_for(not_http.base_url()));
  EXPECT_EQ(result.status, 4) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["exit_code"], 4);
  EXPECT_LT(summary["read"].get<int>(), 10'000) << "it went on reading";
  EXPECT_LT(not_http.requests(), 100u) << "it went on sending";
  EXPECT_EQ(summary["delivered"], 0);
  EXPECT_EQ(summary["dropped"], summary["sent"]);
  EXPECT_TRUE(contains(result.err, "gave up: ")) << result.err;
  EXPECT_TRUE(contains(result.err, "not valid HTTP")) << result.err;
  EXPECT_EQ(checkpoint_line(checkpoint), 0u);
}

// --- Secrets -------------------------------------------------------------------------------------

TEST(CliSecrets, TheTokenIsNeverPrinted) {
  ScratchDir dir;
  const std::string token = "tok-S3CRET-never-print-5b9e0c";
  const std::string wrong = "tok-WRONG-never-print-77aa1f";
  Emulator emulator(token);
  write_file(dir.file("c.ndjson"),
             contacts_ndjson(50) + R"({"_user_id":"X","_email":"bad"})" + "\n{oops\n");
  write_file(dir.file("token"), token + "\n");
  Env env = emulator.env();
  Env by_file = env;
  by_file.erase("INSTASENT_TOKEN");
  Env wrong_token = env;
  wrong_token["INSTASENT_TOKEN"] = wrong;
  Env wrong_project = env;
  wrong_project["INSTASENT_PROJECT"] = "proj_other";

  std::vector<CliResult> results{
      run_cli(dir, {"stream"}, env),
      run_cli(dir, {"stream", "--token-file", dir.file("token")}, by_file),
      run_cli(dir, {"get", "U1"}, env),
      run_cli(dir, {"get", "nobody"}, env),
      run_cli(dir, {"specs", "attributes"}, env),
      run_cli(dir, {"delete", "U2", "nobody"}, env),
      run_cli(
          dir,
          {"import", "contacts", dir.file("c.ndjson"), "--json", "--rejects", dir.file("r.ndjson")},
          env),
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--token-file", dir.file("token")},
              by_file),
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--dry-run"}, env),
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, wrong_token),
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--dry-run"}, wrong_token),
      run_cli(dir, {"stream"}, wrong_token),
      run_cli(dir, {"stream"}, wrong_project),
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, wrong_project),
  };
  EXPECT_EQ(results[0].status, 0);
  EXPECT_EQ(results[1].status, 0) << results[1].err;
  EXPECT_EQ(results[7].status, 1) << results[7].err;  // the token file works for imports too
  for (std::size_t i = 0; i < results.size(); ++i) {
    for (const std::string& secret : {token, wrong, std::string("S3CRET"), std::string("WRONG")}) {
      EXPECT_EQ(results[i].out.find(secret), std::string::npos) << "run " << i << " stdout";
      EXPECT_EQ(results[i].err.find(secret), std::string::npos) << "run " << i << " stderr";
    }
  }
  EXPECT_EQ(read_file(dir.file("r.ndjson")).find(token), std::string::npos);
}

// --- Single calls --------------------------------------------------------------------------------

// delete --ids-from: ids one per line from a file or standard input, blank lines skipped, CRLF
// taken off; every id is checked first, and a bad one (named by its place) deletes nothing.
TEST(CliCommands, DeleteTakesIdsFromAFileOrStandardInput) {
  ScratchDir dir;
  Emulator emulator;
  const Env env = emulator.env();
  write_file(dir.file("c.ndjson"), contacts_ndjson(6));
  ASSERT_EQ(run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, env).status, 0);

  write_file(dir.file("ids.txt"), "U1\r\n\nU2\n");
  const CliResult from_file =
      run_cli(dir, {"delete", "U0", "--ids-from", dir.file("ids.txt")}, env);
  ASSERT_EQ(from_file.status, 0) << from_file.err;
  EXPECT_EQ(from_file.out, "deleted U0\ndeleted U1\ndeleted U2\n");

  write_file(dir.file("stdin.txt"), "U3\nU4");
  const CliResult from_stdin =
      run_cli(dir, {"delete", "--ids-from", "-"}, env, dir.file("stdin.txt"));
  ASSERT_EQ(from_stdin.status, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "deleted U3\ndeleted U4\n");
  ASSERT_EQ(emulator.state()["contacts"].size(), 1u);

  write_file(dir.file("bad.txt"), "U5\n..\n");
  const CliResult bad = run_cli(dir, {"delete", "--ids-from", dir.file("bad.txt")}, env);
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "'..' (")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "bad.txt, id 2)")) << bad.err;
  write_file(dir.file("long.txt"), "U5\n" + std::string(1'025, 'x') + "\n");
  const CliResult long_id = run_cli(dir, {"delete", "--ids-from", dir.file("long.txt")}, env);
  EXPECT_EQ(long_id.status, 2);
  EXPECT_TRUE(contains(long_id.err, "line 2 of")) << long_id.err;
  write_file(dir.file("empty.txt"), "\n\n");
  EXPECT_EQ(run_cli(dir, {"delete", "--ids-from", dir.file("empty.txt")}, env).status, 2);
  EXPECT_EQ(run_cli(dir, {"delete", "--ids-from", dir.file("missing.txt")}, env).status, 2);
  EXPECT_EQ(emulator.state()["contacts"].count("U5"), 1u) << "nothing was deleted";
}

// -v logs what went wrong on the way (retries); -vv every request and answer too. Never the token.
TEST(CliVerbose, LogsRetriesAndTwiceEveryRequest) {
  ScratchDir dir;
  Emulator emulator;
  const CliResult quiet = run_cli(dir, {"stream"}, emulator.env());
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("request_"), std::string::npos) << quiet.err;

  const CliResult debug = run_cli(dir, {"stream", "-vv"}, emulator.env());
  ASSERT_EQ(debug.status, 0) << debug.err;
  EXPECT_TRUE(contains(debug.err, "instasent: debug request_sent operation=stream_info attempt=1"))
      << debug.err;
  EXPECT_TRUE(contains(debug.err,
                       "instasent: debug request_answered operation=stream_info "
                       "status=200 attempt=1"))
      << debug.err;
  EXPECT_FALSE(contains(debug.err, "cli-test-token")) << debug.err;

  Emulator failing("cli-test-token", {"--fault-503", "1"});
  write_file(dir.file("one.ndjson"), contacts_ndjson(3));
  const CliResult retried = run_cli(dir,
                                    {"import", "contacts", dir.file("one.ndjson"), "--max-attempts",
                                     "2", "--shutdown-timeout", "1", "--verbose", "--quiet"},
                                    failing.env());
  EXPECT_EQ(retried.status, 4) << retried.err;
  EXPECT_TRUE(contains(retried.err,
                       "instasent: info retry_scheduled operation=upsert_contact "
                       "status=503 attempt=1 items=3"))
      << retried.err;
  EXPECT_TRUE(contains(retried.err,
                       "instasent: warning item_dropped operation=upsert_contact "
                       "status=503 items=1: retries_exhausted: "))
      << retried.err;
  EXPECT_FALSE(contains(retried.err, "request_sent")) << "-v is info, not debug";
}

TEST(CliCommands, StreamGetDeleteAndSpecs) {
  ScratchDir dir;
  Emulator emulator;
  const Env env = emulator.env();
  const CliResult stream = run_cli(dir, {"stream"}, env);
  ASSERT_EQ(stream.status, 0) << stream.err;
  EXPECT_TRUE(json::parse(stream.out).contains("project"));

  write_file(dir.file("c.ndjson"), contacts_ndjson(3));
  ASSERT_EQ(run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, env).status, 0);
  const CliResult get = run_cli(dir, {"get", "U1"}, env);
  ASSERT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(json::parse(get.out)["contact"]["contactData"]["_email"], "u1@example.com");

  const CliResult remove = run_cli(dir, {"delete", "U1", "nobody", "U2"}, env);
  EXPECT_EQ(remove.status, 3);  // "nobody" was not found; the others were deleted
  EXPECT_NE(remove.out.find("deleted U1"), std::string::npos);
  EXPECT_NE(remove.out.find("deleted U2"), std::string::npos);
  EXPECT_EQ(run_cli(dir, {"get", "U1"}, env).status, 3);
  EXPECT_EQ(run_cli(dir, {"delete", "U0"}, env).status, 0);
  EXPECT_TRUE(emulator.state()["contacts"].empty());

  const auto uids = [&](const std::vector<std::string>& command, const char* key) {
    const CliResult result = run_cli(dir, command, env);
    EXPECT_EQ(result.status, 0) << result.err;
    std::set<std::string> names;
    for (const json& spec : json::parse(result.out)) names.insert(spec[key].get<std::string>());
    return names;
  };
  EXPECT_EQ(uids({"specs", "attributes"}, "uid").count("_email"), 1u);
  EXPECT_EQ(uids({"specs", "events"}, "uid").count("purchase"), 1u);
  EXPECT_EQ(uids({"specs", "event-parameters", "purchase"}, "parameter").count("amount"), 1u);
  EXPECT_EQ(run_cli(dir, {"specs", "event-parameters", "no_such_type"}, env).status, 3);
}

TEST(CliCommands, HelpForEveryCommand) {
  ScratchDir dir;
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"stream", "--help"},
                                             {"import", "--help"},
                                             {"import", "contacts", "--help"},
                                             {"import", "events", "--help"},
                                             {"get", "--help"},
                                             {"delete", "--help"},
                                             {"specs", "--help"},
                                             {"specs", "attributes", "--help"},
                                             {"specs", "events", "--help"},
                                             {"specs", "event-parameters", "--help"}}) {
    const CliResult result = run_cli(dir, command, {});
    EXPECT_EQ(result.status, 0) << command.front();
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << command.front();
  }
  const CliResult import = run_cli(dir, {"import", "contacts", "--help"}, {});
  for (const char* flag : {"--map", "--type", "--rejects", "--checkpoint", "--token-file",
                           "--dry-run", "--validate", "--json", "--quiet"}) {
    EXPECT_NE(import.out.find(flag), std::string::npos) << flag;
  }
}

// While a rate limit holds sending back, the progress says so with the time left; the summary
// and --json say how long the import waited on rate limits and on retries.
TEST(CliProgress, ARateLimitWaitIsShownAndSummed) {
  ScratchDir dir;
  // Two 429s of one second each, one after the other, then a 503, then every request is fine.
  Emulator emulator("cli-test-token", {"--fault-script", "429,429,503"});
  write_file(dir.file("c.ndjson"), contacts_ndjson(10));
  const CliResult result = run_cli(
      dir, {"import", "contacts", dir.file("c.ndjson"), "--progress-interval", "0.1", "--json"},
      emulator.env());
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "items done, waiting for the rate limit, resumes in 1 s"))
      << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["delivered"], 10);
  EXPECT_GE(summary["rate_limit_wait_seconds"].get<double>(), 1.9);
  EXPECT_LE(summary["rate_limit_wait_seconds"].get<double>(), 2.1);
  EXPECT_GT(summary["retry_wait_seconds"].get<double>(), 0);
  EXPECT_TRUE(contains(result.err, "; waited 2 s on rate limits, ")) << result.err;
}

TEST(CliProgress, PlainLinesWhenNotATerminalAndSilenceWhenQuiet) {
  ScratchDir dir;
  Emulator emulator("cli-test-token", {"--fault-slow", "1", "--slow-ms", "100"});
  write_file(dir.file("c.ndjson"), contacts_ndjson(3'000));
  const CliResult shown =
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--progress-interval", "0.2"},
              emulator.env());
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_NE(shown.err.find("items done"), std::string::npos) << shown.err;
  EXPECT_EQ(shown.err.find('\r'), std::string::npos);  // no terminal, no redrawing
  EXPECT_NE(shown.err.find("3,000 delivered"), std::string::npos) << shown.err;

  const CliResult quiet =
      run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--quiet"}, emulator.env());
  EXPECT_EQ(quiet.status, 0);
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(quiet.out, "");
}

// --validate counts the records it checked as done: a valid record is as final as a rejected one.
// The input comes from a pipe that stays open, so that the tool is still running (and printing
// progress) once every record has been read; the progress lines then say all of them are done.
TEST(CliProgress, ValidateCountsTheRecordsItCheckedAsDone) {
  ScratchDir dir;
  const std::string fifo = dir.file("pipe");
  StalledPipe pipe(fifo);
  CliProcess process(dir,
                     {"import", "contacts", "--format", "ndjson", "-", "--validate",
                      "--progress-interval", "0.1", "--json"},
                     {}, fifo);
  // More than the 64 KiB head, so that reading starts: 2,000 valid contacts and 2 bad lines.
  ASSERT_TRUE(pipe.write_all(contacts_ndjson(2'000) + "{oops\n{\"n\": 1}\n", 30s));
  ASSERT_TRUE(wait_until(
      [&] { return contains(process.err_so_far(), "instasent: 2,002 items done"); }, 30s))
      << process.err_so_far().substr(0, 2'000);
  EXPECT_TRUE(contains(process.err_so_far(), "2 failed")) << process.err_so_far().substr(0, 2'000);
  process.send_signal(SIGTERM);
  const auto result = process.wait(30s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 143) << result->err;
  EXPECT_EQ(result->summary()["valid"], 2'000);
  EXPECT_EQ(result->summary()["unreadable"], 2);
}

}  // namespace
}  // namespace instasent::cli::testing
