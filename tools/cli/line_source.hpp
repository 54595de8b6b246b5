// SPDX-License-Identifier: Apache-2.0
// Line-by-line reading of an input file or standard input, gzip-compressed or not, in a fixed
// amount of memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace instasent::cli {

/// The input could not be read any further (an I/O error, a corrupt or truncated gzip stream).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads lines from a file, or from standard input when the path is "-". zlib reads gzip
/// streams and plain bytes alike, so a `.gz` file needs no flag. Memory use does not depend on
/// the input's size: one read buffer plus the current line, which is capped.
class LineSource {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;
  /// How much of the content identifies an input (see `head_hash`).
  static constexpr std::size_t kHeadBytes = std::size_t{64} << 10;

  /// Opens `path`; throws `UsageError` when it cannot be opened (missing, a directory, ...).
  explicit LineSource(const std::string& path, std::size_t max_line_bytes = kDefaultMaxLineBytes);
  ~LineSource();
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  enum class Status {
    line,      ///< `line` holds the next line.
    too_long,  ///< The line is longer than the limit: `line` holds its first bytes only.
    end,       ///< No more lines.
  };

  /// The next line without its "\n" (nor a "\r" before it). Throws `InputError` when the input
  /// cannot be read, e.g. a truncated gzip stream; a read interrupted by a signal is an
  /// `InputError` too.
  Status next(std::string& line);

  /// 1-based number of the line `next` returned last.
  std::uint64_t line_number() const noexcept { return line_number_; }
  /// Bytes of the stored input read so far (compressed bytes for gzip), to compare with `size()`
  /// for progress. Updated at each read of the buffer; safe to call from another thread.
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
  bool refill();  // false at the end of the input
  void note_position();

  std::string path_;
  std::size_t max_line_bytes_;
  void* file_ = nullptr;  // gzFile
  std::optional<std::uint64_t> size_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t line_number_ = 0;
  std::atomic<std::uint64_t> position_{0};
  std::uint64_t refill_position_ = 0;  // stored bytes read when the buffer was last filled
  bool direct_ = false;                // not compressed: buffer bytes are stored bytes
  std::string head_hash_;
  std::size_t head_bytes_ = 0;
};

}  // namespace instasent::cli
