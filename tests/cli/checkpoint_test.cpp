// SPDX-License-Identifier: Apache-2.0
// The confirmed prefix, the checkpoint file and the rejects file.
#include <gtest/gtest.h>

#include "checkpoint.hpp"
#include "cli/cli_support.hpp"
#include "exit_codes.hpp"
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

}  // namespace
}  // namespace instasent::cli
