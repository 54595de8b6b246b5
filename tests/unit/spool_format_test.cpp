// SPDX-License-Identifier: Apache-2.0
// The spool's block format over bytes: every record comes back; damage anywhere costs at most the
// damaged record, never trusts it, and names it when its key survived; torn and zero-filled tails
// and foreign files are told apart; the previous format is still read.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "spool_format.hpp"

namespace instasent::detail::spool_format {
namespace {

struct Written {
  std::string bytes;                // the whole segment
  std::vector<ItemRecord> items;    // in order
  std::vector<std::size_t> starts;  // where each item's record starts in `bytes`
};

ItemRecord item(std::uint64_t id, std::size_t json_bytes) {
  ItemRecord r;
  r.id = id;
  r.op = static_cast<Operation>(id % 3);
  r.tag = id * 1000 + 7;
  r.user_id = "user-" + std::to_string(id);
  r.event_id = id % 3 == 1 ? "event-" + std::to_string(id) : "";
  r.json = "{\"n\":\"" + std::string(json_bytes, static_cast<char>('a' + id % 26)) + "\"}";
  return r;
}

// A segment of items with the given JSON sizes, a final state after every fifth.
Written segment_of(const std::vector<std::size_t>& sizes) {
  Written w;
  w.bytes = std::string(kMagic);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ItemRecord r = item(i + 1, sizes[i]);
    w.starts.push_back(w.bytes.size());
    append_record(w.bytes, w.bytes.size(),
                  item_payload(r.id, r.op, r.tag, r.user_id, r.event_id, r.json));
    if (i % 5 == 4) append_record(w.bytes, w.bytes.size(), done_payload(r.id));
    w.items.push_back(std::move(r));
  }
  return w;
}

void expect_same(const ItemRecord& a, const ItemRecord& b, bool with_json = true) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.event_id, b.event_id);
  if (with_json) {
    EXPECT_EQ(a.json, b.json);
  }
}

// Sizes that put records across block boundaries in every way: tiny, a block, several blocks.
std::vector<std::size_t> mixed_sizes() {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < 30; ++i) {
    sizes.push_back(i % 13 == 0 ? 70'000 : i % 7 == 0 ? kBlockBytes - 40 : 20 + i * 37);
  }
  return sizes;
}

TEST(SpoolFormat, Crc32IsZlibs) {
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  // Every length around the 8-byte steps.
  std::string text;
  std::uint32_t previous = 1;
  for (int i = 0; i < 40; ++i) {
    text.push_back(static_cast<char>(i * 37));
    EXPECT_NE(crc32(text), previous);
    previous = crc32(text);
  }
  EXPECT_EQ(crc32(std::string(1000, 'a')), 0x9A38DA03u);  // zlib.crc32(b"a" * 1000)
}

TEST(SpoolFormat, EveryRecordComesBackWhateverItsSize) {
  const Written w = segment_of(mixed_sizes());
  ASSERT_GT(w.bytes.size(), 5 * kBlockBytes);
  const SegmentContents read = read_segment(w.bytes);
  EXPECT_TRUE(read.recognised);
  ASSERT_EQ(read.items.size(), w.items.size());
  for (std::size_t i = 0; i < w.items.size(); ++i) expect_same(read.items[i], w.items[i]);
  EXPECT_EQ(read.done.size(), w.items.size() / 5);
  EXPECT_EQ(read.damaged_records, 0u);
  EXPECT_EQ(read.skipped_bytes, 0u);
  EXPECT_TRUE(read.damaged.empty());
}

