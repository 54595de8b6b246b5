// SPDX-License-Identifier: Apache-2.0
// The confirmed prefix, the checkpoint file and the rejects file.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "cli/cli_support.hpp"
#include "exit_codes.hpp"
#include "line_source.hpp"
#include "rejects.hpp"

namespace instasent::cli {
namespace {

using testing::lines_of;
using testing::read_file;
using testing::ScratchDir;
using testing::write_file;

PendingItem pending(std::uint64_t line, std::uint64_t last = 0) {
  return PendingItem{line, last == 0 ? line : last, "{}"};
}

TEST(DeliveryTracker, ThePrefixStopsAtTheFirstLineWithoutAFinalState) {
  DeliveryTracker tracker;
  EXPECT_EQ(tracker.confirmed_through(), 0u);
  tracker.settled(1);  // e.g. a blank line
  tracker.sent(pending(2));
  tracker.sent(pending(3));
  tracker.settled(4);  // unreadable, written to the rejects file
  tracker.sent(pending(5));
  EXPECT_EQ(tracker.confirmed_through(), 1u);
  ASSERT_TRUE(tracker.take(3));  // later lines finish first
  EXPECT_EQ(tracker.confirmed_through(), 1u);
  ASSERT_TRUE(tracker.take(2));
  EXPECT_EQ(tracker.confirmed_through(), 4u);
  ASSERT_TRUE(tracker.take(5));
  EXPECT_EQ(tracker.confirmed_through(), 5u);
  EXPECT_FALSE(tracker.take(5));
  EXPECT_EQ(tracker.pending(), 0u);
}

// One record stays in flight while thousands after it finish, in any order: each is found with
// its own item, once, before and after those taken are let go, and the prefix waits for the first.
TEST(DeliveryTracker, ARecordLongInFlightHoldsThePrefixWhileThousandsAfterItFinish) {
  DeliveryTracker tracker;
  constexpr std::uint64_t kLines = 5'000;
  for (std::uint64_t line = 1; line <= kLines; ++line) {
    tracker.sent(PendingItem{line, line, "L" + std::to_string(line)});
  }
  std::vector<std::uint64_t> order;
  for (std::uint64_t line = 2; line <= kLines; ++line) order.push_back(line);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  for (const std::uint64_t line : order) {
    const auto item = tracker.take(line);
    ASSERT_TRUE(item) << line;
    EXPECT_EQ(item->item_json, "L" + std::to_string(line));
    EXPECT_FALSE(tracker.take(line)) << line;
    ASSERT_EQ(tracker.confirmed_through(), 0u);
  }
  EXPECT_EQ(tracker.pending(), 1u);
  tracker.sent(PendingItem{kLines + 1, kLines + 1, "next"});
  const auto first = tracker.take(1);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->item_json, "L1");
  EXPECT_EQ(tracker.confirmed_through(), kLines);
  ASSERT_TRUE(tracker.take(kLines + 1));
  EXPECT_EQ(tracker.confirmed_through(), kLines + 1);
  EXPECT_EQ(tracker.pending(), 0u);
}

TEST(DeliveryTracker, UnconfirmedLinesHoldThePrefixForGood) {
  DeliveryTracker tracker(10);  // resumed after line 10
  EXPECT_EQ(tracker.confirmed_through(), 10u);
  tracker.sent(pending(11));
  tracker.sent(pending(12, 14));  // a CSV row over three lines
  tracker.sent(pending(15));
  tracker.take(11);
  EXPECT_EQ(tracker.confirmed_through(), 11u);
  tracker.take(12);
  tracker.unconfirmed(12);  // dropped: retries exhausted, say
  tracker.take(15);
  EXPECT_EQ(tracker.confirmed_through(), 11u);
  tracker.settled(20);
  EXPECT_EQ(tracker.confirmed_through(), 11u);
  // Nothing that comes later lifts it: more records read and delivered, another one dropped.
  tracker.sent(pending(21));
  tracker.take(21);
  tracker.sent(pending(22));
  tracker.take(22);
  tracker.unconfirmed(22);
  tracker.settled(30);
  EXPECT_EQ(tracker.confirmed_through(), 11u);
  EXPECT_EQ(tracker.pending(), 0u);
}

// Outcomes come back in any order. However many records are not confirmed, and in whatever order
// they are reported, the prefix stays below the earliest of them.
TEST(DeliveryTracker, ThePrefixStaysBelowTheEarliestOfSeveralUnconfirmedLines) {
  DeliveryTracker tracker;
  for (std::uint64_t line = 1; line <= 10; ++line) tracker.sent(pending(line));
  ASSERT_TRUE(tracker.take(7));
  tracker.unconfirmed(7);
  ASSERT_TRUE(tracker.take(4));
  tracker.unconfirmed(4);  // an earlier line reported after a later one
  ASSERT_TRUE(tracker.take(9));
  tracker.unconfirmed(9);                      // a later one after both
  EXPECT_EQ(tracker.confirmed_through(), 0u);  // line 1 is still in flight
  ASSERT_TRUE(tracker.take(2));
  EXPECT_EQ(tracker.confirmed_through(), 0u);
  ASSERT_TRUE(tracker.take(1));
  EXPECT_EQ(tracker.confirmed_through(), 2u);  // line 3 is still in flight
  ASSERT_TRUE(tracker.take(3));
  EXPECT_EQ(tracker.confirmed_through(), 3u);
  for (const std::uint64_t line : {5, 6, 8, 10}) ASSERT_TRUE(tracker.take(line));
  tracker.settled(11);
  EXPECT_EQ(tracker.confirmed_through(), 3u);
  EXPECT_EQ(tracker.pending(), 0u);
}

// An unconfirmed line reported before the lines after it settle, or after them: the prefix ends
// just before it either way, and an unconfirmed line that settled (an unreadable line whose
// reject could not be written) stops it as one that was sent does.
TEST(DeliveryTracker, AnUnconfirmedLineStopsThePrefixWhetherLaterLinesSettleBeforeOrAfter) {
  {
    DeliveryTracker tracker;
    tracker.sent(pending(1));
    tracker.sent(pending(2));
    tracker.sent(pending(3));
    ASSERT_TRUE(tracker.take(2));
    tracker.unconfirmed(2);  // before the lines around it settle
    EXPECT_EQ(tracker.confirmed_through(), 0u);
    ASSERT_TRUE(tracker.take(1));
    EXPECT_EQ(tracker.confirmed_through(), 1u);
    ASSERT_TRUE(tracker.take(3));
    tracker.settled(4);
    EXPECT_EQ(tracker.confirmed_through(), 1u);
  }
  {
    DeliveryTracker tracker;
    tracker.sent(pending(1));
    tracker.sent(pending(2));
    tracker.sent(pending(3));
    ASSERT_TRUE(tracker.take(3));  // the lines after it settle first
    tracker.settled(4);
    ASSERT_TRUE(tracker.take(1));
    EXPECT_EQ(tracker.confirmed_through(), 1u);
    ASSERT_TRUE(tracker.take(2));
    tracker.unconfirmed(2);
    EXPECT_EQ(tracker.confirmed_through(), 1u);
  }
  {
    DeliveryTracker tracker;
    tracker.settled(1);
    tracker.settled(2);  // unreadable, and its reject could not be written:
    tracker.unconfirmed(2);
    EXPECT_EQ(tracker.confirmed_through(), 1u);
    tracker.settled(3);
    tracker.sent(pending(4));
    ASSERT_TRUE(tracker.take(4));
    EXPECT_EQ(tracker.confirmed_through(), 1u);
  }
}

// A record over several lines (a CSV row with quoted line breaks) is confirmed as a whole or not
// at all: the prefix never ends inside it.
TEST(DeliveryTracker, AMultiLineRecordIsConfirmedOrNotAsAWhole) {
  DeliveryTracker tracker;
  tracker.sent(pending(1, 3));
  EXPECT_EQ(tracker.confirmed_through(), 0u);
  tracker.sent(pending(4, 6));
  tracker.settled(7);
  tracker.sent(pending(8, 11));
  ASSERT_TRUE(tracker.take(1));
  EXPECT_EQ(tracker.confirmed_through(), 3u);  // all three lines, and not the next record's
  ASSERT_TRUE(tracker.take(8));
  EXPECT_EQ(tracker.confirmed_through(), 3u);
  ASSERT_TRUE(tracker.take(4));
  EXPECT_EQ(tracker.confirmed_through(), 11u);

  tracker.sent(pending(12, 15));
  tracker.settled(16);
  ASSERT_TRUE(tracker.take(12));
  tracker.unconfirmed(12);  // not its last line, nor any line after it
  EXPECT_EQ(tracker.confirmed_through(), 11u);
}

// Against a model of the lines: records of one to three lines, blank or unreadable (settled at
// once) or sent, their outcomes coming back in a random order, some of them not confirmations.
// After every step the prefix is exactly the run of lines from the start that are all read,
// final and confirmed: it never passes a line that was not confirmed, nor stops short of one
// that is.
TEST(DeliveryTracker, ThePrefixIsTheRunOfConfirmedLinesWhateverTheOrderOfOutcomes) {
  enum class Line { unread, in_flight, confirmed, unconfirmed };
  for (unsigned seed = 1; seed <= 50; ++seed) {
    std::mt19937 random(seed);
    const auto chance = [&](int percent) {
      return std::uniform_int_distribution<int>(0, 99)(random) < percent;
    };
    constexpr std::uint64_t kResumedAfter = 5;
    std::vector<Line> lines(kResumedAfter + 1, Line::confirmed);  // [0] is not a line
    DeliveryTracker tracker(kResumedAfter);
    std::vector<PendingItem> in_flight;
    const auto set = [&](const PendingItem& item, Line state) {
      for (std::uint64_t line = item.first_line; line <= item.last_line; ++line) {
        lines[line] = state;
      }
    };
    const auto expected = [&] {
      std::uint64_t through = 0;
      while (through + 1 < lines.size() && lines[through + 1] == Line::confirmed) ++through;
      return through;
    };
    for (int step = 0; step < 400; ++step) {
      if (!in_flight.empty() && (lines.size() > 300 || chance(45))) {
        // An outcome, for any record still in flight.
        const std::size_t at =
            std::uniform_int_distribution<std::size_t>(0, in_flight.size() - 1)(random);
        const PendingItem item = in_flight[at];
        in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(at));
        const auto taken = tracker.take(item.first_line);
        ASSERT_TRUE(taken) << "seed " << seed << ", line " << item.first_line;
        EXPECT_EQ(taken->last_line, item.last_line);
        if (chance(10)) {
          tracker.unconfirmed(item.first_line);  // dropped, or refused for the credentials
          set(item, Line::unconfirmed);
        } else {
          set(item, Line::confirmed);  // delivered, or rejected and written down
        }
      } else if (lines.size() <= 300) {
        // The next record read.
        const PendingItem item =
            pending(lines.size(),
                    lines.size() + std::uniform_int_distribution<std::uint64_t>(0, 2)(random));
        lines.resize(item.last_line + 1, Line::unread);
        if (chance(30)) {
          tracker.settled(item.last_line);  // blank, or unreadable
          if (chance(10)) {
            tracker.unconfirmed(item.first_line);  // and its reject could not be written
            set(item, Line::unconfirmed);
          } else {
            set(item, Line::confirmed);
          }
        } else {
          tracker.sent(item);
          in_flight.push_back(item);
          set(item, Line::in_flight);
        }
      } else {
        break;  // everything read and final
      }
      ASSERT_EQ(tracker.confirmed_through(), expected()) << "seed " << seed << ", step " << step;
      ASSERT_EQ(tracker.pending(), in_flight.size()) << "seed " << seed << ", step " << step;
    }
  }
}

