// SPDX-License-Identifier: Apache-2.0
#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "instasent/error.hpp"

namespace instasent::detail {

namespace {

constexpr std::string_view kMagic = "ISPOOL1\n";
constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::size_t kHeaderBytes = 8;  // length + checksum
// No record is larger than this (items are bounded by the batch size); a larger length is
// corruption, not a reason to allocate.
constexpr std::uint32_t kMaxPayload = 64u << 20;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}

template <typename T>
void put_little_endian(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_u32(std::string& out, std::uint32_t v) { put_little_endian(out, v); }
void put_u64(std::string& out, std::uint64_t v) { put_little_endian(out, v); }

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads from a payload, refusing to run past its end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(std::uint8_t& v) { return little_endian(v); }
  bool u32(std::uint32_t& v) { return little_endian(v); }
  bool u64(std::uint64_t& v) { return little_endian(v); }
  bool bytes(std::string& v) {
    std::uint32_t size = 0;
    if (!u32(size) || data_.size() < size) return false;
    v.assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }

 private:
  template <typename T>
  bool little_endian(T& v) {
    if (data_.size() < sizeof(T)) return false;
    v = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) {
      v = static_cast<T>((v << 8) | static_cast<std::uint8_t>(data_[i]));
    }
    data_.remove_prefix(sizeof(T));
    return true;
  }

  std::string_view data_;
};

std::string frame(const std::string& payload) {
  std::string record;
  record.reserve(kHeaderBytes + payload.size());
  put_u32(record, static_cast<std::uint32_t>(payload.size()));
  put_u32(record, crc32(payload));
  record.append(payload);
  return record;
}

[[noreturn]] void refuse(const std::string& problem) {
  throw InvalidInputError("spool.directory", problem);
}

std::string errno_text() { return std::strerror(errno); }

