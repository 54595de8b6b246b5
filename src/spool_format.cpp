// SPDX-License-Identifier: Apache-2.0
#include "spool_format.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "instasent/limits.hpp"

namespace instasent::detail::spool_format {

namespace {

enum ChunkType : std::uint8_t { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

// CRC-32 tables for slicing by 8: table[0] is the byte-at-a-time table, table[k] advances a byte
// through k more zero bytes, so that eight bytes cost eight lookups.
using CrcTables = std::array<std::array<std::uint32_t, 256>, 8>;

CrcTables make_crc_tables() {
  CrcTables tables{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    tables[0][n] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::uint32_t n = 0; n < 256; ++n) {
      const std::uint32_t previous = tables[k - 1][n];
      tables[k][n] = (previous >> 8) ^ tables[0][previous & 0xFF];
    }
  }
  return tables;
}

// A fuzzer cannot steer a checksum: its loop is left out of coverage, which would otherwise be
// most of the cost of every run.
#if defined(__clang__)
#define INSTASENT_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define INSTASENT_NO_COVERAGE
#endif

INSTASENT_NO_COVERAGE inline std::uint32_t load32(const char* p) {
  const auto byte = [p](int i) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(p[i]));
  };
  return byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
}

// CRC-32 in three steps, so that a chunk's type and payload are summed without a copy.
INSTASENT_NO_COVERAGE std::uint32_t crc_update(std::uint32_t state, std::string_view bytes) {
  static const CrcTables t = make_crc_tables();
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint32_t one = load32(p) ^ state;
    const std::uint32_t two = load32(p + 4);
    state = t[7][one & 0xFF] ^ t[6][(one >> 8) & 0xFF] ^ t[5][(one >> 16) & 0xFF] ^
            t[4][one >> 24] ^ t[3][two & 0xFF] ^ t[2][(two >> 8) & 0xFF] ^
            t[1][(two >> 16) & 0xFF] ^ t[0][two >> 24];
  }
  for (; n > 0; --n, ++p) {
    state = t[0][(state ^ static_cast<std::uint8_t>(*p)) & 0xFF] ^ (state >> 8);
  }
  return state;
}
constexpr std::uint32_t kCrcStart = 0xFFFFFFFFu;
std::uint32_t crc_end(std::uint32_t state) { return state ^ 0xFFFFFFFFu; }

template <typename T>
void put(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads from a payload, refusing to run past its end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  template <typename T>
  bool get(T& v) {
    if (data_.size() < sizeof(T)) return false;
    v = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) {
      v = static_cast<T>((v << 8) | static_cast<std::uint8_t>(data_[i]));
    }
    data_.remove_prefix(sizeof(T));
    return true;
  }
  bool bytes(std::string& v, std::size_t limit) {
    std::uint32_t size = 0;
    if (!get(size) || size > limit || data_.size() < size) return false;
    v.assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }
  std::string_view rest() const { return data_; }
  std::size_t consumed_from(std::string_view whole) const { return whole.size() - data_.size(); }

 private:
  std::string_view data_;
};

// The key of an item's record (after 'A' and the key's checksum): id, operation, tag, ids.
bool read_key(Reader& reader, ItemRecord& item) {
  std::uint8_t op = 0;
  if (!reader.get(item.id) || !reader.get(op) ||
      op > static_cast<std::uint8_t>(Operation::delete_contact) || !reader.get(item.tag) ||
      !reader.bytes(item.user_id, kMaxRecordBytes) ||
      !reader.bytes(item.event_id, kMaxRecordBytes)) {
    return false;
  }
  item.op = static_cast<Operation>(op);
  return true;
}

// An item's key, read from `reader` just after the record's 'A', when the key's own checksum
// vouches for it.
std::optional<ItemRecord> read_checked_key(Reader& reader) {
  std::uint32_t checksum = 0;
  if (!reader.get(checksum)) return std::nullopt;
  const std::string_view key_start = reader.rest();
  ItemRecord item;
  if (!read_key(reader, item)) return std::nullopt;
  const std::string_view key = key_start.substr(0, reader.consumed_from(key_start));
  if (crc_end(crc_update(kCrcStart, key)) != checksum) return std::nullopt;
  return item;
}

// An item's key from the start of a record that may be damaged or cut short.
std::optional<ItemRecord> readable_key(std::string_view payload) {
  if (payload.empty() || payload[0] != 'A') return std::nullopt;
  Reader reader(payload.substr(1));
  return read_checked_key(reader);
}

