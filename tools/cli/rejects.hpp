// SPDX-License-Identifier: Apache-2.0
// The rejects file: every record the import could not read or the server rejected, as NDJSON
// `{"line": N, "item": ..., "errors": {"field": ["message"]}}` (and `"types"` for a CSV row with
// cells that their --type cannot read), ready to be fixed and imported again (`--format rejects`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "file_descriptor.hpp"
#include "instasent/batch_result.hpp"

namespace instasent::cli {

/// One rejects record as JSON text, without the newline: `{WHERE,"item":...,"errors":{...}}`
/// (and `"types"` unless `types_json` is empty). `where` holds the members that say where the item
/// came from: `"line":3` for an import, the topic, partition and offset for `consume`.
/// `item_json` and `types_json` are JSON text, as `RejectsWriter::write` takes them.
std::string reject_record(std::string_view where, std::string_view item_json,
                          const FieldErrors& errors, std::string_view types_json = {});

/// "_email: Invalid format; plan: too long": the errors of a bad item, for a message on stderr.
std::string describe_errors(const FieldErrors& errors);

class RejectsWriter {
 public:
  /// For `RejectsWriter(path, kAppend)`.
  struct Append {};
  static constexpr Append kAppend{};

  /// Opens `path`. For a fresh import the file is emptied. Resuming after `keep_through`, the
  /// records of lines up to it are kept and later ones dropped, since those lines are read again.
  /// Throws `UsageError` when the file cannot be written.
  RejectsWriter(const std::string& path, std::optional<std::uint64_t> keep_through);
  /// Opens `path` to add records after those it holds (`consume`, whose records come again
  /// after a restart anyway). Throws `UsageError` when the file cannot be written.
  RejectsWriter(const std::string& path, Append);
  ~RejectsWriter();
  RejectsWriter(const RejectsWriter&) = delete;
  RejectsWriter& operator=(const RejectsWriter&) = delete;

  /// Appends one record. `item_json` is JSON text: the item's object, or a string holding a line
  /// that could not be read. `types_json`, unless empty, is JSON text too: the type of each value
  /// of the item kept as text (see `Record::types`). Throws `std::runtime_error` when the file
  /// cannot be written.
  void write(std::uint64_t line, std::string_view item_json, const FieldErrors& errors,
             std::string_view types_json = {});
  /// Appends one record made by `reject_record`. Throws `std::runtime_error` when the file
  /// cannot be written.
  void write_record(std::string_view record);
  /// Writes out what is buffered and syncs it to disk, so that a checkpoint may count on it.
  void sync();

  const std::string& path() const noexcept { return path_; }
  std::uint64_t written() const noexcept { return written_; }

 private:
  void open_file(int flags);
  void flush();

  std::string path_;
  detail::FileDescriptor fd_;
  std::string buffer_;
  std::uint64_t written_ = 0;
};

}  // namespace instasent::cli
