// SPDX-License-Identifier: Apache-2.0
// Resumable imports: the checkpoint file, and the bookkeeping of which lines have reached a final
// state, so that the checkpoint never claims a line that might still be lost.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "items.hpp"

namespace instasent::cli {

/// What a checkpoint records about its input, so that it is not applied to another one.
struct InputIdentity {
  std::string path;                   ///< As given; shown in messages, not compared.
  std::optional<std::uint64_t> size;  ///< Stored bytes, for a regular file.
  std::string head_hash;              ///< See `LineSource::head_hash`.
  std::uint64_t head_bytes = 0;

  /// Why `other` is not this input (size or head differ), or empty when it is.
  std::string difference(const InputIdentity& other) const;
};

/// How far an import of one input is confirmed: every line up to `line` has a final state
/// (delivered, rejected and written to the rejects file, or unreadable and written there).
struct Checkpoint {
  ItemKind kind = ItemKind::contacts;
  InputIdentity input;
  std::uint64_t line = 0;

  /// The checkpoint in `path`; nullopt when there is no such file. Throws `UsageError` when the
  /// file cannot be read, is not a regular file or is not a checkpoint (a `line` that is not a
  /// whole number from 0 up included).
  static std::optional<Checkpoint> load(const std::string& path);
  /// Whether `save` could replace `path`: creates and removes its temporary file, leaving `path`
  /// as it is. Throws `std::runtime_error`.
  static void check_writable(const std::string& path);
  /// Replaces `path` atomically: writes a temporary file beside it, syncs it to disk and renames
  /// it over `path`. Throws `std::runtime_error`.
  void save(const std::string& path) const;
};

/// One record handed to the ingestor, waiting for its final state.
struct PendingItem {
  std::uint64_t first_line = 0;
  std::uint64_t last_line = 0;
  std::string item_json;  ///< What the rejects file shows as its `item` should it be rejected.
};

/// Tracks which records have a final state and computes the confirmed prefix: the highest line L
/// such that every line up to L is final. Records are reported in input order, and named by their
/// first line (the tag the Ingestor gives back with each outcome). Not thread-safe.
///
/// The records in flight are kept in input order (first lines are unique), each marked when
/// taken; those marked at the front are let go, and all of them once they are more than the
/// records in flight and 1,024: no allocation per record, and a record is found by a binary
/// search.
class DeliveryTracker {
 public:
  /// Lines up to `confirmed` are final already (a resumed import skips them).
  explicit DeliveryTracker(std::uint64_t confirmed = 0);

  /// A record that needs nothing more: blank, skipped, validated, or unreadable and written to
  /// the rejects file.
  void settled(std::uint64_t last_line);
  /// A record handed to the ingestor.
  void sent(PendingItem item);
  /// The pending record that starts at `first_line`, removed; nullopt when there is none.
  std::optional<PendingItem> take(std::uint64_t first_line);
  /// A record whose final state is not a confirmation (dropped, or refused for the credentials):
  /// the confirmed prefix stays below it from now on.
  void unconfirmed(std::uint64_t first_line);

  std::uint64_t confirmed_through() const noexcept;
  std::size_t pending() const noexcept { return pending_; }

 private:
  struct Sent {
    PendingItem item;
    bool taken = false;
  };
  // Whether `sent` comes before the record that starts at `line` (for the binary searches).
  static bool before(const Sent& sent, std::uint64_t line) { return sent.item.first_line < line; }

  std::deque<Sent> sent_;  // by first line, the first one not taken
  std::size_t pending_ = 0;
  std::uint64_t read_through_ = 0;
  std::uint64_t first_unconfirmed_ = 0;  // 0: none
};

}  // namespace instasent::cli
