// SPDX-License-Identifier: Apache-2.0
#include "support/raw_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace instasent::testing {

namespace {

constexpr std::size_t kMaxRequestBytes = 64u << 20;

std::size_t content_length(const std::string& head) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  return static_cast<std::size_t>(std::strtoull(lower.c_str() + at + 17, nullptr, 10));
}

// Writes all of `bytes` to `fd`; false once the peer is gone or the server is stopping.
bool send_all(int fd, std::string_view bytes, const std::atomic<bool>& stopping) {
  while (!bytes.empty()) {
    if (stopping.load()) return false;
    pollfd ready{fd, POLLOUT, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;  // re-check stopping every 100 ms
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool RawConnection::write(std::string_view bytes) { return send_all(fd_, bytes, stopping_); }

bool RawConnection::tunnel_to(int port, const std::function<void(std::string_view)>& sent) {
  const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (upstream < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      !write("HTTP/1.1 200 Connection established\r\n\r\n")) {
    ::close(upstream);
    return false;
  }
  char buffer[1 << 14];
  pollfd ends[2] = {{fd_, POLLIN, 0}, {upstream, POLLIN, 0}};
  bool open = true;
  while (open && !stopping_.load()) {
    if (::poll(ends, 2, 100) <= 0) continue;  // re-check stopping every 100 ms
    for (int from = 0; from < 2 && open; ++from) {
      if (ends[from].revents == 0) continue;
      const ssize_t n = ::recv(ends[from].fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      const std::string_view bytes(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
      if (from == 0 && sent) sent(bytes);
      open = n > 0 && send_all(ends[1 - from].fd, bytes, stopping_);
    }
  }
  ::close(upstream);
  return true;
}

bool RawConnection::read_request() {
  char buffer[1 << 16];
  std::size_t head_end = std::string::npos;
  while (!stopping_.load() && request_.size() < kMaxRequestBytes) {
    if (head_end == std::string::npos) {
      head_end = request_.find("\r\n\r\n");
    }
    if (head_end != std::string::npos &&
        request_.size() >= head_end + 4 + content_length(request_.substr(0, head_end + 2))) {
      return true;
    }
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    request_.append(buffer, static_cast<std::size_t>(n));
  }
  return false;
}

RawServer::RawServer(Responder responder) : responder_(std::move(responder)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on a loopback port");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

RawServer::~RawServer() {
  stopping_ = true;
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& connection : connections_) connection.join();
  ::close(listen_fd_);
}

std::string RawServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

std::string RawServer::answer(int status, std::string_view body, std::string_view extra_headers) {
  std::string text = "HTTP/1.1 " + std::to_string(status) + " Status\r\n";
  text += "Content-Type: application/json\r\nConnection: close\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += extra_headers;
  text += "\r\n";
  text += body;
  return text;
}

void RawServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd ready{listen_fd_, POLLIN, 0};
    if (::poll(&ready, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] {
      RawConnection connection(fd, stopping_);
      if (connection.read_request()) {
        ++requests_;
        responder_(connection);
      }
      ::shutdown(fd, SHUT_WR);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
      }
      ::close(fd);
    });
  }
}

std::function<void(RawConnection&)> tunnelling_proxy(ProxyLog* log) {
  return [log](RawConnection& connection) {
    const std::string& request = connection.request();
    const std::string head = request.substr(0, request.find("\r\n\r\n"));
    if (log != nullptr) {
      std::lock_guard<std::mutex> lock(log->mutex);
      log->heads.push_back(head);
    }
    const std::string target = "CONNECT 127.0.0.1:";
    if (head.rfind(target, 0) != 0) {
      connection.write(RawServer::answer(405, R"({"message":"CONNECT to 127.0.0.1 only"})"));
      return;
    }
    const int port = std::atoi(head.c_str() + target.size());
    connection.tunnel_to(port, [log](std::string_view bytes) {
      if (log == nullptr) return;
      std::lock_guard<std::mutex> lock(log->mutex);
      log->tunnelled.append(bytes);
    });
  };
}

std::function<void(RawConnection&)> refuse_batches_with_bad_items(std::atomic<int>* requests) {
  return [requests](RawConnection& connection) {
    using nlohmann::json;
    if (requests != nullptr) ++*requests;
    const std::string& request = connection.request();
    const auto body = request.find("\r\n\r\n");
    const json items = body == std::string::npos
                           ? json(json::value_t::discarded)
                           : json::parse(request.substr(body + 4), nullptr, false);
    if (request.find("BAD") != std::string::npos || !items.is_array()) {
      connection.write(RawServer::answer(400, R"({"message":"Malformed item"})"));
      return;
    }
    json answer = {{"entity", {{"items", json::array()}}}};
    for (const json& item : items) {
      answer["entity"]["items"].push_back({{"status", "success"}, {"_user_id", item["_user_id"]}});
    }
    connection.write(RawServer::answer(202, answer.dump()));
  };
}

}  // namespace instasent::testing
