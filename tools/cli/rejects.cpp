// SPDX-License-Identifier: Apache-2.0
#include "rejects.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

constexpr std::size_t kBufferBytes = 64u << 10;

// Keeps the records of lines up to `keep_through`; a record cut short by a crash, which cannot
// belong to a confirmed line (those are synced before the checkpoint names them), is dropped.
void keep_confirmed_records(const std::string& path, std::uint64_t keep_through) {
  // Only a regular file holds earlier records; a device or a pipe might never end.
  struct stat info {};
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // no earlier rejects
  const std::string temporary = path + ".tmp";
  // What a crash left there goes first, so that a symlink planted there is not followed.
  if (unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    throw UsageError("cannot replace " + display_path(temporary) + ": " + std::strerror(errno));
  }
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  if (!out) {
    throw UsageError("cannot write " + display_path(temporary) + ": " + std::strerror(errno));
  }
  std::string line;
  while (std::getline(in, line)) {
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) continue;
    const auto number = record.find("line");
    if (number == record.end() || !number->is_number_unsigned() ||
        number->get<std::uint64_t>() > keep_through) {
      continue;
    }
    out << line << '\n';
  }
  out.close();
  if (!out || std::rename(temporary.c_str(), path.c_str()) != 0) {
    throw UsageError("cannot rewrite " + display_path(path) + ": " + std::strerror(errno));
  }
}

}  // namespace

std::string describe_errors(const FieldErrors& errors) {
  std::string text;
  for (const auto& [field, messages] : errors) {
    if (!text.empty()) text += "; ";
    if (!field.empty()) text += field + ": ";
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (i > 0) text += ", ";
      text += messages[i];
    }
  }
  return printable(text, 300);
}

std::string reject_record(std::string_view where, std::string_view item_json,
                          const FieldErrors& errors, std::string_view types_json) {
  json error_object = json::object();
  for (const auto& [field, messages] : errors) error_object[field] = messages;
  std::string record = "{";
  record += where;
  record += ",\"item\":";
  record += item_json;
  record += ",\"errors\":";
  record += error_object.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!types_json.empty()) {
    record += ",\"types\":";
    record += types_json;
  }
  record += "}";
  return record;
}

RejectsWriter::RejectsWriter(const std::string& path, std::optional<std::uint64_t> keep_through)
    : path_(path) {
  if (keep_through) keep_confirmed_records(path, *keep_through);
  open_file(keep_through ? O_APPEND : O_TRUNC);
}

RejectsWriter::RejectsWriter(const std::string& path, Append) : path_(path) { open_file(O_APPEND); }

void RejectsWriter::open_file(int flags) {
  fd_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644));
  if (!fd_.valid()) {
    throw UsageError("cannot write " + display_path(path_) + ": " + std::strerror(errno));
  }
  buffer_.reserve(kBufferBytes);
}

RejectsWriter::~RejectsWriter() {
  try {
    flush();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "instasent: %s\n", error.what());
  }
}

void RejectsWriter::write(std::uint64_t line, std::string_view item_json, const FieldErrors& errors,
                          std::string_view types_json) {
  write_record(reject_record("\"line\":" + std::to_string(line), item_json, errors, types_json));
}

void RejectsWriter::write_record(std::string_view record) {
  buffer_ += record;
  buffer_ += '\n';
  ++written_;
  if (buffer_.size() >= kBufferBytes) flush();
}

void RejectsWriter::flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t wrote = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      buffer_.erase(0, done);
      throw std::runtime_error("cannot write " + display_path(path_) + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(wrote);
  }
  buffer_.clear();
}

void RejectsWriter::sync() {
  flush();
  if (fsync(fd_.get()) != 0 && errno != EINVAL) {  // EINVAL: a pipe or device, nothing to sync
    throw std::runtime_error("cannot sync " + display_path(path_) + ": " + std::strerror(errno));
  }
}

}  // namespace instasent::cli
