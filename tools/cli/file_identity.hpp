// SPDX-License-Identifier: Apache-2.0
// Whether two paths name one file: "./x" and "x", a symlink and its target, two hard links, or a
// file that does not exist yet under two spellings. Comparing the strings misses all of these.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace instasent::cli {

/// The file a path names: the device and inode of an existing file (symlinks followed), else
/// the place it would be created at (symlinks followed, the directory made canonical).
struct FileIdentity {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  std::string would_be;  ///< For a file that does not exist: canonical directory + "/" + name.

  bool same_as(const FileIdentity& other) const noexcept;
};

FileIdentity identify_path(const std::string& path);

/// The file open as `fd` when it is a regular file (standard input redirected from one).
std::optional<FileIdentity> identify_regular_file(int fd);

}  // namespace instasent::cli
