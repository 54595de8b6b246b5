// SPDX-License-Identifier: Apache-2.0
// The emulator's HTTP server: the Ingest API under /v1/project/{p}/datasource/{d}/stream, and an
// admin API under /_emulator/ for tests and demos.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "config.hpp"
#include "faults.hpp"
#include "rate_limiter.hpp"
#include "store.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace instasent::emulator {

class ConnectionServer;

class Emulator {
 public:
  explicit Emulator(Config config);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  /// Binds to the configured host and port; returns the port (the chosen one for port 0).
  /// Throws std::runtime_error when the address cannot be bound.
  int bind();
  /// Serves until `stop()`.
  void serve();
  /// Stops serving and closes every connection at once, cutting off answers in flight; safe from
  /// any thread.
  void stop();

  Store& store() noexcept { return store_; }

 private:
  struct Call;  // one API request being answered (routes.hpp)
  /// What the bearer token may do: `known` when it is a non-empty token of some tenant,
  /// `allowed` when it may use the datasource the request names.
  struct Access {
    bool known;
    bool allowed;
  };

  void handle(const httplib::Request& request, httplib::Response& response);
  void handle_admin(const std::string& path, const httplib::Request& request,
                    httplib::Response& response);
  // handle_api() takes an API request through the steps below, in this order.
  void handle_api(Call& call);
  static bool route(Call& call);
  Access authorise(const Call& call) const;
  RateDecision rate_limit(Call& call, bool allowed);
  bool inject_fault(Call& call);
  void dispatch(Call& call);
  void spoil_answer(Call& call) const;

  void write_batch(Call& call, bool events);
  void send_json(Call& call, int status, const nlohmann::json& body);
  std::string next_request_id();
  nlohmann::json stream_info(const Call& call) const;

  const Config config_;
  const std::set<std::string> reserved_;
  Store store_;
  FaultInjector faults_;
  RateLimiter limiter_;
  std::atomic<unsigned long long> next_request_id_{1};
  std::atomic<bool> serving_{false};
  std::atomic<bool> stop_requested_{false};
  std::unique_ptr<ConnectionServer> server_;
};

}  // namespace instasent::emulator
