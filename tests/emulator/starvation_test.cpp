// SPDX-License-Identifier: Apache-2.0
// Starvation: idle keep-alive connections, slowloris clients and many clients at once must keep
// the emulator neither from answering nor from stopping; requests without a body are answered.
// Real sockets over loopback; the bounds are generous, for a shared machine and sanitizers.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_fixture.hpp"

namespace instasent::emulator::testing {
namespace {

// What "at once" means here: far above what an unstarved emulator needs on loopback.
constexpr auto kPromptly = 2s;
// The documented limit on a request head from its first byte (tools/emulator/README.md).
constexpr auto kHeadTimeout = 5s;
// The start of a request head, sent by slowloris clients that never finish it.
constexpr const char* kUnfinishedHead = "GET /_emulator/health HTTP/1.1\r\nHost: x\r\n";

// A batch of one contact.
json one_contact(const std::string& user_id) { return json::array({json{{"_user_id", user_id}}}); }

long long milliseconds_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// A raw loopback connection.
class Connection {
 public:
  explicit Connection(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 &&
        connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }

  bool send_text(const std::string& text) {
    for (std::size_t sent = 0; sent < text.size();) {
      const ssize_t n = send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// The next response (head and a body as long as its Content-Length), or what came of it
  /// before the server closed the connection or the deadline passed.
  std::string read_response(SteadyClock::time_point deadline) {
    while (true) {
      if (const auto whole = complete_response_size(); whole > 0) {
        std::string response = received_.substr(0, whole);
        received_.erase(0, whole);
        return response;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      pollfd entry{fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&entry, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return std::exchange(received_, std::string());
  }

 private:
  std::size_t complete_response_size() const {
    const std::size_t end = received_.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    std::string head = received_.substr(0, end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t field = head.find("\r\ncontent-length:");
    const std::size_t length =
        field == std::string::npos ? 0 : std::strtoull(head.c_str() + field + 17, nullptr, 10);
    return received_.size() >= end + 4 + length ? end + 4 + length : 0;
  }

  int fd_;
  std::string received_;
};

int status_of(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(response.c_str() + 9) : 0;
}

json body_of(const std::string& response) {
  const std::size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return json(json::value_t::discarded);
  return json::parse(response.substr(end + 4), nullptr, /*allow_exceptions=*/false);
}

// A health check on a fresh connection, answered 200 within kPromptly.
AssertionResult health_answers_promptly(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(false);
  client.set_connection_timeout(kPromptly);
  client.set_read_timeout(kPromptly);
  const auto start = SteadyClock::now();
  const auto result = client.Get("/_emulator/health");
  const long long took = milliseconds_since(start);
  if (!result)
    return AssertionFailure() << "no answer (" << result.error() << ") in " << took << " ms";
  if (result->status != 200) return AssertionFailure() << "status " << result->status;
  if (took > std::chrono::duration_cast<std::chrono::milliseconds>(kPromptly).count()) {
    return AssertionFailure() << "answered in " << took << " ms";
  }
  return AssertionSuccess() << "answered in " << took << " ms";
}

// `count` keep-alive connections that each made one request and then stay silent. The requests
// go out first, so that a starved server fails this within one deadline.
std::vector<std::unique_ptr<Connection>> open_idle_connections(int port, int count) {
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < count; ++i) {
    connections.push_back(std::make_unique<Connection>(port));
    EXPECT_TRUE(connections.back()->send_text("GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  const auto deadline = SteadyClock::now() + 5s;
  int answered = 0;
  for (auto& connection : connections)
    answered += status_of(connection->read_response(deadline)) == 200;
  EXPECT_EQ(answered, count) << "idle connections whose one request was answered";
  return connections;
}

// `count` connections that send the start of a request head, then one more byte to each every
// 500 ms, never finishing it; notes which ones the server closes.
class Slowloris {
 public:
  Slowloris(int port, int count) {
    for (int i = 0; i < count; ++i) {
      connections_.push_back(std::make_unique<Connection>(port));
      EXPECT_TRUE(connections_.back()->send_text(kUnfinishedHead));
    }
    closed_.assign(connections_.size(), false);
    thread_ = std::thread([this] { drip(); });
  }
  ~Slowloris() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    thread_.join();
  }
  Slowloris(const Slowloris&) = delete;
  Slowloris& operator=(const Slowloris&) = delete;

  /// Waits until the server has closed every connection; false if some are open at `deadline`.
  bool wait_until_all_closed(SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_until(lock, deadline, [this] { return open_locked() == 0; });
  }
  std::size_t open() {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_locked();
  }

 private:
  std::size_t open_locked() const {
    std::size_t open = 0;
    for (const bool closed : closed_) open += closed ? 0 : 1;
    return open;
  }

  void drip() {
    auto next_byte = SteadyClock::now() + 500ms;
    while (true) {
      std::vector<pollfd> entries;
      std::vector<std::size_t> which;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        for (std::size_t i = 0; i < connections_.size(); ++i) {
          if (closed_[i]) continue;
          entries.push_back({connections_[i]->fd(), POLLIN, 0});
          which.push_back(i);
        }
      }
      const bool drip_now = SteadyClock::now() >= next_byte;
      if (drip_now) next_byte += 500ms;
      poll(entries.data(), entries.size(), 50);  // short, to notice stopping_
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t k = 0; k < entries.size(); ++k) {
        const int fd = entries[k].fd;
        char buffer[1024];
        bool closed = false;
        if (entries[k].revents != 0) {
          const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
          closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
        }
        if (!closed && drip_now)
          closed = send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
                   (errno == EPIPE || errno == ECONNRESET);
        if (closed) closed_[which[k]] = true;
      }
      changed_.notify_all();
    }
  }

  std::vector<std::unique_ptr<Connection>> connections_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<bool> closed_;
  bool stopping_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Answering

TEST(Starvation, HealthIsAnsweredWithSixtyFourIdleKeepAliveConnectionsOpen) {
  RunningEmulator server;
  const auto idle = open_idle_connections(server.port(), 64);
  EXPECT_TRUE(health_answers_promptly(server.port()));
}

TEST(Starvation, HealthIsAnsweredWithSixtyFourSlowlorisConnectionsOpen) {
  RunningEmulator server;
  const auto started = SteadyClock::now();
  Slowloris slowloris(server.port(), 64);
  EXPECT_TRUE(health_answers_promptly(server.port()));
  // The documented head timeout, plus slack for a busy machine.
  EXPECT_TRUE(slowloris.wait_until_all_closed(started + kHeadTimeout + 4s))
      << slowloris.open() << " slowloris connections still open after "
      << milliseconds_since(started) << " ms";
}

// Every connection is opened before any goes on, so that all 32 are served at once.
TEST(Starvation, ThirtyTwoKeepAliveClientsAtOnceAllSucceed) {
  RunningEmulator server;
  constexpr int kClients = 32;
  constexpr int kRequests = 50;
  std::mutex mutex;
  std::condition_variable all_started;
  int started = 0;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_keep_alive(true);
      client.set_connection_timeout(5s);
      client.set_read_timeout(5s);
      const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
      for (int i = 0; i < kRequests; ++i) {
        const auto result =
            i % 2 == 0
                ? client.Get(stream_path(), auth)
                : client.Post(stream_path("/contacts"), auth,
                              one_contact("C" + std::to_string(c) + "-" + std::to_string(i)).dump(),
                              "application/json");
        if (result && result->status == (i % 2 == 0 ? 200 : 202)) ++succeeded;
        if (i == 0) {
          std::unique_lock<std::mutex> lock(mutex);
          ++started;
          all_started.notify_all();
          all_started.wait_for(lock, 10s, [&] { return started == kClients; });
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(succeeded.load(), kClients * kRequests);
}

// ---------------------------------------------------------------------------------------------
// Requests without a body (no Content-Length, or Content-Length: 0)

TEST(BodylessRequests, ResetIsAnsweredAndTheConnectionCarriesOn) {
  RunningEmulator server;
  for (const char* framing : {"", "Content-Length: 0\r\n"}) {
    SCOPED_TRACE(framing);
    const auto posted = server.post(stream_path("/contacts"), one_contact("U1"));
    ASSERT_TRUE(posted && posted->status == 202);
    Connection connection(server.port());
    ASSERT_TRUE(connection.send_text(std::string("POST /_emulator/reset HTTP/1.1\r\nHost: x\r\n") +
                                     framing + "\r\n"));
    const std::string response = connection.read_response(SteadyClock::now() + kPromptly);
    EXPECT_EQ(status_of(response), 200) << response;
    EXPECT_EQ(body_of(response), json({{"ok", true}})) << response;
    // Nothing after the head was taken for a body; a DELETE has none either.
    ASSERT_TRUE(connection.send_text("DELETE " + stream_path("/contacts/U1") +
                                     " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                                     "\r\n\r\n"));
    const std::string deleted = connection.read_response(SteadyClock::now() + kPromptly);
    EXPECT_EQ(status_of(deleted), 404) << "after the reset: " << deleted;
    EXPECT_EQ(body_of(deleted), json({{"message", "Contact not found"}})) << deleted;
  }
}

TEST(BodylessRequests, FaultsWithoutABodyIs400WithAMessageAndChangesNothing) {
  RunningEmulator server;
  const json before = server.admin("faults");
  for (const char* framing : {"", "Content-Length: 0\r\n"}) {
    SCOPED_TRACE(framing);
    Connection connection(server.port());
    ASSERT_TRUE(connection.send_text(std::string("POST /_emulator/faults HTTP/1.1\r\nHost: x\r\n") +
                                     framing + "\r\n"));
    const std::string response = connection.read_response(SteadyClock::now() + kPromptly);
    EXPECT_EQ(status_of(response), 400) << response;
    const json body = body_of(response);
    EXPECT_TRUE(body.is_object() && body.value("message", json()).is_string()) << response;
  }
  EXPECT_EQ(server.admin("faults"), before);
}

// ---------------------------------------------------------------------------------------------
// Stopping

TEST(Stopping, StopsPromptlyWithIdleAndSlowlorisConnectionsOpen) {
  auto server = std::make_unique<RunningEmulator>();
  auto idle = open_idle_connections(server->port(), 16);
  auto slowloris = std::make_unique<Slowloris>(server->port(), 16);
  const auto start = SteadyClock::now();
  auto stopped = std::async(std::launch::async, [&server] { server.reset(); });
  const bool prompt = stopped.wait_for(kPromptly) == std::future_status::ready;
  EXPECT_TRUE(prompt) << "still stopping after " << milliseconds_since(start) << " ms";
  if (!prompt) {  // let a server that waits for its clients end
    slowloris.reset();
    idle.clear();
  }
  stopped.get();
}

TEST(Stopping, StopCutsASlowAnswerShort) {
  Config config = test_config();
  config.faults.update_from_json({{"slow", 1.0}, {"slow_ms", 20000}});
  auto server = std::make_unique<RunningEmulator>(config);
  Connection connection(server->port());
  ASSERT_TRUE(connection.send_text("GET " + stream_path() +
                                   " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                                   "\r\n\r\n"));
  // The fault is counted just before the answer is held back.
  const auto deadline = SteadyClock::now() + 5s;
  while (server->admin("stats").value("faultsInjected", 0) == 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const auto start = SteadyClock::now();
  server.reset();
  EXPECT_LT(milliseconds_since(start), 2000) << "stop() waited for the slow answer";
}

TEST(Stopping, BinaryExitsPromptlyOnSigtermWithIdleAndSlowlorisConnectionsOpen) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  const auto idle = open_idle_connections(port, 16);
  Slowloris slowloris(port, 16);
  process.send_signal(SIGTERM);
  const auto status = process.wait_for_exit(kPromptly);
  ASSERT_TRUE(status) << "still running " << kPromptly.count() << " s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace instasent::emulator::testing
