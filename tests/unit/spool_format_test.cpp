// SPDX-License-Identifier: Apache-2.0
// The spool's block format over bytes: every record comes back; damage anywhere costs at most the
// damaged record, never trusts it, and names it when its key survived; torn and zero-filled tails
// and foreign files are told apart; the previous format is still read.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
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

std::string payload_of(const ItemRecord& r) {
  return item_payload(r.id, r.op, r.tag, r.user_id, r.event_id, r.json);
}

// Item `id` with its JSON (`json_start`, then filler) as long as makes its payload
// `payload_bytes` long: so that its record ends exactly where a test needs it to.
ItemRecord item_sized(std::uint64_t id, std::size_t payload_bytes,
                      std::string_view json_start = "") {
  ItemRecord r = item(id, 0);
  r.json = std::string(json_start);
  r.json.append(payload_bytes - payload_of(r).size(), 'x');
  return r;
}

// The chunk types of the documented layout, and a chunk built by hand from it: CRC-32 of the
// type and payload, u16 payload length, type, payload.
constexpr std::uint8_t kFullChunk = 1;
constexpr std::uint8_t kFirstChunk = 2;

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string chunk(std::uint8_t type, std::string_view payload) {
  std::string typed(1, static_cast<char>(type));
  typed.append(payload);
  std::string out;
  put_le(out, crc32(typed), 4);
  put_le(out, payload.size(), 2);
  return out + typed;
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
  // Records that end from 7 bytes past the first block's end to 3 bytes before it: split across
  // it, ending at it, and the padding path (the next test has those ending 0 to 10 bytes before).
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

// A block with fewer than a chunk header's bytes left is padded with zeros; with exactly a
// header's room (or more) the next record starts there, its first part empty or short. Writer and
// reader must agree on that boundary: a record ending 7 bytes before a block's end is where a
// mismatch would lose the next record (or count it damaged).
TEST(SpoolFormat, ARecordEndingNearABlocksEndIsFollowedByTheNextOne) {
  for (std::size_t left = 0; left <= kChunkHeaderBytes + 3; ++left) {
    SCOPED_TRACE("bytes left in the first block: " + std::to_string(left));
    std::string bytes(kMagic);
    const ItemRecord first = item_sized(1, kBlockBytes - left - kMagic.size() - kChunkHeaderBytes);
    append_record(bytes, bytes.size(), payload_of(first));
    ASSERT_EQ(bytes.size(), kBlockBytes - left);
    const ItemRecord second = item(2, 500);
    const std::string payload = payload_of(second);
    append_record(bytes, bytes.size(), payload);
    append_record(bytes, bytes.size(), done_payload(2));
    const std::string_view tail = std::string_view(bytes).substr(kBlockBytes - left, left);
    if (left < kChunkHeaderBytes) {
      EXPECT_EQ(tail, std::string(left, '\0'));
      EXPECT_EQ(bytes.substr(kBlockBytes, kChunkHeaderBytes + payload.size()),
                chunk(kFullChunk, payload));
    } else {
      EXPECT_EQ(tail,
                chunk(kFirstChunk, std::string_view(payload).substr(0, left - kChunkHeaderBytes)));
    }
    const SegmentContents read = read_segment(bytes);
    ASSERT_EQ(read.items.size(), 2u);
    expect_same(read.items[0], first);
    expect_same(read.items[1], second);
    EXPECT_EQ(read.done, std::vector<std::uint64_t>{2});
    EXPECT_EQ(read.damaged_records, 0u);
    EXPECT_EQ(read.skipped_bytes, 0u);
    EXPECT_TRUE(read.damaged.empty());
  }
}

// A damaged chunk whose length leads exactly to its block's end: reading resumes at the next
// block. Nothing inside the damaged chunk is read as a record, not even bytes that make up an
// intact chunk (an item's JSON may hold any bytes, the spool's own included).
TEST(SpoolFormat, DamageEndingAtABlocksEndResumesAtTheNextBlock) {
  std::string bytes(kMagic);
  const ItemRecord before = item(1, 100);
  append_record(bytes, bytes.size(), payload_of(before));
  const std::size_t start = bytes.size();
  const std::string copied = chunk(kFullChunk, payload_of(item(99, 10)));
  const ItemRecord damaged =
      item_sized(2, kBlockBytes - start - kChunkHeaderBytes, "{\"copy\":\"" + copied);
  append_record(bytes, bytes.size(), payload_of(damaged));
  ASSERT_EQ(bytes.size(), kBlockBytes);
  const ItemRecord third = item(3, 100);
  const ItemRecord fourth = item(4, 2000);
  append_record(bytes, bytes.size(), payload_of(third));
  append_record(bytes, bytes.size(), done_payload(3));
  append_record(bytes, bytes.size(), payload_of(fourth));
  ASSERT_EQ(read_segment(bytes).items.size(), 4u);  // intact, the copy is JSON only

  bytes[start] = static_cast<char>(bytes[start] ^ 0x01);  // the chunk's checksum
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 3u);
  expect_same(read.items[0], before);
  expect_same(read.items[1], third);
  expect_same(read.items[2], fourth);
  EXPECT_EQ(read.done, std::vector<std::uint64_t>{3});
  EXPECT_EQ(read.damaged_records, 1u);
  EXPECT_EQ(read.skipped_bytes, kBlockBytes - start);
  ASSERT_EQ(read.damaged.size(), 1u);
  expect_same(read.damaged[0], damaged, /*with_json=*/false);
}

