// SPDX-License-Identifier: Apache-2.0
#include "line_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "exit_codes.hpp"
#include "hash.hpp"

namespace instasent::cli {

namespace {

gzFile as_gz(void* file) { return static_cast<gzFile>(file); }

std::string label_of(const std::string& path) { return path == "-" ? "standard input" : path; }

}  // namespace

LineSource::LineSource(const std::string& path, std::size_t max_line_bytes)
    : path_(path), max_line_bytes_(max_line_bytes), buffer_(kHeadBytes) {
  int fd = -1;
  if (path == "-") {
    fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);  // gzclose closes it, not our stdin
    if (fd < 0) throw UsageError("cannot read standard input: " + std::string(strerror(errno)));
    struct stat info {};
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
      size_ = static_cast<std::uint64_t>(info.st_size);  // redirected from a file: progress works
    }
  } else {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw UsageError("cannot open " + path + ": " + std::string(strerror(errno)));
    struct stat info {};
    if (fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
      close(fd);
      throw UsageError("cannot read " + path + ": not a file");
    }
    if (S_ISREG(info.st_mode)) size_ = static_cast<std::uint64_t>(info.st_size);
  }
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    close(fd);
    throw UsageError("cannot read " + label_of(path) + ": out of memory");
  }
  file_ = file;
  gzbuffer(file, 128u << 10);

  // The head is read before the first line is handed out, so that it can identify the input
  // before anything is sent.
  while (end_ < buffer_.size()) {
    const int got =
        gzread(file, buffer_.data() + end_, static_cast<unsigned>(buffer_.size() - end_));
    if (got <= 0) {
      int code = Z_OK;
      const char* message = gzerror(file, &code);
      if (got < 0 || code == Z_BUF_ERROR) {
        gzclose(file);
        file_ = nullptr;
        throw InputError("cannot read " + label_of(path) + ": " + message);
      }
      break;
    }
    end_ += static_cast<std::size_t>(got);
  }
  note_position();
  Fnv1a64 hash;
  hash.update(std::string_view(buffer_.data(), end_));
  head_hash_ = hash.hex();
  head_bytes_ = end_;
}

LineSource::~LineSource() {
  if (file_ != nullptr) gzclose(as_gz(file_));
}

void LineSource::note_position() {
  // gzoffset asks the file descriptor (lseek), so it is called once per buffer, not per line.
  const auto offset = gzoffset(as_gz(file_));
  if (offset >= 0) refill_position_ = static_cast<std::uint64_t>(offset);
  direct_ = gzdirect(as_gz(file_)) == 1;
  position_.store(refill_position_, std::memory_order_relaxed);
}

bool LineSource::refill() {
  begin_ = end_ = 0;
  const int got = gzread(as_gz(file_), buffer_.data(), static_cast<unsigned>(buffer_.size()));
  note_position();
  if (got > 0) {
    end_ = static_cast<std::size_t>(got);
    return true;
  }
  int code = Z_OK;
  const char* message = gzerror(as_gz(file_), &code);
  // Z_BUF_ERROR at the end: the gzip stream stops in the middle (a truncated file).
  if (got < 0 || code == Z_BUF_ERROR) {
    throw InputError("cannot read " + label_of(path_) + " after line " +
                     std::to_string(line_number_) + ": " +
                     (code == Z_ERRNO ? std::string(strerror(errno)) : std::string(message)));
  }
  return false;
}

LineSource::Status LineSource::next(std::string& line) {
  line.clear();
  bool too_long = false;
  bool started = false;  // something of this line (even just its "\n") was read
  while (true) {
    if (begin_ == end_ && !refill()) {
      if (!started) return Status::end;
      break;  // a last line without "\n"
    }
    started = true;
    const char* start = buffer_.data() + begin_;
    const std::size_t available = end_ - begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    const std::size_t length =
        newline != nullptr ? static_cast<std::size_t>(newline - start) : available;
    if (!too_long) {
      const std::size_t room = max_line_bytes_ - line.size();
      if (length > room) {
        line.append(start, room);
        too_long = true;
      } else {
        line.append(start, length);
      }
    }
    begin_ += length;
    if (newline != nullptr) {
      ++begin_;
      break;
    }
  }
  ++line_number_;
  if (direct_) {
    // Uncompressed, what is left in the buffer has not been read yet: progress is exact.
    const std::uint64_t unread = end_ - begin_;
    position_.store(refill_position_ > unread ? refill_position_ - unread : 0,
                    std::memory_order_relaxed);
  }
  if (too_long) return Status::too_long;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return Status::line;
}

}  // namespace instasent::cli
