// SPDX-License-Identifier: Apache-2.0
// For the benchmarks: the null server (null_server.cpp) as a child process, and a port nobody
// answers.
#pragma once

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace instasent_bench {

// The null server, started as a child process; stopped by the destructor.
class NullServer {
 public:
  explicit NullServer(const char* path) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execl(path, path, static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    close(out[1]);
    char line[16] = {};
    std::size_t got = 0;
    while (got < sizeof line - 1) {
      const ssize_t n = read(out[0], line + got, 1);
      if (n <= 0 || line[got] == '\n') break;
      got += static_cast<std::size_t>(n);
    }
    close(out[0]);
    port_ = std::atoi(line);
    if (port_ <= 0) throw std::runtime_error(std::string("the null server did not start: ") + path);
  }
  ~NullServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  NullServer(const NullServer&) = delete;
  NullServer& operator=(const NullServer&) = delete;

  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A loopback port nothing listens on: connections to it are refused at once.
inline int refusing_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  close(fd);  // bound, never listened on, now closed: nobody answers
  return ntohs(address.sin_port);
}

}  // namespace instasent_bench
