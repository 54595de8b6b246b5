// SPDX-License-Identifier: Apache-2.0
// An httplib server that idle or slow connections cannot starve, and that stops at once.
//
// Each connection runs on its own thread, up to a cap (the emulator's --threads), so that idle
// keep-alive connections and slow clients hold up only themselves; beyond the cap, new ones wait
// in the listen queue rather than being refused. Keep-alive connections silent for 5 s, and
// request heads unfinished 5 s after their first byte, are closed, so that abandoned and
// slowloris connections give their thread back soon. See tools/emulator/README.md, Connections.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace instasent::emulator {

struct ConnectionLimits {
  /// Connections served at once, each on its own thread; more wait to be accepted.
  std::size_t max_connections = 1024;
  /// How long a keep-alive connection may stay silent between requests (and before the first).
  std::chrono::milliseconds idle_timeout{5000};
  /// How long a request head may take from its first byte to its blank line.
  std::chrono::milliseconds head_timeout{5000};
  /// How long each read of a body, or each write of an answer, may wait.
  std::chrono::milliseconds io_timeout{10000};
};

/// httplib::Server with its connection handling replaced: connections run on a ConnectionPool,
/// every wait on a client is bounded by the limits above, and shut_down() wakes every waiting
/// connection, so that stopping never waits for a client.
class ConnectionServer : public httplib::Server {
 public:
  explicit ConnectionServer(ConnectionLimits limits);
  ~ConnectionServer() override;
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  /// Binds and listens on `host`:`port` (0: a free port) with the system's largest listen
  /// queue, where connections wait while `max_connections` are served; returns the port, or -1.
  int bind_and_listen(const std::string& host, int port);
  /// Stops listening and ends every connection as soon as it next waits on its client (answers
  /// being written are cut off). Safe from any thread and more than once; a server shut down
  /// before it listens ends every connection it then accepts.
  void shut_down();
  /// Sleeps for `duration` or until shut_down(); false when shut down.
  bool sleep_unless_shut_down(std::chrono::milliseconds duration) const;

 private:
  bool process_and_close_socket(socket_t sock) override;

  const ConnectionLimits limits_;
  // A pipe whose write end shut_down() closes: its read end then polls readable for everyone.
  int shut_down_read_ = -1;
  std::atomic<int> shut_down_write_{-1};
};

}  // namespace instasent::emulator