// A chunk's type is one of the four the format knows: any other (0, as zeroed bytes have) is
// damage even under a valid checksum, counted and skipped, never taken for a chunk.
TEST(SpoolFormat, AChunkOfAnUnknownTypeIsDamageEvenWithAValidChecksum) {
  for (const int type : {0, 5, 255}) {
    SCOPED_TRACE("type " + std::to_string(type));
    std::string bytes(kMagic);
    bytes += chunk(static_cast<std::uint8_t>(type), done_payload(7));
    const ItemRecord after = item(1, 100);
    append_record(bytes, bytes.size(), payload_of(after));
    const SegmentContents read = read_segment(bytes);
    ASSERT_EQ(read.items.size(), 1u);
    expect_same(read.items[0], after);
    EXPECT_TRUE(read.done.empty());
    EXPECT_EQ(read.damaged_records, 1u);
    EXPECT_EQ(read.skipped_bytes, kChunkHeaderBytes + done_payload(7).size());
    EXPECT_TRUE(read.damaged.empty());
  }
}

// A record of a type this reader does not know (a newer writer's) is passed over when intact.
// Damaged, it is counted, but never named as an item, even when an item's key follows its type
// byte: only an item's record names an item.
TEST(SpoolFormat, ADamagedRecordOfAnotherTypeIsNotNamedAsAnItem) {
  const ItemRecord keyed = item(5, 100);
  const ItemRecord after = item(6, 100);
  const auto segment = [&](char record_type) {
    std::string payload = payload_of(keyed);
    payload[0] = record_type;
    std::string bytes(kMagic);
    append_record(bytes, bytes.size(), payload);
    append_record(bytes, bytes.size(), payload_of(after));
    return bytes;
  };
  std::string bytes = segment('Z');
  const SegmentContents intact = read_segment(bytes);
  ASSERT_EQ(intact.items.size(), 1u);
  expect_same(intact.items[0], after);
  EXPECT_EQ(intact.damaged_records, 0u);
  EXPECT_EQ(intact.skipped_bytes, 0u);

  bytes[kMagic.size()] = static_cast<char>(bytes[kMagic.size()] ^ 0x10);  // its checksum
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 1u);
  expect_same(read.items[0], after);
  EXPECT_EQ(read.damaged_records, 1u);
  EXPECT_EQ(read.skipped_bytes, kChunkHeaderBytes + payload_of(keyed).size());
  EXPECT_TRUE(read.damaged.empty());

  // The same damage to the item's own record names it.
  std::string item_bytes = segment('A');
  item_bytes[kMagic.size()] = static_cast<char>(item_bytes[kMagic.size()] ^ 0x10);
  const SegmentContents named = read_segment(item_bytes);
  EXPECT_EQ(named.damaged_records, 1u);
  ASSERT_EQ(named.damaged.size(), 1u);
  expect_same(named.damaged[0], keyed, /*with_json=*/false);
}

