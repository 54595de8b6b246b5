// SPDX-License-Identifier: Apache-2.0
#include "checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "file_descriptor.hpp"
#include "instasent/event.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;
// Far more than a checkpoint takes; a larger file is not one (and is not read into memory).
constexpr std::size_t kMaxCheckpointBytes = std::size_t{64} << 10;

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error("cannot " + what + " " + display_path(path) + ": " +
                           std::strerror(errno));
}

void write_all(int fd, const std::string& text, const std::string& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t wrote = write(fd, text.data() + done, text.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) fail("write", path);
    done += static_cast<std::size_t>(wrote);
  }
}

// A new temporary file beside `path`. What a crash left there is removed first, and a symlink
// planted there is not followed: the file written is always the one renamed into place.
int create_temporary(const std::string& temporary) {
  if (unlink(temporary.c_str()) != 0 && errno != ENOENT) fail("replace", temporary);
  const int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", temporary);
  return fd;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string InputIdentity::difference(const InputIdentity& other) const {
  if (size && other.size && *size != *other.size) {
    return "its size is " + std::to_string(*other.size) + " bytes, the checkpoint's input had " +
           std::to_string(*size);
  }
  if (head_hash != other.head_hash || head_bytes != other.head_bytes) {
    return "its first " + std::to_string(std::max(head_bytes, other.head_bytes)) +
           " bytes differ from the checkpoint's input";
  }
  return {};
}

std::optional<Checkpoint> Checkpoint::load(const std::string& path) {
  const std::string name = display_path(path);
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw UsageError("cannot read checkpoint " + name + ": " + std::strerror(errno));
  }
  // A device or a pipe would never end, or never answer.
  if (!S_ISREG(info.st_mode)) throw UsageError("the checkpoint " + name + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read checkpoint " + name);
  std::string text(kMaxCheckpointBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto bad = [&]() {
    return UsageError(name + " is not a checkpoint of this tool (delete it to start over)");
  };
  if (text.size() > kMaxCheckpointBytes) throw bad();
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  // A count: a JSON integer from 0 up. -5, 1e30 or "12" would make get<uint64_t> wrap, round or
  // fail.
  const auto count = [&](const json& value) {
    if (!value.is_number_unsigned()) throw bad();
    return value.get<std::uint64_t>();
  };
  Checkpoint checkpoint;
  try {
    if (!j.is_object() || j.at("instasent_checkpoint") != kFormatVersion) throw bad();
    const std::string kind = j.at("kind").get<std::string>();
    if (kind != "contacts" && kind != "events") throw bad();
    checkpoint.kind = kind == "contacts" ? ItemKind::contacts : ItemKind::events;
    const json& input = j.at("input");
    checkpoint.input.path = input.at("path").get<std::string>();
    if (!input.at("size").is_null()) checkpoint.input.size = count(input.at("size"));
    checkpoint.input.head_hash = input.at("head_hash").get<std::string>();
    checkpoint.input.head_bytes = count(input.at("head_bytes"));
    const json& line = j.at("line");
    if (!line.is_number_unsigned()) {
      throw UsageError("the checkpoint " + name +
                       " is damaged: its line is not a number of lines (a whole number from 0 "
                       "up); delete it to start over");
    }
    checkpoint.line = line.get<std::uint64_t>();
  } catch (const json::exception&) {
    throw bad();
  }
  return checkpoint;
}

void Checkpoint::check_writable(const std::string& path) {
  const std::string temporary = path + ".tmp";
  close(create_temporary(temporary));
  unlink(temporary.c_str());
}

void Checkpoint::save(const std::string& path) const {
  const json j = {
      {"instasent_checkpoint", kFormatVersion},
      {"kind", to_string(kind)},
      {"input",
       {{"path", input.path},
        {"size", input.size ? json(*input.size) : json(nullptr)},
        {"head_hash", input.head_hash},
        {"head_bytes", input.head_bytes}}},
      {"line", line},
      {"updated", format_iso8601(std::chrono::system_clock::now())},
  };
  const std::string text = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  const std::string temporary = path + ".tmp";
  detail::FileDescriptor fd(create_temporary(temporary));
  write_all(fd.get(), text, temporary);
  if (fsync(fd.get()) != 0) fail("sync", temporary);
  if (!fd.close()) fail("close", temporary);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) fail("rename into", path);
  // The rename itself reaches the disk with the directory.
  const detail::FileDescriptor directory(
      open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory.valid()) fsync(directory.get());
}

DeliveryTracker::DeliveryTracker(std::uint64_t confirmed) : read_through_(confirmed) {}

void DeliveryTracker::settled(std::uint64_t last_line) {
  read_through_ = std::max(read_through_, last_line);
}

void DeliveryTracker::sent(PendingItem item) {
  read_through_ = std::max(read_through_, item.last_line);
  // In input order, at the back; anything else where it belongs.
  const auto at = sent_.empty() || sent_.back().item.first_line < item.first_line
                      ? sent_.end()
                      : std::lower_bound(sent_.begin(), sent_.end(), item.first_line, before);
  sent_.insert(at, Sent{std::move(item)});
  ++pending_;
}

std::optional<PendingItem> DeliveryTracker::take(std::uint64_t first_line) {
  const auto it = std::lower_bound(sent_.begin(), sent_.end(), first_line, before);
  if (it == sent_.end() || it->item.first_line != first_line || it->taken) return std::nullopt;
  PendingItem item = std::move(it->item);
  it->taken = true;
  --pending_;
  while (!sent_.empty() && sent_.front().taken) sent_.pop_front();
  // A record in flight for long (retried) keeps those taken after it: past twice the records in
  // flight, they go at once, so that memory follows what is in flight.
  constexpr std::size_t kSlack = 1'024;
  if (sent_.size() > 2 * pending_ + kSlack) {
    sent_.erase(std::remove_if(sent_.begin(), sent_.end(), [](const Sent& s) { return s.taken; }),
                sent_.end());
  }
  return item;
}

void DeliveryTracker::unconfirmed(std::uint64_t first_line) {
  if (first_unconfirmed_ == 0 || first_line < first_unconfirmed_) first_unconfirmed_ = first_line;
}

std::uint64_t DeliveryTracker::confirmed_through() const noexcept {
  std::uint64_t through = sent_.empty() ? read_through_ : sent_.front().item.first_line - 1;
  if (first_unconfirmed_ != 0) through = std::min(through, first_unconfirmed_ - 1);
  return through;
}

}  // namespace instasent::cli