TEST(SpoolFormat, NoChunkCrossesABlock) {
  // Records that leave 0 to 10 bytes at the end of the first block: the padding path.
  for (std::size_t left = 0; left <= 10; ++left) {
    std::string bytes(kMagic);
    const std::size_t json = kBlockBytes - kMagic.size() - kChunkHeaderBytes - 40 - left;
    ItemRecord r = item(1, 0);
    r.json.assign(json, 'x');
    const std::string payload = item_payload(r.id, r.op, r.tag, r.user_id, r.event_id, r.json);
    std::string first;
    append_record(first, bytes.size(), payload);
    bytes += first;
    append_record(bytes, bytes.size(), done_payload(1));
    append_record(bytes, bytes.size(), item_payload(2, r.op, 3, "u", "", "{}"));
    const SegmentContents read = read_segment(bytes);
    ASSERT_EQ(read.items.size(), 2u) << left;
    EXPECT_EQ(read.items[0].json, r.json);
    EXPECT_EQ(read.done.size(), 1u);
    EXPECT_EQ(read.damaged_records, 0u) << left;
  }
}

// One flipped bit anywhere: the damaged record is lost (never trusted) and named when its key
// survived; every other record comes back.
TEST(SpoolFormat, AFlippedBitAnywhereCostsAtMostItsRecord) {
  const Written w = segment_of(mixed_sizes());
  std::size_t named = 0;
  std::size_t checked = 0;
  for (std::size_t at = kMagic.size(); at < w.bytes.size(); at += 331) {
    std::string bytes = w.bytes;
    bytes[at] = static_cast<char>(bytes[at] ^ (1 << (at % 8)));
    const SegmentContents read = read_segment(bytes);
    ++checked;
    ASSERT_TRUE(read.recognised);
    // Which item's record held the byte (padding and final states hold none).
    std::size_t hit = w.items.size();
    for (std::size_t i = 0; i < w.items.size(); ++i) {
      const std::size_t end = i + 1 < w.starts.size() ? w.starts[i + 1] : w.bytes.size();
      if (at >= w.starts[i] && at < end) hit = i;
    }
    std::size_t matched = 0;
    for (const ItemRecord& r : read.items) {
      ASSERT_GE(r.id, 1u);
      expect_same(r, w.items[r.id - 1]);  // nothing damaged is ever trusted
      ++matched;
    }
    EXPECT_GE(matched + 1, w.items.size()) << "flip at " << at;
    if (matched < w.items.size()) {
      EXPECT_EQ(read.damaged_records, 1u) << "flip at " << at;
      for (const ItemRecord& r : read.items) EXPECT_NE(r.id, hit + 1);
    }
    for (const ItemRecord& r : read.damaged) {
      ASSERT_EQ(r.id, hit + 1) << "flip at " << at;
      expect_same(r, w.items[hit], /*with_json=*/false);
      ++named;
    }
  }
  EXPECT_GT(checked, 500u);
  EXPECT_GT(named, checked / 2);  // most bytes are JSON, after an intact key
}

