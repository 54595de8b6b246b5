// SPDX-License-Identifier: Apache-2.0
// Helpers for the emulator's tests: an emulator served in-process on a free loopback port, with
// request helpers that send paths exactly as given (already percent-encoded), and the real
// `instasent-emulator` binary run as a child process.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "server.hpp"
#include "support/child_process.hpp"

extern char** environ;

namespace instasent::emulator::testing {

using nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

inline constexpr const char* kProject = "proj_a";
inline constexpr const char* kDatasource = "ds_a";
inline constexpr const char* kToken = "token-a";
inline constexpr const char* kOtherProject = "proj_b";
inline constexpr const char* kOtherDatasource = "ds_b";
inline constexpr const char* kOtherToken = "token-b";

/// Two tenants (a and b, each with its own token), the built-in specs, the documented answer
/// shape, no rate limit, no faults.
inline Config test_config() {
  Config config;
  config.specs = default_specs();
  config.tenants = {Tenant{kProject, kDatasource, {kToken}},
                    Tenant{kOtherProject, kOtherDatasource, {kOtherToken}}};
  return config;
}

/// `/v1/project/{project}/datasource/{datasource}/stream` followed by `rest`; nothing is encoded.
inline std::string stream_path(const std::string& rest = "", const std::string& project = kProject,
                               const std::string& datasource = kDatasource) {
  return "/v1/project/" + project + "/datasource/" + datasource + "/stream" + rest;
}

/// The body parsed as JSON; a discarded value when it is not JSON or there is no response.
inline json body_json(const httplib::Result& result) {
  if (!result) return json(json::value_t::discarded);
  return json::parse(result->body, nullptr, /*allow_exceptions=*/false);
}

/// An HTTP client for 127.0.0.1:`port` that sends paths as given and closes every connection.
inline httplib::Client loopback_client(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_url_encode(false);
  client.set_keep_alive(false);
  client.set_connection_timeout(2s);
  client.set_read_timeout(5s);
  client.set_write_timeout(5s);
  return client;
}

/// A loopback port that refuses every connection: bound but not listening, so that no other
/// server (another test running at the same time) can take it while this object lives.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      if (fd_ >= 0) close(fd_);
      throw std::runtime_error("cannot bind a loopback port");
    }
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port() const { return port_; }
  /// `http://127.0.0.1:<port>/v1`
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  int fd_;
  int port_ = 0;
};

/// An emulator serving on its own thread from construction to destruction.
class RunningEmulator {
 public:
  explicit RunningEmulator(Config config = test_config())
      : emulator_(std::make_unique<Emulator>(std::move(config))),
        port_(emulator_->bind()),
        thread_([this] { emulator_->serve(); }) {
    // One answered request proves that serve() is running, so that the stop() in the destructor
    // cannot come before it.
    if (!loopback_client(port_).Get("/_emulator/health")) {
      emulator_->stop();
      thread_.join();
      throw std::runtime_error("the emulator does not answer");
    }
  }
  ~RunningEmulator() {
    emulator_->stop();
    thread_.join();
  }
  RunningEmulator(const RunningEmulator&) = delete;
  RunningEmulator& operator=(const RunningEmulator&) = delete;

  int port() const { return port_; }
  httplib::Client client() const { return loopback_client(port_); }

  httplib::Result get(const std::string& path, const char* token = kToken) const {
    return client().Get(path.c_str(), auth(token));
  }
  httplib::Result post(const std::string& path, const std::string& body,
                       const char* token = kToken) const {
    return client().Post(path.c_str(), auth(token), body, "application/json");
  }
  httplib::Result post(const std::string& path, const json& body,
                       const char* token = kToken) const {
    return post(path, body.dump(), token);
  }
  httplib::Result del(const std::string& path, const char* token = kToken) const {
    return client().Delete(path.c_str(), auth(token));
  }

  /// GET of an admin endpoint, parsed.
  json admin(const std::string& name) const {
    return body_json(client().Get(("/_emulator/" + name).c_str()));
  }
  /// The stored contacts and events of one datasource.
  json state(const std::string& project = kProject,
             const std::string& datasource = kDatasource) const {
    return admin("state?project=" + project + "&datasource=" + datasource);
  }

 private:
  static httplib::Headers auth(const char* token) {
    if (token == nullptr) return {};
    return {{"Authorization", std::string("Bearer ") + token}};
  }

  std::unique_ptr<Emulator> emulator_;
  int port_;
  std::thread thread_;
};

using test_support::init_default_signals;

/// The `instasent-emulator` binary (or another `program`) as a child process, with its stdout
/// and stderr in pipes.
class EmulatorProcess {
 public:
  explicit EmulatorProcess(const std::vector<std::string>& args,
                           const std::string& program = EMULATOR_PATH) {
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    if (pipe2(err, O_CLOEXEC) != 0) {
      close(out[0]);
      close(out[1]);
      throw std::runtime_error("pipe2");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawnattr_t attributes;
    init_default_signals(attributes);

    std::vector<std::string> words{program};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const int spawned =
        posix_spawn(&pid_, program.c_str(), &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (spawned != 0) {
      pid_ = -1;
      close(out_);
      close(err_);
      throw std::runtime_error("cannot start " + program);
    }
  }
  ~EmulatorProcess() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    close(out_);
    close(err_);
  }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  pid_t pid() const { return pid_; }

  /// The next line of stdout (without its newline); nullopt at end of output or after `timeout`.
  std::optional<std::string> read_stdout_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (const auto newline = stdout_.find('\n'); newline != std::string::npos) {
        std::string line = stdout_.substr(0, newline);
        stdout_.erase(0, newline + 1);
        return line;
      }
      if (!read_some(out_, stdout_, deadline)) return std::nullopt;
    }
  }
  /// Everything the child writes to stdout until it closes it (or `timeout` passes).
  std::string read_stdout(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (read_some(out_, stdout_, deadline)) {
    }
    return std::exchange(stdout_, std::string());
  }
  /// Everything the child writes to stderr until it closes it (or `timeout` passes).
  std::string read_stderr(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string text;
    while (read_some(err_, text, deadline)) {
    }
    return text;
  }

  void send_signal(int signal_number) const { kill(pid_, signal_number); }

  /// The wait status once the child has ended, waiting at most `timeout`; nullopt if it still
  /// runs.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int status = 0;
      const pid_t ended = waitpid(pid_, &status, WNOHANG);
      if (ended == pid_) {
        status_ = status;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        break;
      } else {
        std::this_thread::sleep_for(5ms);  // polling a child's exit; there is no timed waitpid
      }
    }
    return status_;
  }
  bool running() { return !wait_for_exit(0ms); }

 private:
  // Appends what `fd` has within the deadline; false at end of file, on error or at the deadline.
  static bool read_some(int fd, std::string& into, std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, POLLIN, 0};
    const int ready = poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) return true;
    if (ready <= 0) return false;
    char buffer[4096];
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) return true;
    if (got <= 0) return false;
    into.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string stdout_;
  std::optional<int> status_;
};

/// The port a child started with `--port 0` prints on its first line; throws when none comes
/// within 5 s.
inline int read_port(EmulatorProcess& process) {
  const auto line = process.read_stdout_line(5000ms);
  if (!line || line->empty()) throw std::runtime_error("the emulator printed no port");
  return std::stoi(*line);
}

}  // namespace instasent::emulator::testing