TEST(Checkpoint, SavesAtomicallyAndLoads) {
  ScratchDir dir;
  const std::string path = dir.file("checkpoint.json");
  EXPECT_FALSE(Checkpoint::load(path));
  Checkpoint checkpoint;
  checkpoint.kind = ItemKind::events;
  checkpoint.input = InputIdentity{"in.ndjson", 1234, "00ff", 64};
  checkpoint.line = 77;
  checkpoint.save(path);
  EXPECT_FALSE(testing::file_exists(path + ".tmp"));
  const auto loaded = Checkpoint::load(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->kind, ItemKind::events);
  EXPECT_EQ(loaded->line, 77u);
  EXPECT_EQ(loaded->input.path, "in.ndjson");
  EXPECT_EQ(loaded->input.size, 1234u);
  EXPECT_TRUE(loaded->input.difference(checkpoint.input).empty());

  checkpoint.input.size.reset();  // standard input: only the head counts
  checkpoint.save(path);
  EXPECT_FALSE(Checkpoint::load(path)->input.size);

  write_file(path, "{\"line\": 3}");
  EXPECT_THROW(Checkpoint::load(path), UsageError);
  write_file(path, "not json");
  EXPECT_THROW(Checkpoint::load(path), UsageError);
}

TEST(InputIdentity, SizeAndHeadMustMatch) {
  const InputIdentity a{"a.csv", 100, "aaaa", 100};
  InputIdentity b = a;
  b.path = "moved.csv";
  EXPECT_TRUE(a.difference(b).empty());  // a moved file is the same input
  b.size = 101;
  EXPECT_NE(a.difference(b).find("size"), std::string::npos);
  b = a;
  b.head_hash = "bbbb";
  EXPECT_FALSE(a.difference(b).empty());
  b = a;
  b.size.reset();
  EXPECT_TRUE(a.difference(b).empty());
}

