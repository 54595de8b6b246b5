// SPDX-License-Identifier: Apache-2.0
// A program run by a test as a child process (the CLI, an example): its output in files, its
// environment without the INSTASENT_* variables of the test's, default signal handling, and a
// wait with a timeout.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/scratch_dir.hpp"

extern char** environ;

namespace instasent::test_support {

/// The whole content of the file at `path` ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

/// Spawn attributes for a child that starts with no blocked signals and the default actions for
/// SIGINT, SIGTERM and SIGPIPE, whatever the test process has; destroy them after the spawn.
inline void init_default_signals(posix_spawnattr_t& attributes) {
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal_number : {SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, signal_number);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

/// How a child process ended, and what it wrote.
struct Finished {
  int status = -1;  ///< The exit status, or 128 + the signal that ended it.
  bool signaled = false;
  std::string out;
  std::string err;
};

/// Where a child's standard input comes from: a file, a descriptor the test keeps, or /dev/null.
struct Stdin {
  std::string path;  ///< When not empty: this file.
  int fd = -1;       ///< When not negative: this descriptor (duplicated for the child).
};

/// `program` with `args` as a child process. Its environment is the test's without any
/// INSTASENT_* variable, plus `env`; stdout and stderr go to files in `dir`. Killed (SIGKILL) and
/// reaped when this goes, unless it ended first.
class ChildProcess {
 public:
  ChildProcess(const ScratchDir& dir, const std::string& program,
               const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               const Stdin& input = {})
      : out_path_(dir.file("stdout-" + std::to_string(++runs()))),
        err_path_(dir.file("stderr-" + std::to_string(runs()))) {
    std::vector<std::string> words{program};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);

    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string(*entry).rfind("INSTASENT_", 0) != 0) variables.emplace_back(*entry);
    }
    for (const auto& [name, value] : env) variables.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& variable : variables) envp.push_back(variable.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (input.fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, input.fd, STDIN_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDIN_FILENO,
                                       input.path.empty() ? "/dev/null" : input.path.c_str(),
                                       O_RDONLY, 0);
    }
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    init_default_signals(attributes);
    const int spawned =
        posix_spawn(&pid_, program.c_str(), &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawned != 0) throw std::runtime_error("cannot start " + program);
  }
  ~ChildProcess() {
    if (!result_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void send_signal(int signal_number) const { kill(pid_, signal_number); }
  pid_t pid() const { return pid_; }
  /// What the child has written to stderr so far (e.g. its progress lines while it runs).
  std::string err_so_far() const { return read_file(err_path_); }

  /// How it ended; nullopt when it still runs after `timeout`.
  std::optional<Finished> wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!result_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        Finished run;
        run.signaled = WIFSIGNALED(status);
        run.status = run.signaled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        run.out = read_file(out_path_);
        run.err = read_file(err_path_);
        result_ = std::move(run);
      } else if (std::chrono::steady_clock::now() >= deadline) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // there is no timed waitpid
      }
    }
    return result_;
  }

 private:
  static int& runs() {
    static int count = 0;
    return count;
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<Finished> result_;
};

}  // namespace instasent::test_support
