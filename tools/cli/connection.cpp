// SPDX-License-Identifier: Apache-2.0
#include "connection.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

#include "exit_codes.hpp"
#include "file_descriptor.hpp"
#include "instasent/error.hpp"
#include "text.hpp"

namespace instasent::cli {

namespace {

constexpr std::size_t kMaxTokenFileBytes = std::size_t{64} << 10;
// As the SDK checks it (ClientOptions::token).
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Which flag sets what an SDK error's field names, e.g. "project (INSTASENT_PROJECT)".
const char* flag_for(const std::string& field) {
  if (field.rfind("project", 0) == 0) return "--project";
  if (field.rfind("datasource", 0) == 0) return "--datasource";
  if (field.rfind("token", 0) == 0) return "--token-file";
  if (field.rfind("base URL", 0) == 0) return "--base-url";
  return nullptr;
}

}  // namespace

std::string read_token_file(const std::string& path) {
  const std::string name = display_path(path);
  const detail::FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    throw UsageError("cannot read the token file " + name + ": " + std::strerror(errno));
  }
  std::string text;
  struct stat info {};
  const bool is_file = fstat(fd.get(), &info) == 0 && !S_ISDIR(info.st_mode);
  if (is_file) {
    // One byte more than a token file may hold tells one that is too large.
    text.resize(kMaxTokenFileBytes + 1);
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t got = read(fd.get(), text.data() + done, text.size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      done += static_cast<std::size_t>(got);
    }
    text.resize(done);
  }
  if (!is_file) throw UsageError("cannot read the token file " + name + ": not a file");
  if (text.size() > kMaxTokenFileBytes) {
    throw UsageError("the token file " + name + " is larger than 64 KiB: it holds no token");
  }
  if (S_ISREG(info.st_mode) && (info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(info.st_mode & 0777));
    std::fprintf(stderr,
                 "instasent: warning: the token file %s can be read or changed by other users "
                 "(mode %s); run chmod 600 %s\n",
                 name.c_str(), mode, name.c_str());
  }

  // The token alone, on a line of its own: a byte order mark, blank lines and the blanks around
  // it (an editor's, or a copy's) are not part of it.
  std::string_view content(text);
  if (content.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    content.remove_prefix(kByteOrderMark.size());
  }
  std::string_view token;
  while (!content.empty()) {
    const auto newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty()) continue;
    if (!token.empty()) {
      throw UsageError("the token file " + name +
                       " holds more than one line: write the token alone on one line");
    }
    token = line;
  }
  if (token.empty()) throw UsageError("the token file " + name + " holds no token");
  // The SDK's rule, said here so that the message names the file rather than INSTASENT_TOKEN.
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      throw UsageError("the token file " + name +
                       " holds an invalid token: it contains a space, a control character (such "
                       "as CR) or a non-ASCII byte");
    }
  }
  if (token.size() > kMaxTokenBytes) {
    throw UsageError("the token file " + name + " holds an invalid token: it is longer than " +
                     std::to_string(kMaxTokenBytes) + " bytes");
  }
  return std::string(token);
}

ClientOptions client_options(const ConnectionFlags& flags) {
  ClientOptions options = ClientOptions::from_env();
  if (!flags.project.empty()) options.project = flags.project;
  if (!flags.datasource.empty()) options.datasource = flags.datasource;
  if (!flags.base_url.empty()) options.base_url = flags.base_url;
  if (!flags.token_file.empty()) options.token = read_token_file(flags.token_file);
  if (flags.max_attempts > 0) options.retry.max_attempts = flags.max_attempts;
  if (flags.verbose > 0) {
    options.log_level = flags.verbose >= 2 ? LogLevel::debug : LogLevel::info;
    options.on_log = [](const LogRecord& record) {
      static std::mutex mutex;  // records come from several sender threads
      const std::string line = "instasent: " + format(record) + "\n";
      std::lock_guard<std::mutex> lock(mutex);
      std::fputs(line.c_str(), stderr);
    };
  }
  return options;
}

Client make_client(const ClientOptions& options) {
  try {
    return Client(options);
  } catch (const InvalidInputError& error) {
    // what() reads "instasent: invalid input: FIELD PROBLEM"; the field names the variable.
    std::string message = error.what();
    const std::string prefix = "instasent: invalid input: ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    if (const char* flag = flag_for(error.field()))
      message += " (or pass " + std::string(flag) + ")";
    throw UsageError(message);
  }
}

}  // namespace instasent::cli
