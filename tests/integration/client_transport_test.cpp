// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client over real libcurl when the transport fails: timeouts,
// refused connections and connections dropped after the request was sent.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <string>
#include <thread>

#include "integration/client_fixture.hpp"

namespace instasent::testing {
namespace {

// A raw TCP server on loopback that reads each request completely, then closes the connection
// without answering: the request was delivered, the answer never comes.
class DroppingServer {
 public:
  DroppingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~DroppingServer() {
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  DroppingServer(const DroppingServer&) = delete;
  DroppingServer& operator=(const DroppingServer&) = delete;

  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void run() {
    while (!stopping_) {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) {
        if (stopping_) return;
        continue;
      }
      timeval timeout{2, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (read_request(conn)) ++requests_;
      ::close(conn);
    }
  }

  static bool read_request(int conn) {
    std::string data;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    while (true) {
      ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        std::string headers = data.substr(0, header_end);
        std::transform(headers.begin(), headers.end(), headers.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::size_t at = headers.find("\r\ncontent-length:");
        if (at != std::string::npos) {
          content_length = std::stoul(headers.substr(at + 17));
        }
      }
      if (data.size() >= header_end + 4 + content_length) return true;
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
};

// ---------------------------------------------------------------------------------------------
// Transport failures

TEST_F(ClientTest, RequestTimeoutIsTransportTimeoutAfterRetries) {
  server_.enqueue(CannedResponse::from_default(milliseconds(3'000)), 2);
  Client client = MakeClient([](ClientOptions& o) {
    o.curl.request_timeout = milliseconds(200);
    o.retry.max_attempts = 2;
  });
  auto started = std::chrono::steady_clock::now();
  auto error = Catch<TransportError>([&] { client.stream_info(); });
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::transport);
  EXPECT_EQ(error->failure(), TransportFailure::timeout);
  EXPECT_TRUE(error->maybe_delivered());
  EXPECT_EQ(error->http_status(), 0);
  EXPECT_TRUE(server_.wait_for_requests(2, milliseconds(2'000)));
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(clock_->sleeps().size(), 1u);
  // Two 200 ms timeouts, not libcurl's default of minutes (with room for sanitizer builds).
  EXPECT_LT(elapsed, std::chrono::milliseconds(4'000));
}

TEST_F(ClientTest, TimeoutInALaterBatchLeavesItsItemsUnknown) {
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::from_default(milliseconds(3'000)), 2);
  Client client = MakeClient([](ClientOptions& o) {
    o.curl.request_timeout = milliseconds(200);
    o.retry.max_attempts = 2;
  });
  auto error = Catch<TransportError>([&] { client.upsert_contacts(MakeContacts(150)); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->failure(), TransportFailure::timeout);
  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->size(), 150u);
  EXPECT_EQ(partial->count(ItemStatus::accepted), 100u);
  EXPECT_EQ(partial->count(ItemStatus::unknown), 50u);
  for (std::size_t i = 100; i < 150; ++i) EXPECT_EQ((*partial)[i].status, ItemStatus::unknown);
}

TEST_F(ClientTest, ConnectionRefusedIsTransportConnectError) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  Client client = MakeClientOfPort(closed.port(), 3);
  auto error = Catch<TransportError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::transport);
  EXPECT_EQ(error->failure(), TransportFailure::connect);
  EXPECT_FALSE(error->maybe_delivered());
  EXPECT_EQ(error->http_status(), 0);
  EXPECT_EQ(clock_->sleeps().size(), 2u);

  clock_->clear_sleeps();
  auto upsert = Catch<TransportError>([&] { client.upsert_contacts(MakeContacts(2)); });
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->failure(), TransportFailure::connect);
  if (const BatchResult* partial = upsert->partial_result()) {
    EXPECT_EQ(partial->count(ItemStatus::not_sent), 2u);
  }
}

TEST_F(ClientTest, ConnectionDroppedAfterSendingIsMaybeDeliveredAndUnknown) {
  DroppingServer dropping;
  ASSERT_GT(dropping.port(), 0);
  Client client = MakeClientOfPort(dropping.port(), 2);
  auto error = Catch<TransportError>([&] { client.upsert_contacts(MakeContacts(3)); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::transport);
  EXPECT_EQ(error->failure(), TransportFailure::receive);
  EXPECT_TRUE(error->maybe_delivered());
  EXPECT_EQ(dropping.requests(), 2);
  EXPECT_EQ(clock_->sleeps().size(), 1u);
  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(partial->count(ItemStatus::unknown), 3u);
}

}  // namespace
}  // namespace instasent::testing
