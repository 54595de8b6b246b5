// SPDX-License-Identifier: Apache-2.0
#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "instasent/error.hpp"
#include "json_text.hpp"
#include "spool_format.hpp"

namespace instasent::detail {

namespace {

namespace format = spool_format;

constexpr std::string_view kLockName = "LOCK";
constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::size_t kSegmentDigits = 20;
// Segment numbers go up to here; a file with a larger one is not ours. Reaching it (a file put
// there by hand) renumbers the segments from 1, so that the next number never wraps.
constexpr std::uint64_t kMaxSegmentNumber = 1'000'000'000'000'000'000ull;
// A segment holds at most 64 MiB and a record; a much larger file is not a segment.
constexpr std::uint64_t kMaxSegmentFileBytes = 256u << 20;

[[noreturn]] void refuse(const std::string& problem) {
  throw InvalidInputError("spool.directory", problem);
}

std::string errno_text() { return std::strerror(errno); }

// The number in a segment's file name, or 0 when the name is not one.
std::uint64_t segment_number(std::string_view name) {
  if (name.size() != kSegmentPrefix.size() + kSegmentDigits + kSegmentSuffix.size() ||
      name.substr(0, kSegmentPrefix.size()) != kSegmentPrefix ||
      name.substr(name.size() - kSegmentSuffix.size()) != kSegmentSuffix) {
    return 0;
  }
  std::uint64_t number = 0;
  for (const char c : name.substr(kSegmentPrefix.size(), kSegmentDigits)) {
    if (c < '0' || c > '9') return 0;
    if (number > (kMaxSegmentNumber - static_cast<unsigned>(c - '0')) / 10) return 0;
    number = number * 10 + static_cast<unsigned>(c - '0');
  }
  return number;
}

// Reads a regular file (never a link, a device or a directory) of at most `limit` bytes.
bool read_regular_file(const std::string& path, std::uint64_t limit, std::string& out,
                       std::string& problem) {
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    problem = errno_text();
    return false;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    problem = "not a regular file";
    return false;
  }
  if (static_cast<std::uint64_t>(info.st_size) > limit) {
    problem = "larger than any segment";
    return false;
  }
  out.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) problem = errno_text();
    if (n <= 0 || out.size() + static_cast<std::size_t>(n) > limit) return n == 0;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

void sync_directory(const std::string& directory) {
  const FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) ::fsync(fd.get());
}

}  // namespace

Spool::Spool(const SpoolOptions& options)
    : options_(options),
      segment_bytes_(std::clamp<std::uint64_t>(options.max_bytes / 8, 64u << 10, 4u << 20)) {
  if (options_.directory.empty()) refuse("is empty");
  if (::mkdir(options_.directory.c_str(), 0700) != 0 && errno != EEXIST) {
    refuse("cannot be created: " + errno_text());
  }
  // Should this throw, the descriptors opened so far close with their holders.
  lock_fd_.reset(::open((options_.directory + "/" + std::string(kLockName)).c_str(),
                        O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock_fd_.valid()) refuse("cannot be opened: " + errno_text());
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) refuse("is in use by another ingestor");
  std::vector<std::uint64_t> numbers = list_segments();
  if (!numbers.empty() && numbers.back() >= kMaxSegmentNumber) renumber(numbers);
  for (const std::uint64_t number : numbers) scan_segment(number);
  recovery_by_first_id_.clear();
  // Only the live ids are kept to read back.
  for (Recovery& recovery : recovery_) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < recovery.ids.size(); ++i) {
      if (recovery.state[i] == Recovery::ended) continue;
      if (recovery.state[i] == Recovery::damaged) ++recovered_damaged_;
      recovery.ids[kept++] = recovery.ids[i];
    }
    recovery.ids.resize(kept);
    recovery.ids.shrink_to_fit();
    recovery.state = {};
    segments_[recovery.segment].live += kept;
    recovered_items_ += kept;
  }
  recovery_.erase(std::remove_if(recovery_.begin(), recovery_.end(),
                                 [](const Recovery& recovery) { return recovery.ids.empty(); }),
                  recovery_.end());
  active_ = numbers.empty() ? 1 : numbers.back() + 1;
  open_ = true;
  std::string error;
  start_segment_locked(error);  // a full disk: appends are refused until a segment can start
  delete_free_segments_locked();
}

Spool::~Spool() { close(); }