bool read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : bytes) c = table[(c ^ static_cast<std::uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Spool::Spool(const SpoolOptions& options)
    : options_(options),
      segment_bytes_(std::clamp<std::uint64_t>(options.max_bytes / 8, 64u << 10, 64u << 20)) {
  if (options_.directory.empty()) refuse("is empty");
  if (::mkdir(options_.directory.c_str(), 0700) != 0 && errno != EEXIST) {
    refuse("cannot be created: " + errno_text());
  }
  lock_fd_ = ::open((options_.directory + "/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) refuse("cannot be opened: " + errno_text());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    refuse("is in use by another ingestor");
  }
  try {
    std::vector<std::uint64_t> numbers;
    DIR* dir = ::opendir(options_.directory.c_str());
    if (dir == nullptr) refuse("cannot be listed: " + errno_text());
    while (const dirent* entry = ::readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name.size() <= kSegmentPrefix.size() + kSegmentSuffix.size() ||
          name.substr(0, kSegmentPrefix.size()) != kSegmentPrefix ||
          name.substr(name.size() - kSegmentSuffix.size()) != kSegmentSuffix) {
        continue;
      }
      const std::string digits(name.substr(
          kSegmentPrefix.size(), name.size() - kSegmentPrefix.size() - kSegmentSuffix.size()));
      if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
      numbers.push_back(std::stoull(digits));
    }
    ::closedir(dir);
    std::sort(numbers.begin(), numbers.end());

    std::map<std::uint64_t, SpooledItem> live;  // by id
    for (const std::uint64_t number : numbers) read_segment(number, live);
    for (auto& [id, item] : live) {
      ++segments_[item.ref.segment].live;
      recovered_.push_back(std::move(item));
    }
    active_ = numbers.empty() ? 1 : numbers.back() + 1;
    open_active_segment();
    open_ = true;
    delete_free_segments_locked();
  } catch (...) {
    if (fd_ >= 0) ::close(fd_);
    ::close(lock_fd_);
    throw;
  }
}

Spool::~Spool() { close(); }

void Spool::read_segment(std::uint64_t number, std::map<std::uint64_t, SpooledItem>& live) {
  std::string data;
  if (!read_file(segment_path(number), data)) refuse("a segment cannot be read: " + errno_text());
  segments_[number].bytes = data.size();
  total_bytes_ += data.size();
  if (data.size() < kMagic.size() || std::string_view(data).substr(0, kMagic.size()) != kMagic) {
    skipped_bytes_ += data.size();  // torn while its magic was written, or not ours
    return;
  }
  std::string_view rest = std::string_view(data).substr(kMagic.size());
  while (!rest.empty()) {
    Reader header(rest);
    std::uint32_t size = 0;
    std::uint32_t checksum = 0;
    if (!header.u32(size) || !header.u32(checksum) || size > kMaxPayload ||
        rest.size() - kHeaderBytes < size) {
      break;
    }
    const std::string_view payload = rest.substr(kHeaderBytes, size);
    if (crc32(payload) != checksum) break;
    rest.remove_prefix(kHeaderBytes + size);

    Reader reader(payload);
    std::uint8_t type = 0;
    std::uint64_t id = 0;
    if (!reader.u8(type) || !reader.u64(id)) continue;
    next_id_ = std::max(next_id_, id + 1);
    if (type == 'D') {
      live.erase(id);
      continue;
    }
    SpooledItem item;
    std::uint8_t op = 0;
    if (type != 'A' || !reader.u8(op) ||
        op > static_cast<std::uint8_t>(Operation::delete_contact) || !reader.u64(item.tag) ||
        !reader.bytes(item.user_id) || !reader.bytes(item.event_id) || !reader.bytes(item.json)) {
      continue;  // checksummed but unknown: a newer writer's record type; skip it
    }
    item.ref = {id, number};
    item.op = static_cast<Operation>(op);
    live[id] = std::move(item);
  }
  skipped_bytes_ += rest.size();
}

void Spool::open_active_segment() {
  const std::string path = segment_path(active_);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) refuse("a segment cannot be created: " + errno_text());
  std::string error;
  if (!write_locked(kMagic, error)) refuse("a segment cannot be written: " + error);
  segments_[active_].bytes += kMagic.size();
  total_bytes_ += kMagic.size();
  if (options_.sync != SpoolSync::none) {
    ::fdatasync(fd_);
    sync_directory(options_.directory);
  }
  last_sync_ = std::chrono::steady_clock::now();
}

std::vector<SpooledItem> Spool::take_recovered() { return std::move(recovered_); }

Spool::Append Spool::append(const SpoolEntry& entry, std::chrono::steady_clock::time_point deadline,
                            SpoolRef& ref, std::string& error) {
  std::string payload;
  payload.reserve(1 + 8 + 1 + 8 + 12 + entry.user_id.size() + entry.event_id.size() +
                  entry.json.size());
  payload.push_back('A');
  const std::size_t id_at = payload.size();
  put_u64(payload, 0);  // the id, set under the lock
  payload.push_back(static_cast<char>(entry.op));
  put_u64(payload, entry.tag);
  put_bytes(payload, entry.user_id);
  put_bytes(payload, entry.event_id);
  put_bytes(payload, entry.json);
  const std::uint64_t record_bytes = kHeaderBytes + payload.size();

  std::unique_lock<std::mutex> lock(mutex_);
  if (!open_) {
    error = "the spool is closed";
    return Append::failed;
  }
  const auto fits = [&] { return !open_ || total_bytes_ + record_bytes <= options_.max_bytes; };
  if (!fits()) {
    write_done_locked();  // final states noted but not yet written may free segments
    if (!room_cv_.wait_until(lock, deadline, fits)) return Append::full;
    if (!open_) {
      error = "the spool is closed";
      return Append::failed;
    }
  }
  const std::uint64_t id = next_id_;
  for (int i = 0; i < 8; ++i) payload[id_at + i] = static_cast<char>((id >> (8 * i)) & 0xFF);
  const Append result = append_locked(frame(payload), error);
  if (result == Append::ok) {
    ++next_id_;
    ref = {id, active_};
    ++segments_[active_].live;
  }
  return result;
}

Spool::Append Spool::append_locked(std::string_view record, std::string& error) {
  if (segments_[active_].bytes >= segment_bytes_) {
    // Start a new segment, so that older ones can be deleted once all they hold is final.
    sync_locked(true);
    ::close(fd_);
    fd_ = -1;
    ++active_;
    try {
      open_active_segment();
    } catch (const Error& e) {
      error = e.what();
      open_ = false;
      return Append::failed;
    }
    delete_free_segments_locked();
  }
  if (!write_locked(record, error)) return Append::failed;
  segments_[active_].bytes += record.size();
  total_bytes_ += record.size();
  unsynced_ = true;
  sync_locked(false);
  return Append::ok;
}

bool Spool::write_locked(std::string_view bytes, std::string& error) {
  const auto start = static_cast<off_t>(segments_[active_].bytes);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno_text() : "nothing written";
      // A partial record would read as a torn one; cut it off so the next one follows cleanly.
      if (::ftruncate(fd_, start) != 0) open_ = false;
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return true;
}

void Spool::sync_locked(bool force) {
  if (!unsynced_ || fd_ < 0) return;
  const auto now = std::chrono::steady_clock::now();
  const bool due =
      options_.sync == SpoolSync::always || (options_.sync == SpoolSync::interval &&
                                             (force || now - last_sync_ >= options_.sync_interval));
  if (!due) return;
  ::fdatasync(fd_);
  unsynced_ = false;
  last_sync_ = now;
}

void Spool::done(const SpoolRef& ref) {
  if (ref.id == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) pending_done_.push_back(ref);
}

void Spool::write_done() {
  std::lock_guard<std::mutex> lock(mutex_);
  write_done_locked();
}

void Spool::write_done_locked() {
  if (!open_ || pending_done_.empty()) return;
  std::string records;
  for (const SpoolRef& ref : pending_done_) {
    std::string payload;
    payload.push_back('D');
    put_u64(payload, ref.id);
    records += frame(payload);
  }
  // Not synced: should these records be lost, their items are sent again (delivery is at least
  // once; resending is idempotent).
  std::string error;
  if (write_locked(records, error)) {
    segments_[active_].bytes += records.size();
    total_bytes_ += records.size();
    unsynced_ = true;
    for (const SpoolRef& ref : pending_done_) {
      const auto segment = segments_.find(ref.segment);
      if (segment != segments_.end() && segment->second.live > 0) --segment->second.live;
    }
    delete_free_segments_locked();
  }
  pending_done_.clear();
}

void Spool::delete_free_segments_locked() {
  bool deleted = false;
  while (segments_.size() > 1) {
    const auto oldest = segments_.begin();
    if (oldest->first == active_ || oldest->second.live > 0) break;
    ::unlink(segment_path(oldest->first).c_str());
    total_bytes_ -= oldest->second.bytes;
    segments_.erase(oldest);
    deleted = true;
  }
  if (deleted) room_cv_.notify_all();
}

std::pair<std::uint64_t, std::uint64_t> Spool::oldest_segment() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (segments_.empty() || segments_.begin()->first == active_) return {0, 0};
  return {segments_.begin()->first, segments_.begin()->second.live};
}

std::uint64_t Spool::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_bytes_;
}

void Spool::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) {
    write_done_locked();
    sync_locked(true);
    open_ = false;
  }
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  fd_ = lock_fd_ = -1;
  room_cv_.notify_all();
}

void Spool::abandon_in_child() {
  // The parent owns the directory: the child writes nothing. Closing its descriptors leaves the
  // parent's lock in place (the lock belongs to the open file, which the parent still holds).
  open_ = false;
  pending_done_.clear();
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  fd_ = lock_fd_ = -1;
}

std::string Spool::segment_path(std::uint64_t number) const {
  char name[48];
  std::snprintf(name, sizeof name, "segment-%020llu.log", static_cast<unsigned long long>(number));
  return options_.directory + "/" + name;
}

}  // namespace instasent::detail
