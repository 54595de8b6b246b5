// SPDX-License-Identifier: Apache-2.0
#include "connection_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "connection_pool.hpp"

namespace instasent::emulator {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` has one of `events` (true), or `shut_down_fd` is readable, or `deadline`
// passes (false).
bool wait_for(int fd, short events, int shut_down_fd, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entries[2] = {{fd, events, 0}, {shut_down_fd, POLLIN, 0}};
    const int ready =
        poll(entries, 2, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || entries[1].revents != 0) return false;
    if (entries[0].revents != 0) return true;
  }
}

// "ip" and port of either end of a connected socket, as httplib puts them on a request.
void socket_address(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? getpeername(sock, raw, &size) : getsockname(sock, raw, &size)) != 0) return;
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(raw, size, host, sizeof host, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

// One connection as httplib reads and writes it, with every wait bounded: a request head by
// `head_timeout` from its first byte (httplib itself only bounds each read, so a head sent a
// byte at a time would hold the connection forever), the rest by `io_timeout` per wait, and all
// of them by the server's shut-down.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, int shut_down_fd, const ConnectionLimits& limits)
      : sock_(sock), shut_down_fd_(shut_down_fd), limits_(limits) {}

  /// Waits up to `idle_timeout` for the next request to begin; false when the connection should
  /// close instead.
  bool next_request() {
    if (closing_) return false;
    if (begin_ == end_ &&
        !wait_for(sock_, POLLIN, shut_down_fd_, Clock::now() + limits_.idle_timeout)) {
      return false;
    }
    in_head_ = true;
    head_end_matched_ = 0;
    head_deadline_ = Clock::now() + limits_.head_timeout;
    return true;
  }
  /// A read timed out or the server shut down: no further request on this connection.
  bool closing() const { return closing_; }

  bool is_readable() const override {
    return begin_ != end_ || wait_for(sock_, POLLIN, shut_down_fd_, read_deadline());
  }
  bool is_writable() const override {
    return wait_for(sock_, POLLOUT, shut_down_fd_, Clock::now() + limits_.io_timeout);
  }

  ssize_t read(char* ptr, std::size_t size) override {
    if (closing_) return -1;
    while (begin_ == end_) {
      if (!wait_for(sock_, POLLIN, shut_down_fd_, read_deadline())) {
        closing_ = true;
        return -1;
      }
      const ssize_t got = recv(sock_, buffer_, sizeof buffer_, MSG_DONTWAIT);
      if (got == 0) return 0;
      if (got > 0) {
        begin_ = 0;
        end_ = static_cast<std::size_t>(got);
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        closing_ = true;
        return -1;
      }
    }
    const std::size_t count = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, count);
    begin_ += count;
    if (in_head_) find_head_end(ptr, count);
    return static_cast<ssize_t>(count);
  }

  using httplib::Stream::write;
  ssize_t write(const char* ptr, std::size_t size) override {
    while (true) {
      const ssize_t sent = send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) return sent;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !is_writable()) {
        closing_ = true;
        return -1;
      }
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    socket_address(sock_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    socket_address(sock_, false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  Clock::time_point read_deadline() const {
    return in_head_ ? head_deadline_ : Clock::now() + limits_.io_timeout;
  }

  // Follows the bytes of a head up to its blank line ("\r\n\r\n", as httplib ends a head).
  void find_head_end(const char* bytes, std::size_t count) {
    static constexpr char kHeadEnd[] = "\r\n\r\n";
    for (std::size_t i = 0; i < count; ++i) {
      if (bytes[i] == kHeadEnd[head_end_matched_]) {
        if (++head_end_matched_ == 4) {
          in_head_ = false;
          return;
        }
      } else {
        head_end_matched_ = bytes[i] == '\r' ? 1 : 0;
      }
    }
  }

  const int sock_;
  const int shut_down_fd_;
  const ConnectionLimits& limits_;
  bool closing_ = false;
  bool in_head_ = false;
  int head_end_matched_ = 0;
  Clock::time_point head_deadline_;
  char buffer_[4096];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

ConnectionServer::ConnectionServer(ConnectionLimits limits) : limits_(limits) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe");
  shut_down_read_ = fds[0];
  shut_down_write_ = fds[1];
  const std::size_t max_connections = limits_.max_connections;
  new_task_queue = [max_connections] { return new ConnectionPool(max_connections); };
}

ConnectionServer::~ConnectionServer() {
  if (const int fd = shut_down_write_.exchange(-1); fd >= 0) ::close(fd);
  ::close(shut_down_read_);
}

int ConnectionServer::bind_and_listen(const std::string& host, int port) {
  const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  // httplib listens with a queue of 5: a burst of connections that comes before the accepting
  // thread runs would see some of them dropped and retried a second later. Listening again on a
  // listening socket only resizes its queue.
  if (bound >= 0) ::listen(svr_sock_, SOMAXCONN);
  return bound;
}

void ConnectionServer::shut_down() {
  if (const int fd = shut_down_write_.exchange(-1); fd >= 0) ::close(fd);
  stop();
}

bool ConnectionServer::sleep_unless_shut_down(std::chrono::milliseconds duration) const {
  const auto deadline = Clock::now() + duration;
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return true;
    pollfd entry{shut_down_read_, POLLIN, 0};
    const int ready =
        poll(&entry, 1, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
    if (ready > 0) return false;
    if (ready < 0 && errno != EINTR) {
      std::this_thread::sleep_until(deadline);
      return true;
    }
  }
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  bool answered = false;
  {
    ConnectionStream stream(sock, shut_down_read_, limits_);
    for (std::size_t left = keep_alive_max_count_; left > 0 && stream.next_request(); --left) {
      bool client_closes = false;
      answered = process_request(stream, left == 1, client_closes, nullptr);
      if (!answered || client_closes || stream.closing()) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return answered;
}

}  // namespace instasent::emulator
