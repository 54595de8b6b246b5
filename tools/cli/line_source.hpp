// SPDX-License-Identifier: Apache-2.0
// Line-by-line reading of an input file or standard input, gzip-compressed or not, in a fixed
// amount of memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_descriptor.hpp"

namespace instasent::cli {

/// The input could not be read any further (an I/O error, a corrupt or truncated gzip stream).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reading stopped because the stop check said so (a signal asked the import to stop).
class ReadInterrupted : public InputError {
 public:
  using InputError::InputError;
};

/// Reads lines from a file, or from standard input when the path is "-". A gzip stream (one
/// member or several, one after the other) is recognised by its first bytes and decompressed;
/// anything else is read as it is. Memory use does not depend on the input's size: the read
/// buffers plus the current line, which is capped.
///
/// Reading never waits long without asking `stop` (when given) whether to go on: before each
/// read, and every 100 ms while a pipe or terminal has nothing to give. An endless line or a
/// stalled pipe therefore cannot keep a stop request waiting.
class LineSource {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;
  /// How much of the content identifies an input (see `head_hash`).
  static constexpr std::size_t kHeadBytes = std::size_t{64} << 10;

  /// Opens `path` and reads the head; throws `UsageError` when it cannot be opened (missing, a
  /// directory, ...), `InputError` when the head cannot be read (e.g. corrupt gzip) and
  /// `ReadInterrupted` when `stop` says so first.
  explicit LineSource(const std::string& path, std::size_t max_line_bytes = kDefaultMaxLineBytes,
                      std::function<bool()> stop = {});
  ~LineSource();
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  enum class Status {
    line,      ///< `line` holds the next line.
    too_long,  ///< The line is longer than the limit: `line` holds its first bytes only.
    end,       ///< No more lines.
  };

  /// The next line without its "\n" (nor a "\r" before it). Throws `InputError` when the input
  /// cannot be read, e.g. a truncated or corrupt gzip stream (after handing out the lines before
  /// the damage), and `ReadInterrupted` when `stop` says so.
  Status next(std::string& line);

  /// 1-based number of the line `next` returned last.
  std::uint64_t line_number() const noexcept { return line_number_; }
  /// Bytes of the stored input read so far (compressed bytes for gzip), to compare with `size()`
  /// for progress. Updated at each read; safe to call from another thread.
  std::uint64_t position() const noexcept { return position_.load(std::memory_order_relaxed); }
  /// Size of the stored input when it is a regular file.
  std::optional<std::uint64_t> size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  bool is_stdin() const noexcept { return path_ == "-"; }
  std::size_t max_line_bytes() const noexcept { return max_line_bytes_; }

  /// FNV-1a hash (hex) of the first `kHeadBytes` of the content (decompressed), and how many bytes
  /// it covers: what a checkpoint records to recognise the input again.
  const std::string& head_hash() const noexcept { return head_hash_; }
  std::size_t head_bytes() const noexcept { return head_bytes_; }

 private:
  struct Inflater;  // zlib's state, for a gzip input

  bool refill();  // false at the end of the input
  // Content bytes into `out`: decompressed for gzip, as stored otherwise; 0 at the end.
  std::size_t produce(char* out, std::size_t capacity);
  std::size_t inflate_into(char* out, std::size_t capacity);
  // Stored bytes into `out`; 0 at the end. Waits for a pipe, asking `stop_` as it waits.
  std::size_t read_stored(char* out, std::size_t capacity);
  // Moves the unread compressed bytes to the front and reads more behind them; false at the end.
  bool read_more_compressed();
  [[noreturn]] void fail(const std::string& problem) const;

  std::string path_;
  std::size_t max_line_bytes_;
  std::function<bool()> stop_;
  detail::FileDescriptor fd_;
  bool waits_ = false;  // a pipe, terminal or socket: a read may wait for data
  std::optional<std::uint64_t> size_;
  std::unique_ptr<Inflater> inflater_;  // set for a gzip input
  std::vector<char> buffer_;            // content
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool stored_end_ = false;    // the stored input has no more bytes
  std::string pending_error_;  // met after the content produced last; thrown at the next read
  std::uint64_t line_number_ = 0;
  std::uint64_t stored_read_ = 0;  // stored bytes read so far
  std::atomic<std::uint64_t> position_{0};
  std::uint64_t refill_position_ = 0;  // stored bytes read when the buffer was last filled
  std::string head_hash_;
  std::size_t head_bytes_ = 0;
};

}  // namespace instasent::cli