// A whole record, intact by its chunks' checksums.
void read_record(std::string_view payload, SegmentContents& out) {
  if (payload.empty()) return;
  Reader reader(payload.substr(1));
  if (payload[0] == 'D') {
    std::uint64_t id = 0;
    if (reader.get(id) && reader.rest().empty()) {
      out.done.push_back(id);
    } else {
      ++out.damaged_records;
    }
    return;
  }
  if (payload[0] != 'A') return;  // a record type of a newer writer: not ours to read
  std::optional<ItemRecord> item = read_checked_key(reader);
  if (!item) {
    ++out.damaged_records;
  } else if (!reader.bytes(item->json, kMaxRecordBytes) || !reader.rest().empty()) {
    ++out.damaged_records;
    item->json.clear();
    out.damaged.push_back(std::move(*item));
  } else {
    out.items.push_back(std::move(*item));
  }
}

struct ChunkHeader {
  std::uint32_t checksum = 0;
  std::uint16_t length = 0;
  std::uint8_t type = 0;
};

ChunkHeader header_at(std::string_view bytes, std::size_t pos) {
  Reader reader(bytes.substr(pos, kChunkHeaderBytes));
  ChunkHeader header;
  reader.get(header.checksum);
  reader.get(header.length);
  reader.get(header.type);
  return header;
}

