// SPDX-License-Identifier: Apache-2.0
// The spool's on-disk format: records framed in fixed blocks, so that damage costs at most the
// damaged record and reading resumes after it. Pure functions over bytes (no files), so that the
// reader can be fuzzed.
//
// A segment file starts with an 8-byte magic ("ISPOOL2\n") and is then a run of 32 KiB blocks
// (the magic is the start of the first). A record is written as one or more chunks, none of which
// crosses a block:
//
//   chunk: u32 CRC-32 of (type and payload) | u16 payload length | u8 type | payload
//   type:  1 the whole record, 2 its first part, 3 a middle part, 4 its last part
//
// Fewer than 7 bytes left in a block are zeros, and the next chunk starts the next block. Integers
// are little-endian. Record payloads:
//
//   an item:         'A' | u32 CRC-32 of the key | key | u32+bytes JSON
//                    key: u64 id | u8 operation | u64 tag | u32+bytes user id | u32+bytes event id
//   a final state:   'D' | u64 id
//
// A chunk that fails its checksum loses its record only: the reader first trusts its length, then
// looks for the next chunk that passes its checksum, byte by byte, within the block. The key's
// own checksum lets a damaged item still be named (its id, tag and ids), so that it can be
// reported instead of silently lost. Segments written before this format ("ISPOOL1\n": records
// framed as u32 length | u32 CRC-32 | payload, without blocks) are still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "instasent/ingestor.hpp"

namespace instasent::detail::spool_format {

inline constexpr std::size_t kBlockBytes = 32u << 10;
inline constexpr std::size_t kChunkHeaderBytes = 7;
inline constexpr std::string_view kMagic = "ISPOOL2\n";
inline constexpr std::string_view kMagicV1 = "ISPOOL1\n";
/// No record is larger (an item is bounded by the batch size): a larger one is corruption.
inline constexpr std::size_t kMaxRecordBytes = 64u << 20;

/// An item's record, read back.
struct ItemRecord {
  std::uint64_t id = 0;
  Operation op = Operation::upsert_contact;
  std::uint64_t tag = 0;
  std::string user_id;
  std::string event_id;
  std::string json;
};

/// The size of an item's record payload (`item_payload`'s): type, key checksum, id, operation,
/// tag, and the three strings with their lengths.
inline constexpr std::uint64_t item_payload_bytes(std::size_t user_id, std::size_t event_id,
                                                  std::size_t json) {
  return 34u + std::uint64_t{user_id} + event_id + json;
}

/// The payload of an item's record and of a final state's.
std::string item_payload(std::uint64_t id, Operation op, std::uint64_t tag,
                         std::string_view user_id, std::string_view event_id,
                         std::string_view json);
std::string done_payload(std::uint64_t id);

/// Appends the chunks of one record to `out`, which is to be written at `offset` in its segment
/// (the magic included): padding to the next block where a header would not fit, then chunks.
void append_record(std::string& out, std::uint64_t offset, std::string_view payload);

/// What a segment's bytes hold.
struct SegmentContents {
  bool recognised = false;            ///< Starts with a magic this reader knows.
  std::vector<ItemRecord> items;      ///< Intact item records, in order.
  std::vector<std::uint64_t> done;    ///< Ids of intact final-state records.
  std::vector<ItemRecord> damaged;    ///< Damaged items whose key could still be read (no JSON).
  std::uint64_t damaged_records = 0;  ///< Records (or stretches) that could not be read.
  std::uint64_t skipped_bytes = 0;    ///< Bytes not read as intact records.
};

/// Reads a whole segment; never throws on any input (but std::bad_alloc).
SegmentContents read_segment(std::string_view bytes);

/// CRC-32 (IEEE 802.3, as zlib computes it).
std::uint32_t crc32(std::string_view bytes);

}  // namespace instasent::detail::spool_format