std::vector<std::uint64_t> Spool::list_segments() {
  std::vector<std::uint64_t> numbers;
  const auto close_dir = [](DIR* dir) { ::closedir(dir); };
  const std::unique_ptr<DIR, decltype(close_dir)> listing(::opendir(options_.directory.c_str()),
                                                          close_dir);
  if (!listing) refuse("cannot be listed: " + errno_text());
  DIR* const dir = listing.get();
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == ".." || name == kLockName) continue;
    struct stat info {};
    const std::uint64_t number = segment_number(name);
    if (number != 0 && ::fstatat(::dirfd(dir), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(info.st_mode)) {
      numbers.push_back(number);
    } else {
      ++findings_.unknown_files;
      warn("not a spool file, left alone: " + printable_name(name, 200));
    }
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

void Spool::renumber(std::vector<std::uint64_t>& numbers) {
  // In ascending order, each to a number below every one not renamed yet: a crash halfway leaves
  // the order as it was.
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::uint64_t to = i + 1;
    if (numbers[i] != to &&
        std::rename(segment_path(numbers[i]).c_str(), segment_path(to).c_str()) != 0) {
      refuse("a segment cannot be renamed: " + errno_text());
    }
    numbers[i] = to;
  }
  sync_directory(options_.directory);
}

// Reads and parses a segment's file; false (with a warning) when it is not a segment.
bool Spool::read_segment_file(std::uint64_t number, format::SegmentContents& contents,
                              std::uint64_t& file_bytes) {
  std::string data;
  std::string problem;
  const std::string path = segment_path(number);
  if (!read_regular_file(path, kMaxSegmentFileBytes, data, problem)) {
    warn("not a segment, left alone: " + path + " (" + problem + ")");
    return false;
  }
  file_bytes = data.size();
  contents = format::read_segment(data);
  if (!contents.recognised) {
    warn("not a segment (no spool magic), left alone: " + path);
    return false;
  }
  return true;
}

// Learns which items of a segment are live, and which items of earlier segments its final states
// end. Keeps ids only.
void Spool::scan_segment(std::uint64_t number) {
  format::SegmentContents contents;
  std::uint64_t file_bytes = 0;
  if (!read_segment_file(number, contents, file_bytes)) {
    ++findings_.unknown_files;
    return;
  }
  const std::string path = segment_path(number);
  segments_[number].bytes = file_bytes;
  total_bytes_ += file_bytes;
  findings_.skipped_bytes += contents.skipped_bytes;
  findings_.damaged_records += contents.damaged_records;
  if (contents.damaged_records > 0) {
    warn(std::to_string(contents.damaged_records) + " damaged record(s) in " + path + ", " +
         std::to_string(contents.damaged.size()) +
         " of them items that can be named (reported "
         "as dropped, spool_damaged)");
  }
  Recovery recovery;
  recovery.segment = number;
  for (const format::ItemRecord& record : contents.items) recovery.ids.push_back(record.id);
  std::sort(recovery.ids.begin(), recovery.ids.end());
  recovery.ids.erase(std::unique(recovery.ids.begin(), recovery.ids.end()), recovery.ids.end());
  recovery.state.assign(recovery.ids.size(), Recovery::intact);
  // A damaged item counts when it was not also read intact.
  for (const format::ItemRecord& record : contents.damaged) {
    if (!std::binary_search(recovery.ids.begin(), recovery.ids.end(), record.id)) {
      const auto at = std::lower_bound(recovery.ids.begin(), recovery.ids.end(), record.id);
      recovery.state.insert(recovery.state.begin() + (at - recovery.ids.begin()),
                            Recovery::damaged);
      recovery.ids.insert(at, record.id);
    }
  }
  if (!recovery.ids.empty()) {
    next_id_ = std::max(next_id_, recovery.ids.back() + 1);
    recovery_by_first_id_[recovery.ids.front()] = recovery_.size();
    recovery_.push_back(std::move(recovery));
  }
  // A final state always follows its item.
  for (const std::uint64_t id : contents.done) {
    next_id_ = std::max(next_id_, id + 1);
    end_recovered(id);
  }
}

// Marks item `id` final, in whichever segment read so far holds it.
void Spool::end_recovered(std::uint64_t id) {
  auto holder = recovery_by_first_id_.upper_bound(id);
  if (holder == recovery_by_first_id_.begin()) return;
  Recovery& recovery = recovery_[std::prev(holder)->second];
  const auto found = std::lower_bound(recovery.ids.begin(), recovery.ids.end(), id);
  if (found != recovery.ids.end() && *found == id) {
    recovery.state[static_cast<std::size_t>(found - recovery.ids.begin())] = Recovery::ended;
  }
}

