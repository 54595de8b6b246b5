// SPDX-License-Identifier: Apache-2.0
// The Ingestor's durable spool: what close() gives up, a process killed with SIGKILL, torn
// records, a full spool under each overflow policy, one ingestor per directory.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "ingestor/ingestor_support.hpp"
#include "spool_format.hpp"
#include "support/raw_server.hpp"
#include "support/scratch_dir.hpp"

namespace instasent::ingestor_testing {
namespace {

namespace fs = std::filesystem;

// A fresh directory for a spool, removed at the end of the test.
class TempDir : public test_support::ScratchDir {
 public:
  TempDir() : ScratchDir("instasent-spool") {}
  // The spool's segment files, oldest first.
  std::vector<fs::path> segments() const {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(path())) {
      if (entry.path().extension() == ".log") found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
  }
};

IngestorOptions spool_options(const TempDir& dir) {
  IngestorOptions options;
  options.spool.directory = dir.path();
  return options;
}

// Adds `count` events E<first>.. with the server unreachable and closes at once: each is kept in
// the spool, with what an earlier run left there.
void leave_in_spool(const TempDir& dir, int first, int count) {
  IngestorOptions options = spool_options(dir);
  Outcomes seen;
  options.on_outcome = seen.callback();
  {
    const RefusingPort down;
    Ingestor ingestor(client_for(down.port()), options);
    for (int i = first; i < first + count; ++i) {
      ASSERT_TRUE(
          ingestor.add(Event("U" + std::to_string(i % 7), "E" + std::to_string(i), "purchase"),
                       static_cast<std::uint64_t>(i)));
    }
    const auto left = ingestor.close(milliseconds(100));
    // What was read back from the spool was queued and given up with the new items; the rest
    // stays in the spool unreported.
    const std::uint64_t replayed = ingestor.stats().replayed;
    ASSERT_EQ(left.size(), count + replayed);
    for (const ItemOutcome& outcome : left) {
      EXPECT_EQ(outcome.drop_reason, DropReason::shutdown);
      EXPECT_TRUE(outcome.kept_in_spool) << outcome.event_id;
    }
  }
  EXPECT_GE(seen.count(FinalState::dropped), static_cast<std::size_t>(count));
}

// Opens an ingestor on the spool against `server`, waits until everything is final, closes it;
// returns its stats. Outcomes and spool warnings are recorded where asked.
IngestorStats drain(const TempDir& dir, const RunningEmulator& server, Outcomes* seen = nullptr,
                    std::vector<std::string>* warnings = nullptr) {
  IngestorOptions options = spool_options(dir);
  if (seen != nullptr) options.on_outcome = seen->callback();
  if (warnings != nullptr) {
    options.spool.on_warning = [warnings](const std::string& message) {
      warnings->push_back(message);
    };
  }
  Ingestor ingestor(client_for(server.port()), options);
  EXPECT_TRUE(ingestor.flush(milliseconds(60'000)));
  IngestorStats stats = ingestor.stats();
  EXPECT_TRUE(ingestor.close(milliseconds(1'000)).empty());
  return stats;
}

// The ids of the events E<first>.. that `count` names, but `missing` (when given).
std::set<std::string> event_ids(int first, int count, const std::string& missing = "") {
  std::set<std::string> ids;
  for (int i = first; i < first + count; ++i) ids.insert("E" + std::to_string(i));
  ids.erase(missing);
  return ids;
}

// `dir` drained into a fresh emulator (see drain()), with what the ingestor reported.
struct Drained {
  explicit Drained(const TempDir& dir) : stats(drain(dir, server, &seen, &warnings)) {}

  RunningEmulator server;
  Outcomes seen;
  std::vector<std::string> warnings;
  IngestorStats stats;
};

TEST(IngestorSpool, WhatCloseGaveUpIsSentByTheNextIngestor) {
  TempDir dir;
  leave_in_spool(dir, 0, 250);
  RunningEmulator server;
  Outcomes seen;
  const IngestorStats stats = drain(dir, server, &seen);
  EXPECT_EQ(stats.replayed, 250u);
  EXPECT_EQ(stats.delivered, 250u);
  EXPECT_EQ(stored_event_ids(server), event_ids(0, 250));
  {
    // Each replayed item is reported with the tag it was added with.
    std::lock_guard<std::mutex> lock(seen.mutex);
    ASSERT_EQ(seen.by_key.size(), 250u);
    for (const auto& [key, list] : seen.by_key) {
      EXPECT_EQ("e:E" + std::to_string(list.at(0).tag), key);
    }
  }
  // Delivered items are forgotten: the next ingestor finds nothing, and old segments are gone.
  EXPECT_EQ(drain(dir, server).replayed, 0u);
  EXPECT_EQ(dir.segments().size(), 1u);
}

std::string read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// A final state is written only for an item whose segment is still there: a segment is deleted
// once its last item is final, and its records with it, so final states for its items would
// only take room in the spool (and bring it closer to full).
TEST(IngestorSpool, NoFinalStateIsWrittenForItemsOfADeletedSegment) {
  TempDir dir;
  leave_in_spool(dir, 0, 50);  // one segment, replayed in one batch
  RunningEmulator server;
  const IngestorStats stats = drain(dir, server);
  EXPECT_EQ(stats.delivered, 50u);
  // The batch made the whole segment final: it is gone, and the segment the drain wrote holds
  // only its magic.
  const auto segments = dir.segments();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].filename(), "segment-00000000000000000002.log");
  EXPECT_EQ(read_bytes(segments[0]), detail::spool_format::kMagic);
  EXPECT_EQ(stats.spool_bytes, detail::spool_format::kMagic.size());
}

TEST(IngestorSpool, ATornTailIsSkippedAndWhatPrecedesItIsReplayed) {
  TempDir dir;
  // The last record loses its final bytes, as a crash in the middle of a write leaves it; the
  // next run replays what precedes it and adds more, and its segment then gets garbage after its
  // last record.
  leave_in_spool(dir, 0, 40);
  const fs::path first = dir.segments().at(0);
  fs::resize_file(first, fs::file_size(first) - 3);
  leave_in_spool(dir, 40, 40);
  const auto segments = dir.segments();
  ASSERT_EQ(segments.size(), 2u);
  {
    std::ofstream tail(segments[1], std::ios::binary | std::ios::app);
    tail << std::string("\x13\x00\x00\x00garbage", 11);
  }
  RunningEmulator server;
  const IngestorStats stats = drain(dir, server);
  EXPECT_EQ(stats.replayed, 79u);
  EXPECT_GT(stats.spool_skipped_bytes, 10u);
  // E39's record was the torn one.
  EXPECT_EQ(stored_event_ids(server), event_ids(0, 80, "E39"));
}

// Overwrites with `value` the byte `offset` bytes into the first occurrence of `text` in the
// spool's first segment (its last occurrence when `last`); false when `text` is not there.
bool overwrite_in_first_segment(const TempDir& dir, const std::string& text, std::size_t offset,
                                char value, bool last = false) {
  const fs::path segment = dir.segments().at(0);
  const std::string bytes = read_bytes(segment);
  const auto at = last ? bytes.rfind(text) : bytes.find(text);
  if (at == std::string::npos) return false;
  std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(static_cast<std::streamoff>(at + offset));
  file.put(value);
  return true;
}

TEST(IngestorSpool, AFlippedByteInTheLastRecordIsNeverTrustedAndTheItemIsReported) {
  TempDir dir;
  leave_in_spool(dir, 0, 40);
  // The last event's JSON gets another, still valid id: only the checksum can tell.
  ASSERT_TRUE(overwrite_in_first_segment(dir, "\"E39\"", 3, 'X', /*last=*/true));
  Drained drained(dir);
  auto& [server, seen, warnings, stats] = drained;
  EXPECT_EQ(stats.replayed, 39u);
  EXPECT_EQ(stats.spool_damaged_records, 1u);
  EXPECT_EQ(stats.dropped_spool_damaged, 1u);
  EXPECT_EQ(stored_event_ids(server), event_ids(0, 40, "E39"));
  std::lock_guard<std::mutex> lock(seen.mutex);
  const ItemOutcome& lost = seen.by_key.at("e:E39").at(0);
  EXPECT_EQ(lost.drop_reason, DropReason::spool_damaged);
  EXPECT_EQ(lost.tag, 39u);
  EXPECT_EQ(lost.user_id, "U4");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 damaged record"), std::string::npos) << warnings[0];
}

// One flipped byte in the middle of a segment used to end its reading there: every record after
// it was lost, unreported. Now it costs its own record, which is reported by its key.
TEST(IngestorSpool, AFlippedByteInTheMiddleCostsOnlyItsRecord) {
  TempDir dir;
  leave_in_spool(dir, 0, 200);
  ASSERT_TRUE(overwrite_in_first_segment(dir, "\"E57\"", 2, '8'));  // "E87": a valid, different id
  Drained drained(dir);
  auto& [server, seen, warnings, stats] = drained;
  EXPECT_EQ(stats.replayed, 199u);
  EXPECT_EQ(stats.dropped_spool_damaged, 1u);
  EXPECT_EQ(stored_event_ids(server), event_ids(0, 200, "E57"));
  {
    std::lock_guard<std::mutex> lock(seen.mutex);
    EXPECT_EQ(seen.by_key.at("e:E57").at(0).drop_reason, DropReason::spool_damaged);
    EXPECT_EQ(seen.by_key.at("e:E57").at(0).tag, 57u);
    EXPECT_EQ(seen.by_key.at("e:E87").size(), 1u);  // delivered once, not twice
  }
  // Reported once: the next ingestor finds nothing left.
  EXPECT_EQ(drain(dir, server).dropped_spool_damaged, 0u);
}

TEST(IngestorSpool, DamageToAKeyIsCountedAndWarnedAbout) {
  TempDir dir;
  leave_in_spool(dir, 0, 50);
  ASSERT_TRUE(overwrite_in_first_segment(dir, "U3", 1, '9'));  // a user id: inside the key of E3
  Drained drained(dir);
  auto& [server, seen, warnings, stats] = drained;
  EXPECT_EQ(stats.replayed, 49u);
  EXPECT_EQ(stats.spool_damaged_records, 1u);
  EXPECT_EQ(stats.dropped_spool_damaged, 0u);  // nothing left to name it by
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(IngestorSpool, OneIngestorPerDirectory) {
  TempDir dir;
  RunningEmulator server;
  Ingestor first(client_for(server.port()), spool_options(dir));
  try {
    Ingestor second(client_for(server.port()), spool_options(dir));
    FAIL() << "a second ingestor opened the same spool";
  } catch (const InvalidInputError& error) {
    EXPECT_EQ(error.field(), "spool.directory");
  }
  first.close(milliseconds(1'000));
  // Closing releases the directory.
  Ingestor third(client_for(server.port()), spool_options(dir));
}

TEST(IngestorSpool, FilesThatAreNotSegmentsAreLeftAloneWithAWarning) {
  TempDir dir;
  leave_in_spool(dir, 0, 10);
  const std::string d = dir.path() + "/";
  const std::vector<std::string> strays = {
      "segment-1.log",                         // too few digits
      "segment-00000000000000000001.log.bak",  // an editor's backup
      "notes.txt",                             // anything else
      "segment-99999999999999999999.log",      // a number past any segment's
      "segment-18446744073709551615.log",      // the largest 64-bit number
      "segment-0000000000000000000x.log",      // not a number
  };
  for (const std::string& name : strays) {
    std::ofstream(d + name) << "stray";
  }
  fs::create_directory(d + "segment-00000000000000000077.log");             // a directory
  fs::create_symlink("/dev/zero", d + "segment-00000000000000000078.log");  // an endless file
  Drained drained(dir);
  auto& [server, seen, warnings, stats] = drained;
  EXPECT_EQ(stats.replayed, 10u);
  EXPECT_EQ(stats.spool_unknown_files, strays.size() + 2);
  EXPECT_EQ(warnings.size(), strays.size() + 2);
  for (const std::string& name : strays) {
    EXPECT_TRUE(fs::exists(d + name)) << name;  // left alone
  }
  EXPECT_TRUE(fs::is_directory(d + "segment-00000000000000000077.log"));
  EXPECT_TRUE(fs::is_symlink(d + "segment-00000000000000000078.log"));
  // The next segment is numbered after the spool's own, not after a stray: no wrap to 0.
  EXPECT_TRUE(fs::exists(d + "segment-00000000000000000002.log"));
  EXPECT_FALSE(fs::exists(d + "segment-00000000000000000000.log"));
}

TEST(IngestorSpool, SegmentsAtTheLargestNumberAreRenumberedNotWrapped) {
  TempDir dir;
  leave_in_spool(dir, 0, 10);
  const fs::path first = dir.segments().at(0);
  fs::rename(first, dir.path() + "/segment-01000000000000000000.log");
  leave_in_spool(dir, 10, 10);  // replays the 10, and writes a segment after them
  const auto segments = dir.segments();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].filename(), "segment-00000000000000000001.log");
  EXPECT_EQ(segments[1].filename(), "segment-00000000000000000002.log");
  RunningEmulator server;
  EXPECT_EQ(drain(dir, server).replayed, 20u);
  EXPECT_EQ(stored_event_ids(server), event_ids(0, 20));
  EXPECT_EQ(drain(dir, server).replayed, 0u);  // the same items never come back
}

// Writes larger than 0 bytes fail with EFBIG while this lives (as a full disk fails them with
// ENOSPC); SIGXFSZ is ignored meanwhile, as it would kill the process.
class NoRoomForWrites {
 public:
  NoRoomForWrites() {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit none = old_;
    none.rlim_cur = 0;
    setrlimit(RLIMIT_FSIZE, &none);
  }
  ~NoRoomForWrites() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(IngestorSpool, WithNoRoomToWriteItStillOpensAndSendsWhatWasSpooled) {
  TempDir dir;
  leave_in_spool(dir, 0, 30);
  RunningEmulator server;
  Outcomes seen;
  IngestorOptions options = spool_options(dir);
  options.on_outcome = seen.callback();
  {
    std::optional<NoRoomForWrites> full(std::in_place);
    Ingestor ingestor(client_for(server.port()), options);  // does not throw
    const AddResult refused = ingestor.add(Event("U1", "NEW1", "purchase"));
    EXPECT_EQ(refused.status, AddStatus::queue_full);
    EXPECT_NE(refused.reason.find("cannot be written"), std::string::npos) << refused.reason;
    ASSERT_TRUE(ingestor.flush(milliseconds(30'000)));
    EXPECT_EQ(ingestor.stats().delivered, 30u);  // sending freed the old segment
    EXPECT_EQ(ingestor.stats().spool_bytes, 0u);
    full.reset();  // room again: the next add starts a segment
    EXPECT_TRUE(ingestor.add(Event("U1", "NEW2", "purchase")));
    ASSERT_TRUE(ingestor.flush(milliseconds(30'000)));
    EXPECT_EQ(ingestor.stats().delivered, 31u);
  }
  std::set<std::string> expected = event_ids(0, 30);
  expected.insert("NEW2");
  EXPECT_EQ(stored_event_ids(server), expected);
}

// Fills a spool of `max_bytes` while the server is unreachable (after one failed request the
// senders back off for a minute, so the items stay queued); returns how many were accepted.
int fill_spool(Ingestor& ingestor) {
  int accepted = 0;
  for (int i = 0; i < 100'000; ++i) {
    const AddResult result = ingestor.add(Event("U1", "E" + std::to_string(i), "purchase"));
    if (!result) {
      EXPECT_EQ(result.status, AddStatus::queue_full);
      EXPECT_EQ(result.reason, "the spool is full");
      return accepted;
    }
    ++accepted;
  }
  ADD_FAILURE() << "the spool never filled";
  return accepted;
}

IngestorOptions small_spool(const TempDir& dir, OverflowPolicy policy) {
  IngestorOptions options = spool_options(dir);
  options.spool.max_bytes = 200 << 10;  // segments of 64 KiB
  options.spool.sync = SpoolSync::none;
  options.queue.overflow = policy;
  options.retry.initial_backoff = options.retry.max_backoff = milliseconds(60'000);
  options.flush_interval = milliseconds(60'000);
  options.shutdown_deadline = milliseconds(100);
  return options;
}

TEST(IngestorSpool, AFullSpoolRejectsTheNewItem) {
  TempDir dir;
  const RefusingPort down;
  Ingestor ingestor(client_for(down.port()), small_spool(dir, OverflowPolicy::reject_new));
  const int accepted = fill_spool(ingestor);
  EXPECT_GT(accepted, 1'000);
  const IngestorStats stats = ingestor.stats();
  EXPECT_LE(stats.spool_bytes, 200u << 10);
  EXPECT_GT(stats.spool_bytes, 150u << 10);
  EXPECT_EQ(stats.dropped_queue_full, 1u);
  EXPECT_EQ(stats.enqueued, static_cast<std::uint64_t>(accepted));
}

TEST(IngestorSpool, AFullSpoolBlocksUpToTheTimeout) {
  TempDir dir;
  IngestorOptions options = small_spool(dir, OverflowPolicy::block);
  options.queue.block_timeout = milliseconds(150);
  const RefusingPort down;
  Ingestor ingestor(client_for(down.port()), options);
  const auto start = steady_clock::now();
  fill_spool(ingestor);
  EXPECT_GE(steady_clock::now() - start, milliseconds(150));
}

TEST(IngestorSpool, AFullSpoolDropsTheOldestSegmentWhenAsked) {
  TempDir dir;
  Outcomes seen;
  IngestorOptions options = small_spool(dir, OverflowPolicy::drop_oldest);
  options.on_outcome = seen.callback();
  const RefusingPort down;
  Ingestor ingestor(client_for(down.port()), options);
  // The oldest segment can be dropped only while none of its items is in a request. So that no
  // request is in flight when the spool fills up: 800 items go out in 8 full batches, and after
  // 8 failed requests in a row the queue waits (30 s at least with these backoffs).
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(ingestor.add(Event("U1", "E" + std::to_string(i), "purchase"))) << i;
  }
  const auto give_up = std::chrono::steady_clock::now() + milliseconds(10'000);
  for (IngestorStats now = ingestor.stats(); now.requests < 8 || now.in_flight > 0;
       now = ingestor.stats()) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the 8 requests did not all fail";
    std::this_thread::sleep_for(milliseconds(1));
  }
  for (int i = 800; i < 5'000; ++i) {
    ASSERT_TRUE(ingestor.add(Event("U1", "E" + std::to_string(i), "purchase"))) << i;
  }
  const IngestorStats stats = ingestor.stats();
  EXPECT_EQ(stats.requests, 8u);
  EXPECT_LE(stats.spool_bytes, 200u << 10);
  EXPECT_GT(stats.dropped_queue_full, 0u);
  // The dropped ones are the oldest, and each was reported.
  EXPECT_EQ(seen.count(FinalState::dropped), stats.dropped_queue_full);
  std::lock_guard<std::mutex> lock(seen.mutex);
  EXPECT_EQ(seen.by_key.count("e:E0"), 1u);
  EXPECT_EQ(seen.by_key.count("e:E4999"), 0u);
}

// An item pushed out of a full queue is reported dropped at once, so its final state must be on
// disk by then: a crash right after must not let the next ingestor send it after all.
TEST(IngestorSpool, AnItemPushedOutOfTheQueueIsFinalInTheSpoolAtOnce) {
  TempDir dir;
  Outcomes seen;
  IngestorOptions options = spool_options(dir);
  options.on_outcome = seen.callback();
  options.queue.max_items = 2;
  options.queue.overflow = OverflowPolicy::drop_oldest;
  options.flush_interval = milliseconds(3'600'000);  // nothing is sent: no sender writes
  const RefusingPort down;
  Ingestor ingestor(client_for(down.port()), options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ingestor.add(Event("U" + std::to_string(i), "E" + std::to_string(i), "purchase")));
  }
  ASSERT_EQ(ingestor.stats().dropped_queue_full, 1u);
  {
    std::lock_guard<std::mutex> lock(seen.mutex);
    ASSERT_EQ(seen.by_key.at("e:E0").at(0).drop_reason, DropReason::queue_full);
  }
  // What a crash now would leave behind: a copy of the segments as they are on disk.
  TempDir crashed;
  for (const fs::path& segment : dir.segments()) {
    fs::copy_file(segment, fs::path(crashed.path()) / segment.filename());
  }
  const Drained drained(crashed);
  EXPECT_EQ(drained.stats.replayed, 2u);
  EXPECT_EQ(stored_event_ids(drained.server), event_ids(1, 2));
  EXPECT_EQ(ingestor.close(milliseconds(100)).size(), 2u);
}

// A spool record holds at most 64 MiB: with a spool, an item whose record would be larger is
// refused at add (it could be written, but would be read back as damage and lost), even when
// batch.max_bytes allows it; the largest that fits is kept and replayed whole.
TEST(IngestorSpool, AnItemLargerThanASpoolRecordIsRefusedAndTheLargestThatFitsIsReplayed) {
  TempDir dir;
  IngestorOptions options = spool_options(dir);
  options.batch.max_bytes = 100u << 20;
  options.queue.max_bytes = 100u << 20;
  options.flush_interval = milliseconds(3'600'000);
  // A record's payload is 34 bytes and the user id on top of the JSON (no event id: a contact).
  const std::size_t largest_json = detail::spool_format::kMaxRecordBytes - 34 - 4;
  const auto contact_of_size = [](const std::string& id, std::size_t size) {
    Contact contact(id);
    contact.attribute("note", "");
    const std::size_t bare = contact.to_json().size();
    contact.attribute("note", std::string(size - bare, 'x'));
    return contact;
  };
  {
    const RefusingPort down;
    Ingestor ingestor(client_for(down.port()), options);
    const AddResult over = ingestor.add(contact_of_size("OVER", largest_json + 1));
    EXPECT_EQ(over.status, AddStatus::invalid);
    EXPECT_NE(over.reason.find("spool record"), std::string::npos) << over.reason;
    EXPECT_EQ(ingestor.stats().dropped_invalid, 1u);
    const AddResult fits = ingestor.add(contact_of_size("FITS", largest_json));
    EXPECT_TRUE(fits) << fits.reason;
    EXPECT_EQ(ingestor.close(milliseconds(100)).size(), 1u);
  }
  const RefusingPort down;
  Ingestor again(client_for(down.port()), spool_options(dir));
  const IngestorStats stats = wait_for_replay(again);
  EXPECT_EQ(stats.replayed, 1u);
  EXPECT_EQ(stats.spool_damaged_records, 0u);
  EXPECT_EQ(stats.dropped_spool_damaged, 0u);
  EXPECT_EQ(stats.spool_unknown_files, 0u);
  const auto left = again.close(milliseconds(100));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].user_id, "FITS");
}

// One run of the producer: it adds events (and contacts) from `first` on with the spool in `dir`
// until it has printed `lines` accepted items, and is then killed with SIGKILL. Returns the keys
// it printed. `sync` is the spool's sync mode and interval, as spool_writer takes them.
std::vector<std::string> run_and_kill(const TempDir& dir, int port, int first, int lines,
                                      const std::vector<std::string>& sync = {}) {
  std::vector<std::string> args{"http://127.0.0.1:" + std::to_string(port) + "/v1", dir.path(),
                                std::to_string(first), "100000"};
  args.insert(args.end(), sync.begin(), sync.end());
  EmulatorProcess writer(args, SPOOL_WRITER_PATH);
  std::vector<std::string> keys;
  while (static_cast<int>(keys.size()) < lines) {
    const auto line = writer.read_stdout_line(milliseconds(30'000));
    if (!line) {
      ADD_FAILURE() << "the producer stopped: " << writer.read_stderr(milliseconds(100));
      return keys;
    }
    keys.push_back(*line);
  }
  writer.send_signal(SIGKILL);
  // What it printed before it died counts too.
  std::istringstream rest(writer.read_stdout(milliseconds(10'000)));
  for (std::string line; std::getline(rest, line);) {
    if (line != "done") keys.push_back(line);
  }
  const auto status = writer.wait_for_exit(milliseconds(10'000));
  EXPECT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  return keys;
}

// Leaves `count` items in a spool of small segments (128 KiB: several segments for a few
// thousand items), added with the server unreachable and given up at once: contacts (U<i % users>,
// "step" = i) or events (E<i>).
void leave_backlog(const TempDir& dir, int count, bool contacts, int users = 7) {
  IngestorOptions options = spool_options(dir);
  options.spool.max_bytes = 1u << 20;
  options.queue.max_items = static_cast<std::size_t>(count);
  const RefusingPort down;
  Ingestor ingestor(client_for(down.port()), options);
  for (int i = 0; i < count; ++i) {
    const std::string user = "U" + std::to_string(i % users);
    const AddResult added = contacts
                                ? ingestor.add(Contact(user).attribute("step", i))
                                : ingestor.add(Event(user, "E" + std::to_string(i), "purchase"));
    ASSERT_TRUE(added) << added.reason;
  }
  ingestor.close(milliseconds(0));
}

// Reading a spool back holds the queue's bounds, not the backlog: with the server down, no more
// than the queue and the requests can hold is read back, the rest waits in the spool, close
// reports only what it gave up from the queue, and nothing is lost for the next ingestor.
TEST(IngestorSpool, ReplayReadsTheBacklogWithinTheQueueBounds) {
  TempDir dir;
  leave_backlog(dir, 3'000, /*contacts=*/false);
  ASSERT_GE(dir.segments().size(), 3u) << "the backlog should span several segments";
  {
    IngestorOptions options = spool_options(dir);
    options.spool.max_bytes = 1u << 20;
    options.queue.max_items = 100;
    const RefusingPort down;
    Ingestor ingestor(client_for(down.port()), options);
    const auto give_up = std::chrono::steady_clock::now() + milliseconds(20'000);
    while (ingestor.stats().retries < 8 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    IngestorStats stats = ingestor.stats();
    ASSERT_GE(stats.retries, 8u);
    // The queue's 100, and at most 4 requests of 100 taken out of it.
    EXPECT_LE(stats.replayed, 500u);
    EXPECT_GT(stats.replay_pending, 2'000u);
    EXPECT_EQ(stats.replayed + stats.replay_pending, 3'000u);
    const auto left = ingestor.close(milliseconds(100));
    stats = ingestor.stats();
    EXPECT_EQ(left.size(), stats.replayed) << "what was not read back is not reported";
    for (const ItemOutcome& outcome : left) EXPECT_TRUE(outcome.kept_in_spool);
  }
  const Drained drained(dir);
  EXPECT_EQ(drained.stats.replayed, 3'000u);
  EXPECT_EQ(drained.stats.replay_pending, 0u);
  EXPECT_EQ(stored_event_ids(drained.server), event_ids(0, 3'000));
}

// Items added while the spool is read back wait until it is, so that none overtakes an earlier
// item of its user: each user's last step is the one added last.
TEST(IngestorSpool, ItemsAddedDuringReplayComeAfterTheirUsersEarlierItems) {
  TempDir dir;
  leave_backlog(dir, 1'000, /*contacts=*/true, /*users=*/10);
  Config config = test_config();
  config.faults.slow = 1.0;
  config.faults.slow_ms = 5;
  RunningEmulator server(config);
  IngestorOptions options = spool_options(dir);
  options.queue.max_items = 20;
  Outcomes seen;
  options.on_outcome = seen.callback();
  Ingestor ingestor(client_for(server.port()), options);
  ASSERT_GT(ingestor.stats().replay_pending, 0u) << "the test needs replay under way";
  for (int user = 0; user < 10; ++user) {
    ASSERT_TRUE(ingestor.add(Contact("U" + std::to_string(user)).attribute("step", -1)));
  }
  EXPECT_EQ(ingestor.stats().enqueued, ingestor.stats().replayed + 10);
  ASSERT_TRUE(ingestor.flush(milliseconds(120'000)));
  const IngestorStats stats = ingestor.stats();
  EXPECT_EQ(stats.replayed, 1'000u);
  EXPECT_EQ(stats.delivered, 1'010u);
  EXPECT_EQ(seen.count(FinalState::delivered), 1'010u);
  for (int user = 0; user < 10; ++user) {
    EXPECT_EQ(server.state()["contacts"]["U" + std::to_string(user)]["step"], -1) << user;
  }
}

// While the spool is read back, added items wait within the queue's bounds: past them add
// refuses (queue_full), under drop_oldest too, since the oldest items are still in the spool.
TEST(IngestorSpool, WhileReplayingAddedItemsWaitWithinTheQueueBounds) {
  for (const OverflowPolicy policy : {OverflowPolicy::reject_new, OverflowPolicy::drop_oldest}) {
    TempDir dir;
    leave_backlog(dir, 500, /*contacts=*/false);
    IngestorOptions options = spool_options(dir);
    options.queue.max_items = 10;
    options.queue.overflow = policy;
    const RefusingPort down;
    Ingestor ingestor(client_for(down.port()), options);
    for (int i = 0; i < 10; ++i) {
      const AddResult added = ingestor.add(Event("NEW", "N" + std::to_string(i), "purchase"));
      ASSERT_TRUE(added) << added.reason;
    }
    const AddResult refused = ingestor.add(Event("NEW", "N10", "purchase"));
    EXPECT_EQ(refused.status, AddStatus::queue_full);
    const IngestorStats stats = ingestor.stats();
    EXPECT_GT(stats.replay_pending, 0u);
    EXPECT_EQ(stats.dropped_queue_full, 1u);
    // Given up at close: the 10 added are reported, with what was read back.
    const auto left = ingestor.close(milliseconds(50));
    EXPECT_EQ(left.size(), ingestor.stats().replayed + 10);
  }
}

TEST(IngestorSpool, NothingAcceptedIsLostWhenTheProcessIsKilled) {
  Config config = test_config();
  config.faults.slow = 1.0;  // every answer takes a while, so much is queued or in flight
  config.faults.slow_ms = 20;
  RunningEmulator server(config);
  TempDir dir;

  // Killed twice mid-stream; the second run replays what the first left, then adds more.
  std::vector<std::string> accepted = run_and_kill(dir, server.port(), 0, 3'000);
  const auto second = run_and_kill(dir, server.port(), 100'000, 3'000);
  accepted.insert(accepted.end(), second.begin(), second.end());

  ASSERT_TRUE(server.client().Post("/_emulator/faults", R"({"slow": 0})", "application/json"));
  const IngestorStats stats = drain(dir, server);
  EXPECT_GT(stats.replayed, 0u) << "the kills should leave items in the spool";
  std::cout << "items replayed after the kills: " << stats.replayed << "\n";

  std::set<std::string> accepted_events;
  std::set<std::string> accepted_users;
  for (const std::string& key : accepted) {
    (key.rfind("e:", 0) == 0 ? accepted_events : accepted_users).insert(key.substr(2));
  }
  const std::set<std::string> stored = stored_event_ids(server);
  for (const std::string& id : accepted_events) EXPECT_EQ(stored.count(id), 1u) << id;
  // Stored but never reported accepted: at most the one item per kill that was accepted but
  // not printed yet.
  EXPECT_LE(stored.size(), accepted_events.size() + 2);
  const auto contacts = server.state()["contacts"];
  for (const std::string& user : accepted_users) EXPECT_TRUE(contacts.contains(user)) << user;

  // Resent because the process died between the answer and noting it: at most what was in
  // flight at each kill (4 requests of 100).
  const auto counters = server.admin("stats");
  std::cout << "events resent after the kills: " << counters["duplicateEvents"] << "\n";
  EXPECT_LE(counters["duplicateEvents"].get<int>(), 800);
}

// Whatever the sync mode, a record reaches the operating system before add returns: a process
// killed with SIGKILL loses nothing it was told was accepted. (The modes differ only when the
// machine itself fails, which no test here simulates.)
class IngestorSpoolSync : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(IngestorSpoolSync, NothingAcceptedIsLostWhenTheProcessIsKilled) {
  TempDir dir;
  std::vector<std::string> accepted;
  {
    // A server that never answers: what the producer sends stays in flight until it dies.
    const instasent::testing::RawServer silent([](instasent::testing::RawConnection& connection) {
      while (!connection.stopping()) std::this_thread::sleep_for(milliseconds(10));
    });
    accepted = run_and_kill(dir, silent.port(), 0, 500, GetParam());
  }
  RunningEmulator server(test_config());
  const IngestorStats stats = drain(dir, server);
  EXPECT_EQ(stats.dropped_spool_damaged, 0u);
  std::set<std::string> accepted_events;
  for (const std::string& key : accepted) {
    if (key.rfind("e:", 0) == 0) accepted_events.insert(key.substr(2));
  }
  const std::set<std::string> stored = stored_event_ids(server);
  for (const std::string& id : accepted_events) EXPECT_EQ(stored.count(id), 1u) << id;
}

INSTANTIATE_TEST_SUITE_P(EveryMode, IngestorSpoolSync,
                         ::testing::Values(std::vector<std::string>{"always"},
                                           std::vector<std::string>{"interval", "0"},
                                           std::vector<std::string>{"interval", "60000"},
                                           std::vector<std::string>{"none"}),
                         [](const auto& info) {
                           std::string name;
                           for (const std::string& part : info.param) name += part;
                           return name;
                         });

}  // namespace
}  // namespace instasent::ingestor_testing
