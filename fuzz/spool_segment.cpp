// SPDX-License-Identifier: Apache-2.0
// The spool's segment reader over any bytes (with the magic in front, mostly): it never crashes,
// reads only well-formed items, and accounts for what it skipped. Then the same bytes as a
// record's payload, framed and read back: it comes back whole.
#include <string>

#include "fuzz_support.hpp"
#include "spool_format.hpp"

using namespace instasent;
using namespace instasent::detail::spool_format;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string bytes = (data[0] & 1) != 0 ? std::string() : std::string(kMagic);
  bytes.append(fuzz::text_of(data + 1, size - 1));
  const SegmentContents read = read_segment(bytes);
  require(read.skipped_bytes <= bytes.size(), "skipped no more than there is");
  for (const ItemRecord& item : read.items) {
    require(static_cast<int>(item.op) <= 2, "a known operation");
  }
  if (!read.recognised) require(read.items.empty() && read.done.empty(), "nothing from a stranger");

  // Any payload survives framing, after a record that leaves it near the start of a block or
  // (one run in eight) within a few bytes of its end.
  const std::string_view payload = fuzz::text_of(data + 1, size - 1);
  const std::size_t filler =
      (data[0] & 0x0E) == 0 ? kBlockBytes - 120 + (data[0] >> 4) * 7u : (data[0] >> 1) * 13u;
  std::string segment(kMagic);
  append_record(segment, segment.size(),
                item_payload(1, Operation::upsert_contact, 2, "u", "", std::string(filler, 'x')));
  append_record(segment, segment.size(),
                item_payload(7, Operation::record_event, 9, "u", "e", payload));
  const SegmentContents back = read_segment(segment);
  require(back.items.size() == 2 && back.items[1].json == payload && back.damaged_records == 0,
          "a framed record reads back whole");
  return 0;
}