bool Spool::read_recovered(std::vector<SpooledItem>& items) {
  items.clear();
  while (next_recovery_ < recovery_.size()) {
    const Recovery recovery = std::move(recovery_[next_recovery_++]);
    format::SegmentContents contents;
    std::uint64_t file_bytes = 0;
    if (!read_segment_file(recovery.segment, contents, file_bytes)) continue;
    std::vector<bool> taken(recovery.ids.size());
    const auto keep = [&](format::ItemRecord& record, bool damaged) {
      const auto found = std::lower_bound(recovery.ids.begin(), recovery.ids.end(), record.id);
      if (found == recovery.ids.end() || *found != record.id) return;
      const auto index = static_cast<std::size_t>(found - recovery.ids.begin());
      if (taken[index]) return;  // read once: an intact record wins over a damaged one
      taken[index] = true;
      SpooledItem item;
      item.ref = {record.id, recovery.segment};
      item.op = record.op;
      item.tag = record.tag;
      item.user_id = std::move(record.user_id);
      item.event_id = std::move(record.event_id);
      item.json = std::move(record.json);
      item.damaged = damaged;
      items.push_back(std::move(item));
    };
    for (format::ItemRecord& record : contents.items) keep(record, false);
    for (format::ItemRecord& record : contents.damaged) keep(record, true);
    std::sort(items.begin(), items.end(),
              [](const SpooledItem& a, const SpooledItem& b) { return a.ref.id < b.ref.id; });
    if (!items.empty()) return true;
  }
  recovery_ = {};
  return false;
}

bool Spool::start_segment_locked(std::string& error) {
  const std::uint64_t number = active_;
  const std::string path = segment_path(number);
  fd_.reset(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd_.valid()) {
    error = "a segment cannot be created: " + errno_text();
    return false;
  }
  segments_[number] = Segment{};
  if (!write_locked(format::kMagic, error)) {
    // Tried again at the next append, under the same number.
    fd_.reset();
    active_ = number;
    ::unlink(path.c_str());
    segments_.erase(number);
    error = "a segment cannot be started: " + error;
    return false;
  }
  segments_[number].bytes = format::kMagic.size();
  total_bytes_ += format::kMagic.size();
  if (options_.sync != SpoolSync::none) {
    ::fdatasync(fd_.get());
    sync_directory(options_.directory);
  }
  last_sync_ = std::chrono::steady_clock::now();
  return true;
}

bool Spool::fits_a_record(const SpoolEntry& entry) {
  return format::item_payload_bytes(entry.user_id.size(), entry.event_id.size(),
                                    entry.json.size()) <= format::kMaxRecordBytes;
}

Spool::Append Spool::append(const SpoolEntry& entry, std::chrono::steady_clock::time_point deadline,
                            SpoolRef& ref, std::string& error) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!open_) {
    error = "the spool is closed";
    return Append::failed;
  }
  if (!fits_a_record(entry)) {
    error = "the item is larger than a spool record can be";
    return Append::failed;
  }
  const std::uint64_t payload_bytes =
      format::item_payload_bytes(entry.user_id.size(), entry.event_id.size(), entry.json.size());
  // The record's size at most: chunk headers and block padding on top of the payload.
  const std::uint64_t record_bytes =
      payload_bytes + (payload_bytes / format::kBlockBytes + 2) * 2 * format::kChunkHeaderBytes;
  const auto fits = [&] { return !open_ || total_bytes_ + record_bytes <= options_.max_bytes; };
  if (!fits()) {
    write_done_locked();  // final states noted but not yet applied may free segments
    if (!room_cv_.wait_until(lock, deadline, fits)) return Append::full;
    if (!open_) {
      error = "the spool is closed";
      return Append::failed;
    }
  }
  const std::uint64_t id = next_id_;
  const std::string record =
      format::item_payload(id, entry.op, entry.tag, entry.user_id, entry.event_id, entry.json);
  const Append result = append_locked(record, error);
  if (result == Append::ok) {
    ++next_id_;
    ref = {id, active_};
    ++segments_[active_].live;
  }
  return result;
}