// A record holds its fields and nothing more: bytes after them, even inside a chunk whose
// checksum holds, make it damaged. A final state with bytes after its id is not applied (its item
// stays live); an item with bytes after its JSON is not sent, but named by its key.
TEST(SpoolFormat, ARecordWithBytesAfterItsFieldsIsDamaged) {
  std::string bytes(kMagic);
  const ItemRecord longer = item(1, 50);
  const ItemRecord second = item(2, 50);
  const ItemRecord third = item(3, 50);
  append_record(bytes, bytes.size(), payload_of(longer) + "!");
  append_record(bytes, bytes.size(), payload_of(second));
  append_record(bytes, bytes.size(), done_payload(2) + std::string(1, '\0'));
  append_record(bytes, bytes.size(), payload_of(third));
  append_record(bytes, bytes.size(), done_payload(3));
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 2u);
  expect_same(read.items[0], second);
  expect_same(read.items[1], third);
  EXPECT_EQ(read.done, std::vector<std::uint64_t>{3});
  EXPECT_EQ(read.damaged_records, 2u);
  ASSERT_EQ(read.damaged.size(), 1u);
  expect_same(read.damaged[0], longer, /*with_json=*/false);
  EXPECT_TRUE(read.damaged[0].json.empty());
}

// No record is larger than kMaxRecordBytes: a record whose parts join to more is lost (counted,
// and named by its key), although each of its fields is within bounds; reading goes on after it.
TEST(SpoolFormat, ARecordWhosePartsJoinPastTheLimitIsLost) {
  std::string bytes(kMagic);
  const ItemRecord after = item(2, 100);
  {
    const ItemRecord huge = item_sized(1, kMaxRecordBytes + 1);
    ASSERT_LT(huge.json.size(), kMaxRecordBytes);
    append_record(bytes, bytes.size(), payload_of(huge));
  }
  append_record(bytes, bytes.size(), payload_of(after));
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 1u);
  expect_same(read.items[0], after);
  EXPECT_EQ(read.damaged_records, 1u);
  ASSERT_EQ(read.damaged.size(), 1u);
  expect_same(read.damaged[0], item(1, 0), /*with_json=*/false);
}

// A segment that ends inside a chunk header while a record is open (a crash between the writes
// of its parts) loses that record: counted damaged once, named by its key; what precedes it
// comes back.
TEST(SpoolFormat, ARecordCutOffInsideAHeaderIsCountedOnce) {
  std::string bytes(kMagic);
  const ItemRecord before = item(1, 100);
  append_record(bytes, bytes.size(), payload_of(before));
  const std::size_t start = bytes.size();
  const ItemRecord open = item(2, kBlockBytes);  // its first part fills the first block
  append_record(bytes, bytes.size(), payload_of(open));
  ASSERT_GT(bytes.size(), kBlockBytes + kChunkHeaderBytes);
  for (std::size_t cut = 1; cut < kChunkHeaderBytes; ++cut) {
    SCOPED_TRACE("bytes of the second part's header: " + std::to_string(cut));
    const SegmentContents read = read_segment(std::string_view(bytes).substr(0, kBlockBytes + cut));
    ASSERT_EQ(read.items.size(), 1u);
    expect_same(read.items[0], before);
    EXPECT_EQ(read.damaged_records, 1u);
    ASSERT_EQ(read.damaged.size(), 1u);
    expect_same(read.damaged[0], open, /*with_json=*/false);
    // The first part, its header included, and the cut header.
    EXPECT_EQ(read.skipped_bytes, kBlockBytes - start + cut);
  }
}

