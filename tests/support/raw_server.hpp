// SPDX-License-Identifier: Apache-2.0
// A TCP server on a loopback port that answers with whatever bytes a test writes: for answers no
// HTTP library would send (endless bodies, trickles, lies about lengths, garbage instead of HTTP).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace instasent::testing {

/// One accepted connection, from the test's side.
class RawConnection {
 public:
  RawConnection(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}

  /// Writes all of `bytes`; false once the peer is gone or the server is stopping.
  bool write(std::string_view bytes);
  /// Whether the server is being stopped (endless writers check it).
  bool stopping() const { return stopping_.load(); }
  /// The request as it arrived: its head (up to the blank line) and body (per Content-Length).
  const std::string& request() const { return request_; }
  /// Answers a CONNECT with 200, then copies bytes both ways between this connection and
  /// 127.0.0.1:`port` until either side closes or the server stops; `sent` sees what the client
  /// sent through. False when the port cannot be reached (nothing was answered).
  bool tunnel_to(int port, const std::function<void(std::string_view)>& sent = {});

 private:
  friend class RawServer;
  bool read_request();

  int fd_;
  const std::atomic<bool>& stopping_;
  std::string request_;
};

/// What a `tunnelling_proxy` saw: the head of every request, and every byte a client sent
/// through its tunnels.
struct ProxyLog {
  std::mutex mutex;
  std::vector<std::string> heads;
  std::string tunnelled;
};

/// A proxy for https: a tunnel for `CONNECT 127.0.0.1:PORT`, 405 to anything else. Records what
/// it saw in `log` when given one.
std::function<void(RawConnection&)> tunnelling_proxy(ProxyLog* log = nullptr);

/// A batch server for the tests of splitting and rejects: 400 {"message":"Malformed item"} to a
/// request whose text holds "BAD" or whose body is not a JSON array; otherwise 202 accepting every
/// item by its `_user_id`. Counts the requests in `requests` when given one.
std::function<void(RawConnection&)> refuse_batches_with_bad_items(
    std::atomic<int>* requests = nullptr);

/// Serves each connection on its own thread: reads one request, calls the responder, then closes
/// the connection. The destructor stops accepting, wakes every responder (writes fail) and joins.
class RawServer {
 public:
  using Responder = std::function<void(RawConnection&)>;

  explicit RawServer(Responder responder);
  ~RawServer();
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.1:PORT/v1".
  std::string base_url() const;
  /// Requests read so far.
  std::size_t requests() const { return requests_.load(); }

  /// A complete HTTP/1.1 answer with a Content-Length and `Connection: close`.
  static std::string answer(int status, std::string_view body, std::string_view extra_headers = {});

 private:
  void accept_loop();

  Responder responder_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> requests_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::vector<int> open_fds_;
};

}  // namespace instasent::testing
