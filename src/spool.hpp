// SPDX-License-Identifier: Apache-2.0
// The Ingestor's durable spool: an append-only log of checksummed records in a directory.
//
// Layout: `LOCK` (held with flock by the one process using the directory) and segment files
// `segment-<20 digits>.log` in the format of spool_format.hpp. Anything else in the directory is
// left alone, with a warning.
//
// An item is live from its 'A' record until a 'D' record with its id. A 'D' record is always in
// the segment of its item or a newer one. A segment is deleted, oldest first, once every item in
// it is final (its 'D' records need not have been written then: the items are gone with it). Each
// process writes a new segment. Damage costs the damaged record only; a damaged item whose key can
// still be read is handed to the Ingestor, which reports it (dropped, spool_damaged).
//
// Opening reads every segment once to learn which items are live, keeping only their ids (8 bytes
// an item). The items themselves are read back later, one segment at a time (read_recovered), as
// the Ingestor has room for them: replay holds one segment (at most 4 MiB, or one larger record)
// and never the whole backlog.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "file_descriptor.hpp"
#include "instasent/ingestor.hpp"
#include "spool_format.hpp"

namespace instasent::detail {

/// Where an item's record is: its id and the segment holding it (0, 0 for none).
struct SpoolRef {
  std::uint64_t id = 0;
  std::uint64_t segment = 0;
};

/// What an item's record holds.
struct SpoolEntry {
  Operation op = Operation::upsert_contact;
  std::uint64_t tag = 0;
  std::string_view user_id;
  std::string_view event_id;
  std::string_view json;
};

/// An item found live when the spool was opened, read back: to send again, or (`damaged`) to
/// report, since only its key could be read.
struct SpooledItem {
  SpoolRef ref;
  Operation op = Operation::upsert_contact;
  std::uint64_t tag = 0;
  std::string user_id;
  std::string event_id;
  std::string json;
  bool damaged = false;
};

/// What opening the spool found besides live items.
struct SpoolFindings {
  std::uint64_t skipped_bytes = 0;    ///< Bytes of torn or damaged records.
  std::uint64_t damaged_records = 0;  ///< Records (or damaged stretches) that could not be read.
  std::uint64_t unknown_files = 0;    ///< Files left alone, each with a warning.
};

class Spool {
 public:
  /// Opens (creating if needed) and locks the directory and reads what is live in it. Throws
  /// InvalidInputError (field "spool.directory") when it cannot be used. A segment that cannot be
  /// started (a full disk) does not stop it: appends are refused until one can be.
  explicit Spool(const SpoolOptions& options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// How many items were live at open (damaged ones included), and how many of them were damaged.
  std::uint64_t recovered_items() const { return recovered_items_; }
  std::uint64_t recovered_damaged() const { return recovered_damaged_; }
  /// Reads back the live items of the next segment that holds any, oldest first, into `items`
  /// (replacing what it held); false when every one has been read. For one thread at a time; it
  /// takes no lock (the segments it reads are never written again, nor deleted while they hold
  /// an item not yet final). A segment that can no longer be read is skipped with a warning: its
  /// items stay live, for the next ingestor to try.
  bool read_recovered(std::vector<SpooledItem>& items);
  const SpoolFindings& findings() const { return findings_; }

  /// Whether the item's record is within `spool_format::kMaxRecordBytes` (64 MiB); a larger one
  /// could be written but would be read back as damage.
  static bool fits_a_record(const SpoolEntry& entry);

  enum class Append { ok, full, failed };
  /// Writes an item's record (and syncs it as the options say) before returning `ok`; `full` when
  /// it would take the spool past `max_bytes` (after waiting until `deadline` for room);
  /// `failed` (with `error`) when the write failed or the item does not fit a record.
  Append append(const SpoolEntry& entry, std::chrono::steady_clock::time_point deadline,
                SpoolRef& ref, std::string& error);

  /// Notes that an item is final; its record is written by the next `write_done`.
  void done(const SpoolRef& ref);
  /// Deletes the segments left with nothing live and writes the final states noted since the last
  /// call (those of items in segments that still exist).
  void write_done();

  /// The oldest segment and how many live items it holds; {0, 0} when the oldest is the one
  /// being written (it cannot be deleted).
  std::pair<std::uint64_t, std::uint64_t> oldest_segment() const;
  std::uint64_t bytes() const;

  /// Writes what is noted, syncs, releases the directory; later calls do nothing.
  void close();

  /// fork(): the forking thread holds the lock across it; in the child the spool stops writing.
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }
  void abandon_in_child();

 private:
  struct Segment {
    std::uint64_t bytes = 0;
    std::uint64_t live = 0;
  };
  // A segment's items found live at open, to read back: their ids, ascending. While opening,
  // also what is known of each (a final state found later ends it).
  struct Recovery {
    enum State : std::uint8_t { intact, damaged, ended };
    std::uint64_t segment = 0;
    std::vector<std::uint64_t> ids;
    std::vector<State> state;
  };

  std::vector<std::uint64_t> list_segments();
  bool read_segment_file(std::uint64_t number, spool_format::SegmentContents& contents,
                         std::uint64_t& file_bytes);
  void scan_segment(std::uint64_t number);
  void end_recovered(std::uint64_t id);
  void renumber(std::vector<std::uint64_t>& numbers);
  bool start_segment_locked(std::string& error);
  Append append_locked(std::string_view payload, std::string& error);
  bool write_locked(std::string_view bytes, std::string& error);
  void sync_locked(bool force);
  void write_done_locked();
  void delete_free_segments_locked();
  void warn(const std::string& message) const;
  std::string segment_path(std::uint64_t number) const;

  SpoolOptions options_;
  std::uint64_t segment_bytes_;  // a segment is closed after this many bytes

  mutable std::mutex mutex_;
  std::condition_variable room_cv_;
  FileDescriptor lock_fd_;
  FileDescriptor fd_;  // the segment being written; none until one could be started
  bool open_ = false;
  std::map<std::uint64_t, Segment> segments_;  // by number; with fd_ open, the last is active_
  std::uint64_t active_ = 0;                   // the number of the segment written (or to be)
  std::uint64_t total_bytes_ = 0;
  std::uint64_t next_id_ = 1;
  std::vector<SpoolRef> pending_done_;
  bool unsynced_ = false;
  std::chrono::steady_clock::time_point last_sync_;
  std::vector<Recovery> recovery_;                             // oldest first; read_recovered's
  std::map<std::uint64_t, std::size_t> recovery_by_first_id_;  // while opening: index by first id
  std::size_t next_recovery_ = 0;
  std::uint64_t recovered_items_ = 0;
  std::uint64_t recovered_damaged_ = 0;
  SpoolFindings findings_;
};

}  // namespace instasent::detail
