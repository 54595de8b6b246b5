// SPDX-License-Identifier: Apache-2.0
// Helpers for the command-line tool's tests: a scratch directory, the `instasent` binary run as a
// child process (stdout and stderr captured in files, stdin from a file), a named pipe that never
// ends, and the emulator binary with its admin API.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>

#include "emulator/emulator_fixture.hpp"
#include "support/child_process.hpp"
#include "support/scratch_dir.hpp"

namespace instasent::cli::testing {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using namespace std::chrono_literals;

using test_support::read_file;
using test_support::ScratchDir;

/// Environment variables for a run of the CLI, by name.
using Env = std::map<std::string, std::string>;

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline bool file_exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Polls `condition` every 10 ms until it holds (true) or `timeout` has passed (false).
template <typename Condition>
bool wait_until(Condition condition, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void write_gzip(const std::string& path, const std::string& content) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("gzopen " + path);
  gzwrite(file, content.data(), static_cast<unsigned>(content.size()));
  gzclose(file);
}

/// The NDJSON line of contact `i`: {"_user_id":"U<i>","_email":"u<i>@example.com","n":i}, or
/// without "_email" when `with_email` is false.
inline std::string contact_line(int i, bool with_email = true) {
  json contact{{"_user_id", "U" + std::to_string(i)}, {"n", i}};
  if (with_email) contact["_email"] = "u" + std::to_string(i) + "@example.com";
  return contact.dump();
}

/// The NDJSON lines of contacts `first` to `first + count - 1`, each ended by a newline.
inline std::string contacts_ndjson(int count, int first = 0, bool with_email = true) {
  std::string text;
  for (int i = first; i < first + count; ++i) text += contact_line(i, with_email) + "\n";
  return text;
}

/// The "line" of a checkpoint file; 0 when there is none or it cannot be read.
inline std::uint64_t checkpoint_line(const std::string& path) {
  if (!file_exists(path)) return 0;
  const json checkpoint = json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  return checkpoint.is_object() ? checkpoint.value("line", std::uint64_t{0}) : 0;
}

/// The records of a rejects file by their "line". A line written twice keeps its first record,
/// and fails the test when `once` is true.
inline std::map<std::uint64_t, json> rejects_by_line(const std::string& path, bool once = true) {
  std::map<std::uint64_t, json> records;
  for (const std::string& line : lines_of(read_file(path))) {
    const json record = json::parse(line);
    const bool first = records.emplace(record.at("line").get<std::uint64_t>(), record).second;
    if (once) {
      EXPECT_TRUE(first) << "line " << record["line"] << " written twice";
    }
  }
  return records;
}

/// How a run of the CLI ended.
struct CliResult : test_support::Finished {
  /// The last line of stdout parsed as JSON (the --json summary).
  json summary() const {
    const auto lines = lines_of(out);
    if (lines.empty()) return json();
    return json::parse(lines.back(), nullptr, /*allow_exceptions=*/false);
  }
};

/// The `instasent` binary as a child process (see ChildProcess), its stdin from `stdin_path` (or
/// /dev/null).
class CliProcess : public test_support::ChildProcess {
 public:
  CliProcess(const ScratchDir& dir, const std::vector<std::string>& args, const Env& env,
             const std::string& stdin_path = "")
      : ChildProcess(dir, CLI_PATH, args, env, {stdin_path, -1}) {}

  /// The result once the child ended; nullopt when it still runs after `timeout`.
  std::optional<CliResult> wait(std::chrono::milliseconds timeout) {
    std::optional<test_support::Finished> finished = ChildProcess::wait(timeout);
    if (!finished) return std::nullopt;
    return CliResult{std::move(*finished)};
  }
};

/// Runs the CLI to its end (failing the test after `timeout`).
inline CliResult run_cli(const ScratchDir& dir, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env,
                         const std::string& stdin_path = "",
                         std::chrono::milliseconds timeout = 60s) {
  CliProcess process(dir, args, env, stdin_path);
  auto result = process.wait(timeout);
  if (!result) throw std::runtime_error("the CLI did not finish in time");
  return *result;
}

/// A named pipe whose writer never closes it: the reader never sees the end of the input.
class StalledPipe {
 public:
  explicit StalledPipe(const std::string& path) {
    if (mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + path);
    // Read-write: opening does not wait for a reader, and the pipe stays open for writing.
    fd_ = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("open " + path);
  }
  ~StalledPipe() { close(fd_); }
  StalledPipe(const StalledPipe&) = delete;
  StalledPipe& operator=(const StalledPipe&) = delete;

  /// Writes all of `text` as the reader makes room; false when it did not within `timeout`.
  bool write_all(const std::string& text, milliseconds timeout) {
    std::size_t done = 0;
    return wait_until(
        [&] {
          const ssize_t wrote = ::write(fd_, text.data() + done, text.size() - done);
          if (wrote > 0) done += static_cast<std::size_t>(wrote);
          return done == text.size();
        },
        timeout);
  }
  /// Bytes written that the reader has not taken yet.
  int unread() const {
    int bytes = 0;
    ioctl(fd_, FIONREAD, &bytes);
    return bytes;
  }

 private:
  int fd_ = -1;
};

/// The `instasent-emulator` binary on a free port, with one tenant whose token is `token`.
class Emulator {
 public:
  static constexpr const char* kProject = "proj_cli";
  static constexpr const char* kDatasource = "ds_cli";

  explicit Emulator(const std::string& token = "cli-test-token",
                    const std::vector<std::string>& extra = {})
      : token_(token),
        process_(arguments(token, extra)),
        port_(emulator::testing::read_port(process_)) {}

  int port() const { return port_; }
  const std::string& token() const { return token_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  /// INSTASENT_* for this emulator.
  std::map<std::string, std::string> env() const {
    return {{"INSTASENT_PROJECT", kProject},
            {"INSTASENT_DATASOURCE", kDatasource},
            {"INSTASENT_TOKEN", token_},
            {"INSTASENT_BASE_URL", base_url()}};
  }

  json get(const std::string& path) const {
    return emulator::testing::body_json(
        emulator::testing::loopback_client(port_).Get(("/_emulator/" + path).c_str()));
  }
  json post(const std::string& path, const json& body) const {
    return emulator::testing::body_json(emulator::testing::loopback_client(port_).Post(
        ("/_emulator/" + path).c_str(), body.dump(), "application/json"));
  }
  json stats() const { return get("stats"); }
  json state() const {
    return get(std::string("state?project=") + kProject + "&datasource=" + kDatasource);
  }
  std::vector<std::string> event_ids() const {
    const json ids =
        get(std::string("event-ids?project=") + kProject + "&datasource=" + kDatasource);
    std::vector<std::string> out;
    const json& list = ids.is_object() && ids.contains("eventIds") ? ids["eventIds"] : ids;
    for (const json& id : list) out.push_back(id.get<std::string>());
    return out;
  }
  std::uint64_t accepted() const { return stats().value("itemsAccepted", std::uint64_t{0}); }

 private:
  static std::vector<std::string> arguments(const std::string& token,
                                            const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--port",       "0",         "--project", kProject,
                                  "--datasource", kDatasource, "--token",   token};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string token_;
  emulator::testing::EmulatorProcess process_;
  int port_;
};

}  // namespace instasent::cli::testing