// A checkpoint is read only by the format version that wrote it: a later version's (or one
// without a version) may mean something else by the same fields.
TEST(Checkpoint, RefusesAnotherFormatVersion) {
  ScratchDir dir;
  const std::string path = dir.file("checkpoint.json");
  Checkpoint checkpoint;
  checkpoint.input = InputIdentity{"in.ndjson", 100, "00ff", 100};
  checkpoint.line = 30;
  checkpoint.save(path);
  const nlohmann::json saved = nlohmann::json::parse(read_file(path));
  ASSERT_EQ(saved["instasent_checkpoint"], 1);
  ASSERT_EQ(Checkpoint::load(path)->line, 30u);
  for (const nlohmann::json& version : {nlohmann::json(2), nlohmann::json(0), nlohmann::json("1"),
                                        nlohmann::json(1.5), nlohmann::json(nullptr)}) {
    nlohmann::json other = saved;
    other["instasent_checkpoint"] = version;
    write_file(path, other.dump(2));
    EXPECT_THROW(Checkpoint::load(path), UsageError) << version;
  }
  nlohmann::json unversioned = saved;
  unversioned.erase("instasent_checkpoint");
  write_file(path, unversioned.dump(2));
  EXPECT_THROW(Checkpoint::load(path), UsageError);
}