Spool::Append Spool::append_locked(std::string_view payload, std::string& error) {
  if (fd_.valid() && segments_[active_].bytes >= segment_bytes_) {
    // Start a new segment, so that older ones can be deleted once all they hold is final.
    sync_locked(true);
    fd_.reset();
    ++active_;
    delete_free_segments_locked();
  }
  if (!fd_.valid() && !start_segment_locked(error)) return Append::failed;
  std::string bytes;
  format::append_record(bytes, segments_[active_].bytes, payload);
  if (!write_locked(bytes, error)) return Append::failed;
  segments_[active_].bytes += bytes.size();
  total_bytes_ += bytes.size();
  unsynced_ = true;
  sync_locked(false);
  return Append::ok;
}

bool Spool::write_locked(std::string_view bytes, std::string& error) {
  const auto start = static_cast<off_t>(segments_[active_].bytes);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd_.get(), bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno_text() : "nothing written";
      // A partial record would read as a damaged one; cut it off so the next one follows cleanly.
      if (::ftruncate(fd_.get(), start) != 0) {
        // The segment cannot be trusted to end where it is counted: start another.
        fd_.reset();
        ++active_;
      }
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return true;
}

void Spool::sync_locked(bool force) {
  if (!unsynced_ || !fd_.valid()) return;
  const auto now = std::chrono::steady_clock::now();
  const bool due =
      options_.sync == SpoolSync::always || (options_.sync == SpoolSync::interval &&
                                             (force || now - last_sync_ >= options_.sync_interval));
  if (!due) return;
  ::fdatasync(fd_.get());
  unsynced_ = false;
  last_sync_ = now;
}

void Spool::done(const SpoolRef& ref) {
  if (ref.id == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!open_) return;
  const auto segment = segments_.find(ref.segment);
  if (segment == segments_.end()) return;
  if (segment->second.live > 0) --segment->second.live;
  pending_done_.push_back(ref);
}

void Spool::write_done() {
  std::lock_guard<std::mutex> lock(mutex_);
  write_done_locked();
}

void Spool::write_done_locked() {
  if (!open_ || pending_done_.empty()) return;
  delete_free_segments_locked();
  // Only items whose segment is still there need their final state written: the others went
  // with their segment.
  std::vector<SpoolRef> needed;
  for (const SpoolRef& ref : pending_done_) {
    if (segments_.count(ref.segment) > 0) needed.push_back(ref);
  }
  pending_done_.clear();
  if (needed.empty()) return;
  std::string error;
  if (!fd_.valid() && !start_segment_locked(error)) {
    pending_done_ = std::move(needed);  // a full disk: kept for the next call
    return;
  }
  std::string records;
  for (const SpoolRef& ref : needed) {
    format::append_record(records, segments_[active_].bytes + records.size(),
                          format::done_payload(ref.id));
  }
  // Not synced: should these records be lost, their items are sent again (delivery is at least
  // once; resending is idempotent).
  if (write_locked(records, error)) {
    segments_[active_].bytes += records.size();
    total_bytes_ += records.size();
    unsynced_ = true;
  } else {
    pending_done_ = std::move(needed);
  }
}

void Spool::delete_free_segments_locked() {
  bool deleted = false;
  while (!segments_.empty()) {
    const auto oldest = segments_.begin();
    if ((fd_.valid() && oldest->first == active_) || oldest->second.live > 0) break;
    ::unlink(segment_path(oldest->first).c_str());
    total_bytes_ -= oldest->second.bytes;
    segments_.erase(oldest);
    deleted = true;
  }
  if (deleted) room_cv_.notify_all();
}

std::pair<std::uint64_t, std::uint64_t> Spool::oldest_segment() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (segments_.empty() || (fd_.valid() && segments_.begin()->first == active_)) return {0, 0};
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
  fd_.reset();
  lock_fd_.reset();  // releases the flock
  room_cv_.notify_all();
}

void Spool::abandon_in_child() {
  // The parent owns the directory: the child writes nothing. Closing its descriptors leaves the
  // parent's lock in place (the lock belongs to the open file, which the parent still holds).
  open_ = false;
  pending_done_.clear();
  fd_.reset();
  lock_fd_.reset();
}

void Spool::warn(const std::string& message) const {
  if (!options_.on_warning) return;
  try {
    options_.on_warning("instasent spool " + options_.directory + ": " + message);
  } catch (...) {  // a throwing callback must not stop the spool from opening
  }
}

std::string Spool::segment_path(std::uint64_t number) const {
  char name[48];
  std::snprintf(name, sizeof name, "segment-%020llu.log", static_cast<unsigned long long>(number));
  return options_.directory + "/" + name;
}

}  // namespace instasent::detail
