// SPDX-License-Identifier: Apache-2.0
#include "file_identity.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

namespace instasent::cli {

namespace {

// As the kernel resolves symlinks (ELOOP beyond that).
constexpr int kMaxSymlinks = 40;

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Where opening `path` with O_CREAT would create the file: through a dangling symlink, at its
// target.
std::string creation_target(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  for (int hops = 0; hops < kMaxSymlinks; ++hops) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) break;
    char target[PATH_MAX];
    const ssize_t length = readlink(path.c_str(), target, sizeof target - 1);
    if (length <= 0) break;
    const std::string next(target, static_cast<std::size_t>(length));
    path = next.front() == '/' ? next : directory_of(path) + "/" + next;
  }
  return path;
}

}  // namespace

bool FileIdentity::same_as(const FileIdentity& other) const noexcept {
  if (exists != other.exists) return false;
  if (exists) return device == other.device && inode == other.inode;
  return !would_be.empty() && would_be == other.would_be;
}

FileIdentity identify_path(const std::string& path) {
  FileIdentity identity;
  struct stat info {};
  if (stat(path.c_str(), &info) == 0) {
    identity.exists = true;
    identity.device = info.st_dev;
    identity.inode = info.st_ino;
    return identity;
  }
  const std::string target = creation_target(path);
  const std::unique_ptr<char, decltype(&std::free)> directory(
      realpath(directory_of(target).c_str(), nullptr), &std::free);
  // A directory that does not exist: nothing can be created there, so the spelling will do.
  if (!directory) {
    identity.would_be = target;
  } else {
    identity.would_be = directory.get();
    if (identity.would_be.back() != '/') identity.would_be += '/';
    identity.would_be += name_of(target);
  }
  return identity;
}

std::optional<FileIdentity> identify_regular_file(int fd) {
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  FileIdentity identity;
  identity.exists = true;
  identity.device = info.st_dev;
  identity.inode = info.st_ino;
  return identity;
}

}  // namespace instasent::cli