// Whether an intact chunk starts at `pos` and ends within the block.
bool intact_chunk_at(std::string_view bytes, std::size_t pos, std::size_t block_end) {
  if (block_end - pos < kChunkHeaderBytes) return false;
  const ChunkHeader header = header_at(bytes, pos);
  if (header.type < kFull || header.type > kLast ||
      header.length > block_end - pos - kChunkHeaderBytes) {
    return false;
  }
  const std::uint32_t state = crc_update(kCrcStart, bytes.substr(pos + 6, 1));
  return crc_end(crc_update(state, bytes.substr(pos + kChunkHeaderBytes, header.length))) ==
         header.checksum;
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// Where reading resumes after the damaged chunk at `pos`: after it, when its length leads to an
// intact chunk (or to the block's end); else at the next intact chunk in the block; else at the
// block's end.
std::size_t resume_after_damage(std::string_view bytes, std::size_t pos, std::size_t block_end) {
  const ChunkHeader header = header_at(bytes, pos);
  const std::size_t after = pos + kChunkHeaderBytes + header.length;
  if (after <= block_end) {
    if (after == block_end || intact_chunk_at(bytes, after, block_end) ||
        (block_end - after < kChunkHeaderBytes &&
         all_zero(bytes.substr(after, block_end - after)))) {
      return after;
    }
  }
  // Only the start of a record is worth finding: the rest of a record whose start was lost is
  // skipped anyway. Checking its type first keeps the search cheap on garbage.
  for (std::size_t p = pos + 1; p + kChunkHeaderBytes < block_end; ++p) {
    const auto type = static_cast<std::uint8_t>(bytes[p + 6]);
    const char record = bytes[p + kChunkHeaderBytes];
    if ((type == kFull || type == kFirst) && (record == 'A' || record == 'D') &&
        intact_chunk_at(bytes, p, block_end)) {
      return p;
    }
  }
  return block_end;
}

SegmentContents read_v1(std::string_view bytes) {
  SegmentContents out;
  out.recognised = true;
  std::string_view rest = bytes.substr(kMagicV1.size());
  while (!rest.empty()) {
    Reader header(rest);
    std::uint32_t size = 0;
    std::uint32_t checksum = 0;
    if (!header.get(size) || !header.get(checksum) || size > kMaxRecordBytes ||
        rest.size() - 8 < size) {
      break;
    }
    const std::string_view payload = rest.substr(8, size);
    if (crc32(payload) != checksum) break;
    rest.remove_prefix(8 + size);
    Reader reader(payload);
    std::uint8_t type = 0;
    std::uint64_t id = 0;
    if (!reader.get(type) || !reader.get(id)) continue;
    if (type == 'D') {
      out.done.push_back(id);
      continue;
    }
    ItemRecord item;
    item.id = id;
    std::uint8_t op = 0;
    if (type != 'A' || !reader.get(op) ||
        op > static_cast<std::uint8_t>(Operation::delete_contact) || !reader.get(item.tag) ||
        !reader.bytes(item.user_id, kMaxRecordBytes) ||
        !reader.bytes(item.event_id, kMaxRecordBytes) ||
        !reader.bytes(item.json, kMaxRecordBytes)) {
      continue;
    }
    item.op = static_cast<Operation>(op);
    out.items.push_back(std::move(item));
  }
  // Segments of this format end at their first torn or damaged record.
  if (!rest.empty()) ++out.damaged_records;
  out.skipped_bytes = rest.size();
  return out;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) { return crc_end(crc_update(kCrcStart, bytes)); }

std::string item_payload(std::uint64_t id, Operation op, std::uint64_t tag,
                         std::string_view user_id, std::string_view event_id,
                         std::string_view json) {
  std::string key;
  key.reserve(8 + 1 + 8 + 8 + user_id.size() + event_id.size());
  put(key, id);
  key.push_back(static_cast<char>(op));
  put(key, tag);
  put_bytes(key, user_id);
  put_bytes(key, event_id);
  std::string payload;
  payload.reserve(1 + 4 + key.size() + 4 + json.size());
  payload.push_back('A');
  put(payload, crc32(key));
  payload.append(key);
  put_bytes(payload, json);
  return payload;
}

std::string done_payload(std::uint64_t id) {
  std::string payload(1, 'D');
  put(payload, id);
  return payload;
}

void append_record(std::string& out, std::uint64_t offset, std::string_view payload) {
  bool first = true;
  do {
    std::size_t left_in_block = kBlockBytes - offset % kBlockBytes;
    if (left_in_block < kChunkHeaderBytes) {
      out.append(left_in_block, '\0');
      offset += left_in_block;
      left_in_block = kBlockBytes;
    }
    const std::size_t length = std::min(payload.size(), left_in_block - kChunkHeaderBytes);
    const bool last = length == payload.size();
    const std::uint8_t type = first && last ? kFull : first ? kFirst : last ? kLast : kMiddle;
    const std::string_view part = payload.substr(0, length);
    const char type_byte = static_cast<char>(type);
    put(out, crc_end(crc_update(crc_update(kCrcStart, std::string_view(&type_byte, 1)), part)));
    put(out, static_cast<std::uint16_t>(length));
    out.push_back(type_byte);
    out.append(part);
    offset += kChunkHeaderBytes + length;
    payload.remove_prefix(length);
    first = false;
  } while (!payload.empty());
}

SegmentContents read_segment(std::string_view bytes) {
  if (bytes.substr(0, kMagicV1.size()) == kMagicV1) return read_v1(bytes);
  SegmentContents out;
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    out.skipped_bytes = bytes.size();
    return out;
  }
  out.recognised = true;
  std::string partial;            // the parts of a record read so far
  std::size_t partial_bytes = 0;  // what those parts take in the segment, headers included
  bool in_record = false;         // between its first and its last part
  bool in_damage = false;         // since the last intact chunk: a damaged stretch counts once
  const auto lose_partial = [&] {
    if (!in_record) return;
    if (auto item = readable_key(partial)) out.damaged.push_back(std::move(*item));
    if (!in_damage) ++out.damaged_records;
    out.skipped_bytes += partial_bytes;
    in_record = false;
    partial.clear();
    partial_bytes = 0;
  };
  std::size_t pos = kMagic.size();
  while (pos < bytes.size()) {
    const std::size_t block_end = std::min(bytes.size(), (pos / kBlockBytes + 1) * kBlockBytes);
    if (block_end - pos < kChunkHeaderBytes) {
      if (block_end % kBlockBytes != 0) {  // not a block's trailer: a header cut short at the end
        out.skipped_bytes += block_end - pos;
        if (!in_damage && !in_record) ++out.damaged_records;
      }
      pos = block_end;
      continue;
    }
    if (!intact_chunk_at(bytes, pos, block_end)) {
      // The record this chunk belongs to is lost; its key may still name it.
      if (in_record) {
        lose_partial();
      } else {
        const std::size_t available = block_end - pos - kChunkHeaderBytes;
        if (auto item = readable_key(bytes.substr(pos + kChunkHeaderBytes, available))) {
          out.damaged.push_back(std::move(*item));
        }
        if (!in_damage) ++out.damaged_records;
      }
      in_damage = true;
      const std::size_t next = resume_after_damage(bytes, pos, block_end);
      out.skipped_bytes += next - pos;
      pos = next;
      continue;
    }
    const ChunkHeader header = header_at(bytes, pos);
    const std::string_view part = bytes.substr(pos + kChunkHeaderBytes, header.length);
    pos += kChunkHeaderBytes + header.length;
    const bool damaged_before = in_damage;
    in_damage = false;
    switch (header.type) {
      case kFull:
        lose_partial();
        read_record(part, out);
        break;
      case kFirst:
        lose_partial();
        partial.assign(part);
        partial_bytes = kChunkHeaderBytes + part.size();
        in_record = true;
        break;
      case kMiddle:
      case kLast:
        if (!in_record) {  // the rest of a record whose start was lost (and counted)
          out.skipped_bytes += kChunkHeaderBytes + part.size();
          in_damage = damaged_before;
          break;
        }
        partial.append(part);
        partial_bytes += kChunkHeaderBytes + part.size();
        if (partial.size() > kMaxRecordBytes) {
          lose_partial();
        } else if (header.type == kLast) {
          read_record(partial, out);
          partial.clear();
          partial_bytes = 0;
          in_record = false;
        }
        break;
    }
  }
  // A record still open at the end was cut short (a crash in the middle of writing it).
  lose_partial();
  return out;
}

}  // namespace instasent::detail::spool_format