// A record lost in its second part: the bytes of its intact first part count as skipped too,
// and reading goes on with the next record.
TEST(SpoolFormat, TheIntactPartsOfALostRecordCountAsSkipped) {
  std::string bytes(kMagic);
  const std::size_t start = bytes.size();
  const ItemRecord lost = item(1, kBlockBytes);  // its first part fills the first block
  append_record(bytes, bytes.size(), payload_of(lost));
  const std::size_t next = bytes.size();
  const ItemRecord after = item(2, 100);
  append_record(bytes, bytes.size(), payload_of(after));
  ASSERT_GT(next, kBlockBytes + kChunkHeaderBytes + 10);
  bytes[kBlockBytes + kChunkHeaderBytes + 10] ^= 0x01;  // in the second part's payload
  const SegmentContents read = read_segment(bytes);
  ASSERT_EQ(read.items.size(), 1u);
  expect_same(read.items[0], after);
  EXPECT_EQ(read.damaged_records, 1u);
  ASSERT_EQ(read.damaged.size(), 1u);
  expect_same(read.damaged[0], lost, /*with_json=*/false);
  EXPECT_EQ(read.skipped_bytes, next - start);
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
void put32(std::string& out, std::uint32_t v) { put_le(out, v, 4); }
void put64(std::string& out, std::uint64_t v) { put_le(out, v, 8); }

std::string v1_record(const std::string& payload) {
  std::string out;
  put32(out, static_cast<std::uint32_t>(payload.size()));
  put32(out, crc32(payload));
  return out + payload;
}

std::string v1_item(std::uint64_t id) {
  const auto bytes_of = [](std::string& out, const std::string& s) {
    put32(out, static_cast<std::uint32_t>(s.size()));
    out += s;
  };
  std::string payload = "A";
  put64(payload, id);
  payload.push_back(1);  // record_event
  put64(payload, id + 100);
  bytes_of(payload, "U" + std::to_string(id));
  bytes_of(payload, "E" + std::to_string(id));
  bytes_of(payload, "{}");
  return v1_record(payload);
}

TEST(SpoolFormat, SegmentsOfThePreviousFormatAreStillRead) {
  std::string segment(kMagicV1);
  for (std::uint64_t id = 1; id <= 3; ++id) segment += v1_item(id);
  std::string done = "D";
  put64(done, 2);
  segment += v1_record(done);
  const SegmentContents read = read_segment(segment);
  ASSERT_TRUE(read.recognised);
  ASSERT_EQ(read.items.size(), 3u);
  EXPECT_EQ(read.items[2].event_id, "E3");
  EXPECT_EQ(read.items[2].tag, 103u);
  EXPECT_EQ(read.items[2].op, Operation::record_event);
  ASSERT_EQ(read.done.size(), 1u);
  EXPECT_EQ(read.done[0], 2u);
  EXPECT_EQ(read.damaged_records, 0u);
  EXPECT_EQ(read.skipped_bytes, 0u);
}

// A segment of the previous format ends at its first damaged or torn record: the records before
// it come back, and the rest counts as one damaged stretch, its bytes skipped.
TEST(SpoolFormat, DamageInASegmentOfThePreviousFormatIsCounted) {
  std::string segment(kMagicV1);
  std::vector<std::size_t> starts;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    starts.push_back(segment.size());
    segment += v1_item(id);
  }
  std::string damaged = segment;
  damaged[starts[1] + 12] ^= 0x20;  // inside the second record's payload
  const SegmentContents read = read_segment(damaged);
  ASSERT_TRUE(read.recognised);
  ASSERT_EQ(read.items.size(), 1u);
  EXPECT_EQ(read.items[0].id, 1u);
  EXPECT_EQ(read.damaged_records, 1u);
  EXPECT_EQ(read.skipped_bytes, segment.size() - starts[1]);

  const SegmentContents torn =
      read_segment(std::string_view(segment).substr(0, segment.size() - 2));
  ASSERT_EQ(torn.items.size(), 2u);
  EXPECT_EQ(torn.items[1].id, 2u);
  EXPECT_EQ(torn.damaged_records, 1u);
  EXPECT_EQ(torn.skipped_bytes, segment.size() - 2 - starts[2]);
}

}  // namespace
}  // namespace instasent::detail::spool_format