// A checkpoint takes a few hundred bytes; a file over 64 KiB is not one, even when it would parse
// as one (here: a checkpoint after 64 KiB of blanks), and is refused without being parsed. Up to
// the limit it is read.
TEST(Checkpoint, AFileOverTheSizeLimitIsRefusedEvenWhenItWouldParse) {
  ScratchDir dir;
  const std::string path = dir.file("checkpoint.json");
  Checkpoint checkpoint;
  checkpoint.input = InputIdentity{"in.ndjson", 100, "00ff", 100};
  checkpoint.line = 42;
  checkpoint.save(path);
  const std::string saved = read_file(path);
  constexpr std::size_t kLimit = std::size_t{64} << 10;
  write_file(path, std::string(kLimit - saved.size(), ' ') + saved);
  const auto at_the_limit = Checkpoint::load(path);
  ASSERT_TRUE(at_the_limit);
  EXPECT_EQ(at_the_limit->line, 42u);
  write_file(path, std::string(kLimit + 1 - saved.size(), ' ') + saved);
  EXPECT_THROW(Checkpoint::load(path), UsageError);
}

// Two inputs whose heads have the same 64-bit FNV-1a hash and differ in length: each is one
// contact line, the second with a blank before its line break (found by a collision search; the
// hash is not meant to resist one). Read from standard input, where the size is unknown, only
// the head's length tells them apart.
TEST(InputIdentity, HeadsOfDifferentLengthsDifferEvenWhenTheirHashesAgree) {
  ScratchDir dir;
  write_file(dir.file("a.ndjson"), "{\"_user_id\":\"d79241b9d8182824\"}\n");
  write_file(dir.file("b.ndjson"), "{\"_user_id\":\"6a9c91ff25cb8745\"} \n");
  const LineSource a(dir.file("a.ndjson"));
  const LineSource b(dir.file("b.ndjson"));
  ASSERT_EQ(a.head_hash(), b.head_hash());  // the collision
  ASSERT_EQ(a.head_bytes(), 32u);
  ASSERT_EQ(b.head_bytes(), 33u);
  const InputIdentity first{"-", std::nullopt, a.head_hash(), a.head_bytes()};
  const InputIdentity second{"-", std::nullopt, b.head_hash(), b.head_bytes()};
  EXPECT_NE(first.difference(second).find("33 bytes differ"), std::string::npos)
      << first.difference(second);
  EXPECT_FALSE(second.difference(first).empty());
  EXPECT_TRUE(first.difference(first).empty());
}

