// SPDX-License-Identifier: Apache-2.0
#include "line_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "exit_codes.hpp"
#include "hash.hpp"
#include "text.hpp"

namespace instasent::cli {

namespace {

// How long a wait for a pipe goes without asking whether to stop.
constexpr int kPollMilliseconds = 100;
constexpr std::size_t kCompressedBufferBytes = std::size_t{128} << 10;

std::string label_of(const std::string& path) {
  return path == "-" ? "standard input" : display_path(path);
}

bool starts_gzip(const unsigned char* bytes, std::size_t size) {
  return size >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B;
}

}  // namespace

// zlib's inflate state and the compressed bytes it reads from. Decompressing here, rather than
// through gzread, keeps every read of the file in our hands: a read interrupted by a signal loses
// nothing, a pipe hands out what it has at once, and errors carry zlib's own message.
struct LineSource::Inflater {
  z_stream stream{};
  std::vector<unsigned char> input = std::vector<unsigned char>(kCompressedBufferBytes);
  bool member_ended = false;  // the last gzip member is complete; another one may follow

  ~Inflater() { inflateEnd(&stream); }
};

LineSource::LineSource(const std::string& path, std::size_t max_line_bytes,
                       std::function<bool()> stop)
    : path_(path), max_line_bytes_(max_line_bytes), stop_(std::move(stop)), buffer_(kHeadBytes) {
  if (path == "-") {
    fd_.reset(fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0));
    if (!fd_.valid())
      throw UsageError("cannot read standard input: " + std::string(strerror(errno)));
  } else {
    // Opening a named pipe waits for its writer; a signal that stops the import ends the wait.
    for (fd_.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC)); !fd_.valid() && errno == EINTR;
         fd_.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC))) {
      if (stop_ && stop_()) throw ReadInterrupted("opening " + label_of(path) + " was interrupted");
    }
    if (!fd_.valid()) {
      throw UsageError("cannot open " + display_path(path) + ": " + std::string(strerror(errno)));
    }
  }
  {
    struct stat info {};
    if (fstat(fd_.get(), &info) != 0 || S_ISDIR(info.st_mode)) {
      throw UsageError("cannot read " + label_of(path) + ": not a file");
    }
    if (S_ISREG(info.st_mode)) size_ = static_cast<std::uint64_t>(info.st_size);
    waits_ = !S_ISREG(info.st_mode) && !S_ISBLK(info.st_mode);

    // The first two bytes tell gzip from anything else.
    while (end_ < 2) {
      const std::size_t got = read_stored(buffer_.data() + end_, buffer_.size() - end_);
      if (got == 0) break;
      end_ += got;
    }
    if (starts_gzip(reinterpret_cast<const unsigned char*>(buffer_.data()), end_)) {
      inflater_ = std::make_unique<Inflater>();
      if (inflateInit2(&inflater_->stream, 15 + 16) != Z_OK) fail("out of memory");
      std::memcpy(inflater_->input.data(), buffer_.data(), end_);
      inflater_->stream.next_in = inflater_->input.data();
      inflater_->stream.avail_in = static_cast<uInt>(end_);
      end_ = 0;
    }

    // The head is read before the first line is handed out, so that it can identify the input
    // before anything is sent.
    while (end_ < buffer_.size()) {
      const std::size_t got = produce(buffer_.data() + end_, buffer_.size() - end_);
      if (got == 0) break;
      end_ += got;
    }
  }
  refill_position_ = stored_read_;
  Fnv1a64 hash;
  hash.update(std::string_view(buffer_.data(), end_));
  head_hash_ = hash.hex();
  head_bytes_ = end_;
}

LineSource::~LineSource() = default;  // Inflater is complete here

void LineSource::fail(const std::string& problem) const {
  const std::string where = line_number_ == 0
                                ? label_of(path_)
                                : label_of(path_) + " after line " + std::to_string(line_number_);
  throw InputError("cannot read " + where + ": " + problem);
}

std::size_t LineSource::read_stored(char* out, std::size_t capacity) {
  if (stored_end_) return 0;
  while (true) {
    if (stop_ && stop_()) throw ReadInterrupted("reading " + label_of(path_) + " was interrupted");
    if (waits_) {
      pollfd watch{fd_.get(), POLLIN, 0};
      const int ready = poll(&watch, 1, kPollMilliseconds);
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      if (ready < 0) fail(strerror(errno));
    }
    const ssize_t got = ::read(fd_.get(), out, capacity);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;  // then ask `stop_` again
    if (got < 0) fail(strerror(errno));
    if (got == 0) stored_end_ = true;
    stored_read_ += static_cast<std::uint64_t>(got);
    position_.store(stored_read_, std::memory_order_relaxed);
    return static_cast<std::size_t>(got);
  }
}

bool LineSource::read_more_compressed() {
  z_stream& stream = inflater_->stream;
  std::vector<unsigned char>& input = inflater_->input;
  if (stream.avail_in > 0 && stream.next_in != input.data()) {
    std::memmove(input.data(), stream.next_in, stream.avail_in);
  }
  stream.next_in = input.data();
  const std::size_t got = read_stored(reinterpret_cast<char*>(input.data()) + stream.avail_in,
                                      input.size() - stream.avail_in);
  stream.avail_in += static_cast<uInt>(got);
  return got > 0;
}

std::size_t LineSource::produce(char* out, std::size_t capacity) {
  if (!pending_error_.empty()) fail(pending_error_);
  return inflater_ ? inflate_into(out, capacity) : read_stored(out, capacity);
}

std::size_t LineSource::inflate_into(char* out, std::size_t capacity) {
  z_stream& stream = inflater_->stream;
  std::size_t produced = 0;
  while (produced == 0) {
    if (inflater_->member_ended) {
      // Another member may follow (concatenated .gz files); anything else would be content
      // that zlib's own reader drops without a word.
      while (stream.avail_in < 2 && read_more_compressed()) {
      }
      if (stream.avail_in == 0) return 0;
      if (!starts_gzip(stream.next_in, stream.avail_in)) {
        fail("there is data after the end of the gzip stream");
      }
      inflateReset(&stream);
      inflater_->member_ended = false;
    }
    if (stream.avail_in == 0 && !read_more_compressed()) {
      fail("the gzip stream is cut short (the input ends in the middle of it)");
    }
    stream.next_out = reinterpret_cast<Bytef*>(out);
    stream.avail_out = static_cast<uInt>(capacity);
    const uInt available = stream.avail_in;
    const int status = inflate(&stream, Z_NO_FLUSH);
    produced = capacity - stream.avail_out;
    if (status == Z_STREAM_END) {
      inflater_->member_ended = true;
      continue;
    }
    // Z_BUF_ERROR: no progress without more input, which the next round reads.
    const bool progressed = produced > 0 || stream.avail_in != available;
    if (status == Z_OK || (status == Z_BUF_ERROR && (progressed || stream.avail_in == 0))) {
      continue;
    }
    const std::string problem =
        status == Z_MEM_ERROR
            ? "out of memory"
            : "not valid gzip data (" +
                  std::string(stream.msg != nullptr ? stream.msg
                                                    : "zlib error " + std::to_string(status)) +
                  ")";
    if (produced == 0) fail(problem);
    pending_error_ = problem;  // the content before the damage is handed out first
  }
  return produced;
}

bool LineSource::refill() {
  begin_ = end_ = 0;
  end_ = produce(buffer_.data(), buffer_.size());
  refill_position_ = stored_read_;
  return end_ > 0;
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
  if (!inflater_) {
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
