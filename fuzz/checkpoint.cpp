// SPDX-License-Identifier: Apache-2.0
// The command-line tool's checkpoint reader: any file content is a checkpoint or a usage error
// (exit 2), never a crash and never a line that would skip input it should not.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "checkpoint.hpp"
#include "exit_codes.hpp"
#include "fuzz_support.hpp"

using namespace instasent::cli;
using instasent::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A file in memory, read through its /proc path as the tool reads a checkpoint file.
  static const int fd = memfd_create("checkpoint", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    const auto checkpoint = Checkpoint::load(path);
    require(checkpoint.has_value(), "an existing file is a checkpoint or an error");
  } catch (const UsageError&) {
  }
  return 0;
}