TEST(RejectsWriter, WritesRecordsAndKeepsConfirmedOnesWhenResuming) {
  ScratchDir dir;
  const std::string path = dir.file("rejects.ndjson");
  {
    RejectsWriter rejects(path, std::nullopt);
    rejects.write(3, R"({"_user_id":"U3"})", {{"_email", {"Invalid format"}}});
    rejects.write(9, R"("raw line")", {{"", {"is not valid JSON"}}});
    rejects.write(5, R"({"_user_id":"U5"})", {{"", {"a", "b"}}});
    rejects.sync();
  }
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0]),
            nlohmann::json::parse(
                R"({"line":3,"item":{"_user_id":"U3"},"errors":{"_email":["Invalid format"]}})"));
  // A crash left half a record; resuming after line 5 keeps lines 3 and 5 only.
  write_file(path, read_file(path) + "{\"line\":11,\"it");
  {
    RejectsWriter rejects(path, 5);
    rejects.write(7, R"({"_user_id":"U7"})", {{"x", {"y"}}});
  }
  lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["line"], 3);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["line"], 5);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["line"], 7);
  // A fresh import starts the file over.
  { RejectsWriter rejects(path, std::nullopt); }
  EXPECT_EQ(read_file(path), "");
}

// Rejects go to the file as they come, a buffer at a time, not all at the end: memory stays
// bounded however many lines are bad, and an import that is killed leaves what it had written.
// With 1 MiB of records written and nothing synced, all but the last 64 KiB are in the file.
TEST(RejectsWriter, WritesOutAsItGoesNotOnlyWhenSyncedOrClosed) {
  ScratchDir dir;
  const std::string path = dir.file("rejects.ndjson");
  const std::string item = "\"" + std::string(1'000, 'x') + "\"";  // an unreadable line's text
  RejectsWriter rejects(path, std::nullopt);
  std::uint64_t line = 0;
  std::size_t written = 0;
  while (written < (std::size_t{1} << 20)) {
    rejects.write(++line, item, {{"", {"is not valid JSON"}}});
    written += item.size() + 50;  // a little under the record's size
  }
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_GE(static_cast<std::size_t>(info.st_size), written - (std::size_t{64} << 10) - 1'000)
      << "of about " << written << " bytes written";
  // Whole records: what the file holds so far reads back line by line.
  const auto records = lines_of(read_file(path));
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(nlohmann::json::parse(records.front())["line"], 1);
  EXPECT_EQ(nlohmann::json::parse(records.back())["line"], records.size());
  rejects.sync();
  EXPECT_EQ(lines_of(read_file(path)).size(), line);
}

}  // namespace
}  // namespace instasent::cli