TEST(SpoolFormat, ATornTailLosesTheTornRecordOnly) {
  const Written w = segment_of({100, 200, 40'000, 300});
  const std::size_t last = w.starts.back();
  for (const std::size_t cut : {last + 1, last + 10, last + 60, w.bytes.size() - 1}) {
    const SegmentContents read = read_segment(std::string_view(w.bytes).substr(0, cut));
    ASSERT_EQ(read.items.size(), 3u) << cut;
    EXPECT_GT(read.skipped_bytes, 0u) << cut;
    EXPECT_EQ(read.damaged_records, 1u) << cut;
    if (cut >= last + 60) {  // the key made it to the disk: the item can be named
      ASSERT_EQ(read.damaged.size(), 1u) << cut;
      expect_same(read.damaged[0], w.items[3], false);
    }
  }
  // Cut in the middle of a record that spans blocks.
  const SegmentContents read =
      read_segment(std::string_view(w.bytes).substr(0, w.starts[2] + 35'000));
  EXPECT_EQ(read.items.size(), 2u);
  ASSERT_EQ(read.damaged.size(), 1u);
  EXPECT_EQ(read.damaged[0].id, 3u);
}

TEST(SpoolFormat, AZeroFilledTailCountsAsOneDamagedStretch) {
  Written w = segment_of({100, 200, 300});
  w.bytes.append(3 * kBlockBytes + 123, '\0');  // a power failure can leave this
  const SegmentContents read = read_segment(w.bytes);
  EXPECT_EQ(read.items.size(), 3u);
  EXPECT_EQ(read.damaged_records, 1u);
  EXPECT_TRUE(read.damaged.empty());
}

TEST(SpoolFormat, ADamagedMiddlePartLosesItsRecordAndNamesIt) {
  const Written w = segment_of({100, 100'000, 100});
  std::string bytes = w.bytes;
  bytes[w.starts[1] + 2 * kBlockBytes] ^= 0x40;  // inside the record's middle parts
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 2u);
  EXPECT_EQ(read.items[0].id, 1u);
  EXPECT_EQ(read.items[1].id, 3u);
  ASSERT_EQ(read.damaged.size(), 1u);
  expect_same(read.damaged[0], w.items[1], false);
  EXPECT_EQ(read.damaged_records, 1u);
}

TEST(SpoolFormat, ForeignBytesAreNotASegment) {
  for (const std::string& bytes :
       {std::string(), std::string("ISPOOL"), std::string("not a spool at all"),
        std::string(100'000, '\x01'), std::string("ISPOOL3\n") + std::string(50, 'x')}) {
    const SegmentContents read = read_segment(bytes);
    EXPECT_FALSE(read.recognised);
    EXPECT_TRUE(read.items.empty());
    EXPECT_EQ(read.skipped_bytes, bytes.size());
  }
}

TEST(SpoolFormat, GarbageAfterTheMagicNeverCrashesNorYieldsItems) {
  std::string bytes(kMagic);
  std::uint64_t state = 88172645463325252ull;
  for (int i = 0; i < 200'000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    bytes.push_back(static_cast<char>(state & 0xFF));
  }
  const SegmentContents read = read_segment(bytes);
  EXPECT_TRUE(read.items.empty());
  EXPECT_TRUE(read.done.empty());
  EXPECT_GE(read.damaged_records, 1u);
  // Chunks of ones: every position looks like a header; reading stays linear per block.
  const SegmentContents ones = read_segment(std::string(kMagic) + std::string(200'000, '\x01'));
  EXPECT_TRUE(ones.items.empty());
}

// The format before blocks: u32 length | u32 CRC | payload, with the key unchecked.
TEST(SpoolFormat, SegmentsOfThePreviousFormatAreStillRead) {
  const auto put32 = [](std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  const auto put64 = [&](std::string& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v));
    put32(out, static_cast<std::uint32_t>(v >> 32));
  };
  const auto bytes_of = [&](std::string& out, const std::string& s) {
    put32(out, static_cast<std::uint32_t>(s.size()));
    out += s;
  };
  std::string segment(kMagicV1);
  const auto frame = [&](const std::string& payload) {
    put32(segment, static_cast<std::uint32_t>(payload.size()));
    put32(segment, crc32(payload));
    segment += payload;
  };
  for (std::uint64_t id = 1; id <= 3; ++id) {
    std::string payload = "A";
    put64(payload, id);
    payload.push_back(1);  // record_event
    put64(payload, id + 100);
    bytes_of(payload, "U" + std::to_string(id));
    bytes_of(payload, "E" + std::to_string(id));
    bytes_of(payload, "{}");
    frame(payload);
  }
  std::string done = "D";
  put64(done, 2);
  frame(done);
  const SegmentContents read = read_segment(segment);
  ASSERT_TRUE(read.recognised);
  ASSERT_EQ(read.items.size(), 3u);
  EXPECT_EQ(read.items[2].event_id, "E3");
  EXPECT_EQ(read.items[2].tag, 103u);
  EXPECT_EQ(read.items[2].op, Operation::record_event);
  ASSERT_EQ(read.done.size(), 1u);
  EXPECT_EQ(read.done[0], 2u);
}

}  // namespace
}  // namespace instasent::detail::spool_format
