// SPDX-License-Identifier: Apache-2.0
#include "integration/client_fixture.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

namespace instasent::testing {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void ExpectNoSecretsIn(const std::string& text) {
  for (const char* secret : {kTestToken, kWrongToken, "Bearer ", kPayloadMarker}) {
    EXPECT_FALSE(Contains(text, secret)) << "error text leaks '" << secret << "': " << text;
  }
}

void ExpectNoSecrets(const Error& e) {
  ExpectNoSecretsIn(e.what());
  ExpectNoSecretsIn(e.server_message());
  if (const BatchResult* partial = e.partial_result()) {
    for (const ItemResult& item : partial->items()) {
      for (const auto& [field, messages] : item.errors) {
        for (const std::string& message : messages) ExpectNoSecretsIn(message);
      }
    }
  }
}

std::string UserId(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user-%03zu", i);
  return buf;
}

std::vector<Contact> MakeContacts(std::size_t n) {
  std::vector<Contact> contacts;
  contacts.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    contacts.push_back(Contact(UserId(i)).email(UserId(i) + "@example.com").attribute("n", i));
  }
  return contacts;
}

std::vector<Contact> MarkedContacts(std::size_t n) {
  std::vector<Contact> contacts;
  for (std::size_t i = 0; i < n; ++i) {
    contacts.push_back(
        Contact(UserId(i)).first_name(kPayloadMarker).attribute("note", kPayloadMarker));
  }
  return contacts;
}

std::vector<RecordedRequest> Posts(const TestServer& server) {
  std::vector<RecordedRequest> posts;
  for (const RecordedRequest& r : server.requests()) {
    if (r.method == "POST") posts.push_back(r);
  }
  return posts;
}

std::vector<std::size_t> BodySizes(const std::vector<RecordedRequest>& requests) {
  std::vector<std::size_t> sizes;
  for (const RecordedRequest& r : requests) {
    json body = r.json_body();
    sizes.push_back(body.is_array() ? body.size() : 0);
  }
  return sizes;
}

void ExpectCommonHeaders(const RecordedRequest& r) {
  EXPECT_EQ(r.header("Authorization").value_or(""), std::string("Bearer ") + kTestToken)
      << r.method << " " << r.target;
  std::string user_agent = r.header("User-Agent").value_or("");
  EXPECT_TRUE(StartsWith(user_agent, std::string("instasent-cpp/") + kVersion))
      << "User-Agent: " << user_agent;
}

void ExpectGet(const RecordedRequest& r, const std::string& target) {
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, target);
  ExpectCommonHeaders(r);
}

void ExpectJsonPost(const RecordedRequest& r) {
  EXPECT_EQ(r.method, "POST");
  ExpectCommonHeaders(r);
  std::string content_type = r.header("Content-Type").value_or("");
  EXPECT_TRUE(StartsWith(content_type, "application/json")) << "Content-Type: " << content_type;
}

json EntityBody(const std::vector<json>& items) {
  int ok = 0;
  for (const json& item : items) ok += item.value("status", "") == "success" ? 1 : 0;
  return json{
      {"entity",
       {{"successful", ok}, {"failed", static_cast<int>(items.size()) - ok}, {"items", items}}}};
}

ClosedPort::ClosedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
}

ClosedPort::~ClosedPort() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace instasent::testing
