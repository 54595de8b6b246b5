// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of instasent::Client: the real libcurl transport over loopback against an
// in-process cpp-httplib server (test_server.hpp) that plays the Ingest API. Retry waits go
// through a fake clock, so they cost no real time.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "batch_reader.hpp"
#include "instasent/instasent.hpp"
#include "integration/test_server.hpp"
#include "support/printers.hpp"

namespace instasent {
namespace testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

constexpr const char* kPayloadMarker = "PAYLOAD-MARKER";
constexpr const char* kWrongToken = "wrong-token-ABC";

// ---------------------------------------------------------------------------------------------
// Helpers

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The error model's promise: no token, no header value, no part of a payload in any error text.
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

// Runs `f`, expects it to throw exactly an `E` (or subclass), checks the error text for secrets
// and returns a copy of the error; records a failure and returns nullopt otherwise.
template <typename E, typename F>
std::optional<E> Catch(F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  } catch (const E& e) {
    ExpectNoSecrets(e);
    return e;
  } catch (const Error& e) {
    ExpectNoSecrets(e);
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name()
                  << " kind=" << to_string(e.kind()) << " status=" << e.http_status() << ": "
                  << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got std::exception " << typeid(e).name()
                  << ": " << e.what();
  }
  return std::nullopt;
}

// Runs `f` and expects it to throw some instasent::Error.
template <typename F>
std::optional<Error> CatchAnyError(F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected an instasent::Error, nothing was thrown";
  } catch (const Error& e) {
    ExpectNoSecrets(e);
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected an instasent::Error, got " << typeid(e).name() << ": " << e.what();
  }
  return std::nullopt;
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

// Contacts whose payload carries the marker that must never show up in an error.
std::vector<Contact> MarkedContacts(std::size_t n) {
  std::vector<Contact> contacts;
  for (std::size_t i = 0; i < n; ++i) {
    contacts.push_back(
        Contact(UserId(i)).first_name(kPayloadMarker).attribute("note", kPayloadMarker));
  }
  return contacts;
}

template <typename T>
json ExpectedBody(const std::vector<T>& items, std::size_t first = 0,
                  std::size_t count = static_cast<std::size_t>(-1)) {
  json array = json::array();
  for (std::size_t i = first; i < items.size() && i - first < count; ++i) {
    array.push_back(json::parse(items[i].to_json()));
  }
  return array;
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

// A socket bound to a loopback port but not listening: connecting to it is refused.
class ClosedPort {
 public:
  ClosedPort() {
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
  ~ClosedPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

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

class ClientTest : public ::testing::Test {
 protected:
  Client MakeClient(const std::function<void(ClientOptions&)>& customize = {}) {
    return make_client(server_, clock_, customize);
  }

  // Declared first: destroyed last, after every client of it.
  TestServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

// ---------------------------------------------------------------------------------------------
// Endpoints: request shape and typed results

TEST_F(ClientTest, StreamInfoSendsAuthenticatedGetAndParsesMetadata) {
  Client client = MakeClient();
  StreamInfo info = client.stream_info();

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, TestServer::stream_path());
  EXPECT_TRUE(r.body.empty());
  ExpectCommonHeaders(r);

  json expected = TestServer::stream_info_body();
  EXPECT_EQ(info.organization, expected["organization"]);
  EXPECT_EQ(info.project, expected["project"]);
  EXPECT_EQ(info.datasource, expected["datasource"]);
  EXPECT_EQ(info.stream, expected["stream"]);
  EXPECT_EQ(info.token, expected["token"]);
  EXPECT_EQ(info.raw, expected);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, StreamInfoWithoutTokenObjectLeavesTokenNull) {
  json body = TestServer::stream_info_body();
  body.erase("token");
  server_.enqueue(CannedResponse::json(200, body));
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_TRUE(info.token.is_null());
  EXPECT_EQ(info.raw, body);
}

TEST_F(ClientTest, CurlTransportAdvertisesCompressionAndDecodesIt) {
  // The test server compresses JSON answers whenever the client accepts an encoding it supports,
  // so every parsed answer in this suite also proves decoding; here we look at the header.
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_EQ(info.raw, TestServer::stream_info_body());
  std::string accept_encoding = server_.last_request().header("Accept-Encoding").value_or("");
  EXPECT_TRUE(Contains(accept_encoding, "gzip")) << "Accept-Encoding: " << accept_encoding;
}

TEST_F(ClientTest, UserAgentSuffixIsAppended) {
  Client client = MakeClient([](ClientOptions& o) { o.curl.user_agent_suffix = "my-app/2.0"; });
  client.stream_info();
  std::string user_agent = server_.last_request().header("User-Agent").value_or("");
  EXPECT_TRUE(StartsWith(user_agent, std::string("instasent-cpp/") + kVersion)) << user_agent;
  EXPECT_TRUE(Contains(user_agent, "my-app/2.0")) << user_agent;
}

TEST_F(ClientTest, UpsertContactsPostsJsonArrayOfBuilderJson) {
  std::vector<Contact> contacts;
  contacts.push_back(Contact("user-1")
                         .first_name("Ada")
                         .last_name("Lovelace")
                         .email("ada@example.com")
                         .phone_mobile("+34600000000")
                         .country_code("ES")
                         .email_verified(true)
                         .attribute("plan", "pro")
                         .attribute("tags", {"vip", "beta"})
                         .attribute("score", 42)
                         .attribute("ratio", 0.5)
                         .attribute("text", "quote \" backslash \\ ñ")
                         .clear("old_attr"));
  contacts.push_back(Contact("user-2").first_name("Grace"));
  server_.put_contact("user-1", {{"_user_id", "user-1"}, {"old_attr", "x"}, {"kept", "yes"}});

  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  ExpectJsonPost(r);
  EXPECT_EQ(r.target, TestServer::stream_path() + "/contacts");
  EXPECT_FALSE(r.has_query);
  json body = r.json_body();
  ASSERT_TRUE(body.is_array()) << r.body;
  EXPECT_EQ(body, ExpectedBody(contacts));

  ASSERT_EQ(result.size(), 2u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, contacts[i].user_id());
    EXPECT_EQ(result[i].status, ItemStatus::accepted);
    EXPECT_TRUE(result[i].errors.empty());
  }
  ASSERT_EQ(result.requests().size(), 1u);
  const BatchRequest& request = result.requests()[0];
  EXPECT_EQ(request.first_index, 0u);
  EXPECT_EQ(request.item_count, 2u);
  EXPECT_EQ(request.http_status, 202);
  EXPECT_EQ(request.request_id, r.response_request_id);
  EXPECT_EQ(request.parsed_body()["entity"]["successful"], 2);
  EXPECT_EQ(request.body, server_.last_request().response_body);
  EXPECT_TRUE(result.failed().empty());

  // The server applied it: omitted attributes kept, null cleared.
  std::optional<json> stored = server_.stored_contact("user-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->value("kept", ""), "yes");
  EXPECT_FALSE(stored->contains("old_attr"));
  EXPECT_EQ(stored->value("plan", ""), "pro");
  EXPECT_EQ((*stored)["tags"], json({"vip", "beta"}));
}

TEST_F(ClientTest, UpsertOfOneContactIsStillAnArray) {
  Client client = MakeClient();
  std::vector<Contact> contacts{Contact("solo").first_name("Han")};
  BatchResult result = client.upsert_contacts(contacts);
  json body = server_.last_request().json_body();
  ASSERT_TRUE(body.is_array()) << server_.last_request().body;
  EXPECT_EQ(body, ExpectedBody(contacts));
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "solo");
}

TEST_F(ClientTest, RecordEventsPostsJsonArrayOfBuilderJson) {
  system_clock::time_point when = system_clock::time_point(seconds(1795860000)) + milliseconds(123);
  std::vector<Event> events;
  events.push_back(Event("user-1", "order-987", "purchase")
                       .date(when)
                       .parameter("amount", 49.90)
                       .parameter("currency", "EUR")
                       .parameter("skus", {"A-1", "B-2"})
                       .parameter("shipping", Value::object({{"method", "express"}, {"days", 2}}))
                       .user_data(Contact("user-1").email("ada@example.com")));
  events.push_back(Event("user-2", "view-1", "page_view"));

  Client client = MakeClient();
  BatchResult result = client.record_events(events);

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  ExpectJsonPost(r);
  EXPECT_EQ(r.target, TestServer::stream_path() + "/events");
  json body = r.json_body();
  ASSERT_TRUE(body.is_array()) << r.body;
  EXPECT_EQ(body, ExpectedBody(events));
  EXPECT_EQ(body[0].value("_event_date", ""), "2026-11-28T10:00:00.123Z");

  ASSERT_EQ(result.size(), 2u);
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result[0].id, "order-987");
  EXPECT_EQ(result[1].id, "view-1");
  EXPECT_EQ(result[1].index, 1u);
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  EXPECT_EQ(result.requests()[0].parsed_body()["entity"]["items"][0]["_event_id"], "order-987");
}

TEST_F(ClientTest, DeleteContactSendsDeleteAndReturnsResult) {
  server_.put_contact("user-9", {{"_user_id", "user-9"}});
  Client client = MakeClient();
  DeleteResult result = client.delete_contact("user-9");

  ASSERT_EQ(server_.request_count(), 1u);
  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/contacts/user-9");
  ExpectCommonHeaders(r);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.request_id, r.response_request_id);
  EXPECT_EQ(result.body, json::object());
  EXPECT_FALSE(server_.stored_contact("user-9").has_value());
}

TEST_F(ClientTest, DeleteContactWithNoContentHasNullBody) {
  server_.enqueue(CannedResponse::empty(204).header("X-Request-Id", "req-204"));
  Client client = MakeClient();
  DeleteResult result = client.delete_contact("user-9");
  EXPECT_EQ(result.http_status, 204);
  EXPECT_EQ(result.request_id, "req-204");
  EXPECT_TRUE(result.body.is_null()) << result.body.dump();
}

TEST_F(ClientTest, GetContactReturnsStoredAttributes) {
  json data = {{"_user_id", "user-7"}, {"_first_name", "Ada"}, {"plan", "pro"}, {"n", 3}};
  server_.put_contact("user-7", data);
  Client client = MakeClient();
  ContactRecord record = client.get_contact("user-7");

  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/contacts/user-7");
  ExpectCommonHeaders(r);
  EXPECT_EQ(record.user_id, "user-7");
  EXPECT_EQ(record.attributes, data);
  EXPECT_EQ(record.raw["contact"]["createdAt"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(record.raw["contact"]["contactData"], data);
}

TEST_F(ClientTest, GetUnknownContactThrowsNotFound) {
  Client client = MakeClient();
  auto error = Catch<NotFoundError>([&] { client.get_contact("nobody"); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::not_found);
  EXPECT_EQ(error->http_status(), 404);
  EXPECT_EQ(error->server_message(), "Contact not found");
  EXPECT_EQ(error->request_id(), server_.last_request().response_request_id);
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(ClientTest, AttributeSpecsAreParsed) {
  Client client = MakeClient();
  std::vector<AttributeSpec> specs = client.attribute_specs();

  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/specs/attributes");
  ExpectCommonHeaders(r);

  json expected = TestServer::attribute_specs_body()["specs"];
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].uid, "_email");
  EXPECT_EQ(specs[0].display_label, "Email");
  EXPECT_EQ(specs[0].description, "Email address");
  EXPECT_EQ(specs[0].data_type, "string");
  EXPECT_EQ(specs[0].multivalue, 0);
  EXPECT_FALSE(specs[0].read_only);
  EXPECT_TRUE(specs[0].required_in_webhook);
  EXPECT_TRUE(specs[0].important);
  EXPECT_TRUE(specs[0].visible);
  EXPECT_FALSE(specs[0].custom);
  EXPECT_EQ(specs[0].raw, expected[0]);
  EXPECT_EQ(specs[1].uid, "tags");
  EXPECT_EQ(specs[1].multivalue, 10);
  EXPECT_TRUE(specs[1].read_only);
  EXPECT_FALSE(specs[1].required_in_webhook);
  EXPECT_FALSE(specs[1].important);
  EXPECT_FALSE(specs[1].visible);
  EXPECT_TRUE(specs[1].custom);
  EXPECT_EQ(specs[1].raw, expected[1]);
  EXPECT_EQ(specs[1].raw.value("extraField", ""), "kept in raw");
}

TEST_F(ClientTest, EventSpecsAreParsed) {
  Client client = MakeClient();
  std::vector<EventSpec> specs = client.event_specs();

  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/specs/events");
  ExpectCommonHeaders(r);

  json expected = TestServer::event_specs_body()["specs"];
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].uid, "purchase");
  EXPECT_EQ(specs[0].name, "Purchase");
  EXPECT_EQ(specs[0].description, "An order was paid");
  EXPECT_EQ(specs[0].category, "ecommerce");
  EXPECT_TRUE(specs[0].attribution);
  EXPECT_TRUE(specs[0].automation);
  EXPECT_EQ(specs[0].icon, "cart");
  EXPECT_EQ(specs[0].emoji, "\xF0\x9F\x9B\x92");
  EXPECT_TRUE(specs[0].important);
  EXPECT_EQ(specs[0].raw, expected[0]);
  EXPECT_EQ(specs[1].uid, "page_view");
  EXPECT_FALSE(specs[1].attribution);
  EXPECT_FALSE(specs[1].automation);
  EXPECT_FALSE(specs[1].important);
  EXPECT_EQ(specs[1].raw, expected[1]);
}

TEST_F(ClientTest, EventParameterSpecsAreParsed) {
  Client client = MakeClient();
  std::vector<EventParameterSpec> specs = client.event_parameter_specs("purchase");

  RecordedRequest r = server_.last_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, TestServer::stream_path() + "/specs/event-parameters/purchase");
  ExpectCommonHeaders(r);

  json expected = TestServer::event_parameter_specs_body("purchase")["specs"];
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].parameter, "amount");
  EXPECT_EQ(specs[0].title, "Amount");
  EXPECT_EQ(specs[0].description, "Order total");
  EXPECT_EQ(specs[0].icon, "money");
  EXPECT_EQ(specs[0].data_type, "string");
  EXPECT_EQ(specs[0].visual_type, "currency");
  EXPECT_EQ(specs[0].max_length, std::optional<int>(20));
  EXPECT_TRUE(specs[0].required);
  EXPECT_EQ(specs[0].multi_value, 0);
  EXPECT_EQ(specs[0].raw, expected[0]);
  EXPECT_EQ(specs[1].parameter, "skus");
  EXPECT_EQ(specs[1].max_length, std::nullopt);
  EXPECT_FALSE(specs[1].required);
  EXPECT_EQ(specs[1].multi_value, 5);
  EXPECT_EQ(specs[1].raw, expected[1]);
}

TEST_F(ClientTest, EventParameterSpecsEncodeTheEventType) {
  Client client = MakeClient();
  std::vector<EventParameterSpec> specs = client.event_parameter_specs("a/b c");
  EXPECT_TRUE(specs.empty());
  EXPECT_EQ(server_.last_request().target,
            TestServer::stream_path() + "/specs/event-parameters/a%2Fb%20c");
}

// ---------------------------------------------------------------------------------------------
// Write flags

TEST_F(ClientTest, WriteOptionsBecomeBareQueryFlags) {
  struct Case {
    bool sync;
    bool dry_run;
    const char* query;  // nullptr: no query at all
  };
  const Case cases[] = {{false, false, nullptr},
                        {true, false, "_sync"},
                        {false, true, "_dryRun"},
                        {true, true, "_sync&_dryRun"}};
  Client client = MakeClient();
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string("sync=") + (c.sync ? "1" : "0") +
                 " dry_run=" + (c.dry_run ? "1" : "0"));
    WriteOptions options;
    options.sync = c.sync;
    options.dry_run = c.dry_run;

    BatchResult contacts = client.upsert_contacts({Contact("flag-user")}, options);
    RecordedRequest r = server_.last_request();
    EXPECT_EQ(r.raw_path, TestServer::stream_path() + "/contacts");
    if (c.query == nullptr) {
      EXPECT_FALSE(r.has_query) << r.target;
    } else {
      EXPECT_EQ(r.query, c.query) << r.target;
    }
    EXPECT_EQ(r.has_param("_sync"), c.sync);
    EXPECT_EQ(r.has_param("_dryRun"), c.dry_run);
    EXPECT_TRUE(contacts.all_accepted());

    BatchResult events =
        client.record_events({Event("flag-user", "flag-evt", "purchase")}, options);
    r = server_.last_request();
    EXPECT_EQ(r.raw_path, TestServer::stream_path() + "/events");
    if (c.query == nullptr) {
      EXPECT_FALSE(r.has_query) << r.target;
    } else {
      EXPECT_EQ(r.query, c.query) << r.target;
    }
    EXPECT_TRUE(events.all_accepted());
  }
}

// ---------------------------------------------------------------------------------------------
// Status codes

TEST_F(ClientTest, Status401IsUnauthorizedError) {
  Client client = MakeClient([](ClientOptions& o) { o.token = kWrongToken; });
  auto error = Catch<UnauthorizedError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::unauthorized);
  EXPECT_EQ(error->http_status(), 401);
  EXPECT_EQ(error->server_message(), "Unauthenticated.");
  EXPECT_EQ(error->request_id(), server_.last_request().response_request_id);
  EXPECT_FALSE(error->request_id().empty());
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
  EXPECT_EQ(server_.last_request().header("Authorization").value_or(""),
            std::string("Bearer ") + kWrongToken);
}

TEST_F(ClientTest, Status401OnWritesIsUnauthorizedError) {
  Client client = MakeClient([](ClientOptions& o) { o.token = kWrongToken; });
  auto upsert = Catch<UnauthorizedError>([&] { client.upsert_contacts(MarkedContacts(2)); });
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->http_status(), 401);
  auto events =
      Catch<UnauthorizedError>([&] { client.record_events({Event("u", "e", "purchase")}); });
  ASSERT_TRUE(events);
  auto del = Catch<UnauthorizedError>([&] { client.delete_contact("u"); });
  ASSERT_TRUE(del);
  EXPECT_EQ(server_.request_count(), 3u);
}

TEST_F(ClientTest, Status404IsNotFoundError) {
  Client client = MakeClient([](ClientOptions& o) { o.project = "proj_other"; });
  auto error = Catch<NotFoundError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::not_found);
  EXPECT_EQ(error->http_status(), 404);
  EXPECT_EQ(error->server_message(), "Datasource not found");
  EXPECT_EQ(error->request_id(), server_.last_request().response_request_id);
  EXPECT_EQ(server_.last_request().raw_path, "/v1/project/proj_other/datasource/ds_test/stream");

  auto upsert = Catch<NotFoundError>([&] { client.upsert_contacts(MarkedContacts(1)); });
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->http_status(), 404);
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, Status400IsBadRequestErrorWithServerMessage) {
  server_.enqueue(CannedResponse::json(400, {{"message", "Body should be an array"}})
                      .header("X-Request-Id", "req-bad-400"));
  Client client = MakeClient();
  std::vector<Contact> contacts = MarkedContacts(3);
  auto error = Catch<BadRequestError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::bad_request);
  EXPECT_EQ(error->http_status(), 400);
  EXPECT_EQ(error->server_message(), "Body should be an array");
  EXPECT_EQ(error->request_id(), "req-bad-400");
  EXPECT_EQ(server_.request_count(), 1u);
  if (const BatchResult* partial = error->partial_result()) {
    ASSERT_EQ(partial->size(), 3u);
    for (const ItemResult& item : partial->items()) {
      EXPECT_EQ(item.status, ItemStatus::not_sent) << item.index;
      EXPECT_EQ(item.errors.count(""), 1u) << "request-level message under the key \"\"";
    }
  }
}

TEST_F(ClientTest, Status422IsReturnedWithEveryItemRejected) {
  // The default server answers 422 when every item fails validation.
  std::vector<Contact> contacts{Contact("bad-1").email("not-an-email"),
                                Contact("bad-2").email("also-wrong")};
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);
  EXPECT_EQ(server_.request_count(), 1u);
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result.count(ItemStatus::accepted), 0u);
  EXPECT_EQ(result.count(ItemStatus::rejected), 2u);
  std::vector<ItemResult> failed = result.failed();
  ASSERT_EQ(failed.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(failed[i].index, i);
    EXPECT_EQ(failed[i].id, contacts[i].user_id());
    EXPECT_EQ(failed[i].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  }
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 422);
  EXPECT_EQ(result.requests()[0].parsed_body()["entity"]["failed"], 2);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, Partial202ReportsFailedItemsWithIndexIdAndFieldErrors) {
  std::vector<Contact> contacts{Contact("ok-a").email("a@example.com"),
                                Contact("bad-b").email("b-at-example.com"),
                                Contact("ok-c").first_name("C")};
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);
  ASSERT_EQ(result.size(), 3u);
  EXPECT_FALSE(result.all_accepted());
  EXPECT_EQ(result.count(ItemStatus::accepted), 2u);
  std::vector<ItemResult> failed = result.failed();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].index, 1u);
  EXPECT_EQ(failed[0].id, "bad-b");
  EXPECT_EQ(failed[0].status, ItemStatus::rejected);
  EXPECT_EQ(failed[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[2].status, ItemStatus::accepted);
  EXPECT_EQ(result.requests().at(0).http_status, 202);
}

TEST_F(ClientTest, Partial202ForEventsUsesEventIds) {
  server_.enqueue(CannedResponse::json(
      202, EntityBody({{{"status", "success"}, {"_user_id", "u1"}, {"_event_id", "e1"}},
                       {{"status", "error"},
                        {"_user_id", "u2"},
                        {"_event_id", "e2"},
                        {"errors", {{"_event_date", {"Invalid date"}}}}}})));
  Client client = MakeClient();
  BatchResult result =
      client.record_events({Event("u1", "e1", "purchase"), Event("u2", "e2", "purchase")});
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "e1");
  ASSERT_EQ(result.failed().size(), 1u);
  EXPECT_EQ(result.failed()[0].index, 1u);
  EXPECT_EQ(result.failed()[0].id, "e2");
  EXPECT_EQ(result.failed()[0].errors, (FieldErrors{{"_event_date", {"Invalid date"}}}));
}

TEST_F(ClientTest, ConnectorsResponseShapeIsRead) {
  json body = {
      {"success", true},
      {"status", "accepted"},
      {"entitiesSuccess", 2},
      {"entitiesFailures", 1},
      {"entitiesLimit", 100},
      {"dryRun", false},
      {"accepted",
       {{{"position", 0}, {"item", {{"_user_id", "c0"}}}},
        {{"position", 2}, {"item", {{"_user_id", "c2"}}}}}},
      {"errors",
       {{{"position", 1},
         {"item", {{"_user_id", "c1"}, {"_email", "nope"}}},
         {"error", {{"_email", {"Invalid format"}}}}}}},
  };
  server_.enqueue(CannedResponse::json(202, body));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(
      {Contact("c0"), Contact("c1").email("nope@example.com"), Contact("c2")});
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[2].status, ItemStatus::accepted);
  ASSERT_EQ(result.failed().size(), 1u);
  EXPECT_EQ(result.failed()[0].index, 1u);
  EXPECT_EQ(result.failed()[0].id, "c1");
  EXPECT_EQ(result.failed()[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(result.requests().at(0).parsed_body(), body);
  EXPECT_EQ(result.requests().at(0).body, body.dump());
}

TEST_F(ClientTest, ConnectorsResponseShapeIsReadForEvents) {
  json body = {{"success", true},
               {"entitiesSuccess", 1},
               {"accepted", {{{"position", 0}, {"item", {{"_event_id", "e0"}}}}}},
               {"errors",
                {{{"position", 1},
                  {"item", {{"_event_id", "e1"}}},
                  {"error", {{"_event_type", {"Unknown event type"}}}}}}}};
  server_.enqueue(CannedResponse::json(202, body));
  Client client = MakeClient();
  BatchResult result =
      client.record_events({Event("u", "e0", "purchase"), Event("u", "e1", "nope")});
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].status, ItemStatus::accepted);
  EXPECT_EQ(result[0].id, "e0");
  EXPECT_EQ(result[1].status, ItemStatus::rejected);
  EXPECT_EQ(result[1].errors, (FieldErrors{{"_event_type", {"Unknown event type"}}}));
}

TEST_F(ClientTest, UnreadableOrMismatched202BodiesGiveUnknownItems) {
  struct Case {
    const char* name;
    std::string body;
    bool body_is_json;
  };
  const json ok0 = {{"status", "success"}, {"_user_id", "m0"}};
  const json ok1 = {{"status", "success"}, {"_user_id", "m1"}};
  const std::vector<Case> cases = {
      {"not json", "<html>Accepted</html>", false},
      {"empty body", "", false},
      {"truncated", R"({"entity":{"successful":2,"failed":0,"items":[{"status":"succ)", false},
      {"empty object", "{}", true},
      {"array instead of object", "[1,2]", true},
      {"no items", R"({"entity":{"successful":2,"failed":0}})", true},
      {"items not an array", R"({"entity":{"items":"all good"}})", true},
      {"empty items", EntityBody({}).dump(), true},
      {"ids of other contacts",
       EntityBody({{{"status", "success"}, {"_user_id", "other-0"}},
                   {{"status", "success"}, {"_user_id", "other-1"}}})
           .dump(),
       true},
      {"unrecognised status",
       EntityBody(
           {{{"status", "queued"}, {"_user_id", "m0"}}, {{"status", "queued"}, {"_user_id", "m1"}}})
           .dump(),
       true},
      {"connectors positions out of range",
       json({{"success", true},
             {"accepted",
              {{{"position", 7}, {"item", {{"_user_id", "m0"}}}},
               {{"position", -1}, {"item", {{"_user_id", "m1"}}}}}},
             {"errors", json::array()}})
           .dump(),
       true},
      {"connectors positions not numbers",
       json({{"success", true},
             {"accepted",
              {{{"position", "0"}, {"item", {{"_user_id", "m0"}}}},
               {{"position", nullptr}, {"item", {{"_user_id", "m1"}}}}}}})
           .dump(),
       true},
  };
  Client client = MakeClient();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CannedResponse response = CannedResponse::text(202, c.body);
    if (c.body.empty()) response.content_type.clear();
    server_.enqueue(response);
    BatchResult result;
    try {
      result = client.upsert_contacts({Contact("m0"), Contact("m1")});
    } catch (const Error& e) {
      ExpectNoSecrets(e);
      ADD_FAILURE() << "a 202 must not throw; got kind=" << to_string(e.kind()) << ": " << e.what();
      continue;
    }
    ASSERT_EQ(result.size(), 2u);
    for (const ItemResult& item : result.items()) {
      EXPECT_EQ(item.status, ItemStatus::unknown) << "item " << item.index;
    }
    EXPECT_EQ(result.count(ItemStatus::accepted), 0u);
    ASSERT_EQ(result.requests().size(), 1u);
    EXPECT_EQ(result.requests()[0].http_status, 202);
    // The raw answer stays reachable, byte for byte.
    EXPECT_EQ(result.requests()[0].body, c.body);
    if (!c.body_is_json) {
      EXPECT_TRUE(result.requests()[0].parsed_body().is_null()) << result.requests()[0].body;
    }
  }
}

TEST_F(ClientTest, ItemsMissingFromThe202AnswerAreUnknown) {
  server_.enqueue(
      CannedResponse::json(202, EntityBody({{{"status", "success"}, {"_user_id", "m0"}},
                                            {{"status", "success"}, {"_user_id", "m1"}}})));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts({Contact("m0"), Contact("m1"), Contact("m2")});
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[2].status, ItemStatus::unknown);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_NE(result[i].status, ItemStatus::rejected);
    EXPECT_NE(result[i].status, ItemStatus::not_sent);
  }
}

// The client reads every 202 exactly as parse_batch_items(), the reader of every shape, reads the
// same body (the library may take a faster path for common answers; the outcome must not differ).
void ExpectClientReadsLikeParseBatchItems(TestServer& server, const Client& client,
                                          const std::string& body) {
  server.enqueue(CannedResponse::text(202, body));
  const std::vector<std::string> ids = {"m0", "m1"};
  BatchResult result = client.upsert_contacts({Contact("m0"), Contact("m1")});
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) parsed = nullptr;
  std::vector<ItemResult> expected =
      detail::parse_batch_items(parsed, detail::BatchKind::contacts, ids, 0);
  ASSERT_EQ(result.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result[i].index, expected[i].index);
    EXPECT_EQ(result[i].id, expected[i].id);
    EXPECT_EQ(result[i].status, expected[i].status)
        << "item " << i << " (left: the client, right: parse_batch_items)";
    EXPECT_EQ(result[i].errors, expected[i].errors) << "item " << i;
  }
}

TEST_F(ClientTest, ClientReadsAnswersExactlyAsParseBatchItems) {
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  const std::vector<std::pair<const char*, std::string>> bodies = {
      {"plain",
       R"({"entity":{"successful":2,"failed":0,"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"spaced, extra fields",
       "{ \"entity\" : {\n \"items\" : [ { \"_user_id\" : \"m0\" , \"status\" : \"success\" , "
       "\"x\" : { \"a\" : [ 1 , -0.5e+3 , true , false , null ] } } ,\n { \"status\" : "
       "\"success\" , \"_user_id\" : \"m1\" } ] } , \"meta\" : 0 }"},
      {"one rejected",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"error","_user_id":"m1","errors":{"_email":["Invalid format"]}}]}})"},
      {"other id",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"zz"}]}})"},
      {"too many items",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"},{"status":"success"}]}})"},
      {"status not a string",
       R"({"entity":{"items":[{"status":1,"_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"id not a string",
       R"({"entity":{"items":[{"status":"success","_user_id":7},{"status":"success","_user_id":"m1"}]}})"},
      {"no ids", R"({"entity":{"items":[{"status":"success"},{"status":"success"}]}})"},
      {"non-ASCII elsewhere",
       "{\"entity\":{\"items\":[{\"status\":\"success\",\"_user_id\":\"m0\",\"n\":\"\xC3\xB1\"},{"
       "\"status\":\"success\",\"_user_id\":\"m1\"}]}}"},
      {"escape elsewhere",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0","n":"a\"b"},{"status":"success","_user_id":"m1"}]}})"},
      {"escaped id",
       R"({"entity":{"items":[{"status":"success","_user_id":"m\u0030"},{"status":"success","_user_id":"m1"}]}})"},
      {"duplicate status",
       R"({"entity":{"items":[{"status":"error","status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"duplicate entity",
       R"({"entity":{"items":[]},"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"trailing garbage",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}} x)"},
      {"trailing comma",
       R"({"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"},]}})"},
      {"leading zero",
       R"({"n":01,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
      {"deep nesting elsewhere",
       R"({"deep":)" + deep +
           R"(,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})"},
  };
  Client client = MakeClient();
  for (const auto& [name, body] : bodies) {
    SCOPED_TRACE(name);
    ExpectClientReadsLikeParseBatchItems(server_, client, body);
  }
}

TEST_F(ClientTest, AnswerWithOutOfRangeNumberIsReadLikeParseBatchItems) {
  // nlohmann/json (and so parse_batch_items and BatchRequest::parsed_body) cannot read 1e999;
  // an item must not be reported accepted from a body the result itself calls "not JSON".
  const std::string body =
      R"({"n":1e999,"entity":{"items":[{"status":"success","_user_id":"m0"},{"status":"success","_user_id":"m1"}]}})";
  Client client = MakeClient();
  ExpectClientReadsLikeParseBatchItems(server_, client, body);
}

TEST_F(ClientTest, UnreadableSuccessBodyOnReadsIsUnreadableResponseError) {
  server_.enqueue(
      CannedResponse::text(200, "<html>not json</html>").header("X-Request-Id", "req-html"));
  server_.enqueue(CannedResponse::text(200, "<html>not json</html>"), 10);
  Client client = MakeClient();
  auto error = Catch<UnreadableResponseError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::unreadable_response);
  EXPECT_EQ(error->http_status(), 200);
  EXPECT_EQ(error->request_id(), "req-html");
}

TEST_F(ClientTest, WrongShapeOnReadsIsUnreadableResponseErrorWithRequestId) {
  // error.hpp: request_id() is "the X-Request-Id of the last answer, when present".
  server_.enqueue(
      CannedResponse::json(200, {{"unexpected", true}}).header("X-Request-Id", "req-no-contact"));
  server_.enqueue(
      CannedResponse::json(200, {{"specs", "not a list"}}).header("X-Request-Id", "req-no-specs"));
  Client client = MakeClient();
  auto contact = Catch<UnreadableResponseError>([&] { client.get_contact("user-1"); });
  ASSERT_TRUE(contact);
  EXPECT_EQ(contact->http_status(), 200);
  EXPECT_EQ(contact->request_id(), "req-no-contact");
  auto specs = Catch<UnreadableResponseError>([&] { client.attribute_specs(); });
  ASSERT_TRUE(specs);
  EXPECT_EQ(specs->http_status(), 200);
  EXPECT_EQ(specs->request_id(), "req-no-specs");
}

TEST_F(ClientTest, RedirectsAreNotFollowed) {
  server_.enqueue(CannedResponse::empty(302).header("Location", server_.base_url() + "/elsewhere"));
  Client client = MakeClient();
  auto error = CatchAnyError([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 302);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

// ---------------------------------------------------------------------------------------------
// Rate limiting

TEST_F(ClientTest, RateLimited429WaitsUntilResetMeasuredAgainstDateHeader) {
  // The server's clock is years ahead of the client's (fake) clock: only the Date header makes
  // the reset meaningful.
  const system_clock::time_point server_now(seconds(1935748800));
  server_.set_server_time(server_now);
  server_.enqueue(
      CannedResponse::empty(429)
          .header("Date", TestServer::http_date(server_now))
          .header("X-RateLimit-Limit", "60")
          .header("X-RateLimit-Remaining", "0")
          .header("X-RateLimit-Reset", std::to_string(TestServer::unix_seconds(server_now) + 7))
          .header("X-Request-Id", "req-429"));
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(MakeContacts(2));

  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GE(sleeps[0], milliseconds(7'000));
  EXPECT_LE(sleeps[0], milliseconds(8'000));
  // Both attempts carried the same batch.
  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].json_body(), posts[1].json_body());
}

TEST_F(ClientTest, RateLimited429HonoursRetryAfter) {
  const system_clock::time_point server_now(seconds(1935748800));
  server_.set_server_time(server_now);
  server_.enqueue(
      CannedResponse::empty(429)
          .header("Date", TestServer::http_date(server_now))
          .header("Retry-After", "3")
          .header("X-RateLimit-Remaining", "0")
          .header("X-RateLimit-Reset", std::to_string(TestServer::unix_seconds(server_now) + 30)));
  Client client = MakeClient();
  StreamInfo info = client.stream_info();
  EXPECT_EQ(info.raw, TestServer::stream_info_body());
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(clock_->sleeps(), std::vector<milliseconds>{milliseconds(3'000)});
}

TEST_F(ClientTest, RateLimitWaitIsCappedByMaxRateLimitWait) {
  const system_clock::time_point server_now(seconds(1935748800));
  server_.set_server_time(server_now);
  server_.enqueue(CannedResponse::empty(429)
                      .header("Date", TestServer::http_date(server_now))
                      .header("X-RateLimit-Remaining", "0")
                      .header("X-RateLimit-Reset",
                              std::to_string(TestServer::unix_seconds(server_now) + 3600)));
  Client client =
      MakeClient([](ClientOptions& o) { o.retry.max_rate_limit_wait = milliseconds(5'000); });
  BatchResult result = client.upsert_contacts(MakeContacts(1));
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GT(sleeps[0], milliseconds(0));
  EXPECT_LE(sleeps[0], milliseconds(5'000));
}

TEST_F(ClientTest, RateLimited429HonoursRetryAfterAsHttpDate) {
  const system_clock::time_point server_now(seconds(1935748800));
  server_.enqueue(CannedResponse::empty(429)
                      .header("Date", TestServer::http_date(server_now))
                      .header("Retry-After", TestServer::http_date(server_now + seconds(5))));
  Client client = MakeClient();
  client.stream_info();
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(clock_->sleeps(), std::vector<milliseconds>{milliseconds(5'000)});
}

TEST_F(ClientTest, RateLimitResetInThePastFallsBackToBackoffNotATightLoop) {
  const system_clock::time_point server_now(seconds(1935748800));
  server_.enqueue(
      CannedResponse::empty(429)
          .header("Date", TestServer::http_date(server_now))
          .header("X-RateLimit-Remaining", "0")
          .header("X-RateLimit-Reset", std::to_string(TestServer::unix_seconds(server_now) - 10)));
  Client client = MakeClient();
  client.stream_info();
  EXPECT_EQ(server_.request_count(), 2u);
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GE(sleeps[0], milliseconds(100));  // half of initial_backoff at least
  EXPECT_LE(sleeps[0], milliseconds(200));
}

TEST_F(ClientTest, RateLimitedUntilMaxAttemptsThrowsRateLimitedError) {
  for (int i = 1; i <= 3; ++i) {
    server_.enqueue(CannedResponse::empty(429)
                        .header("Retry-After", "1")
                        .header("X-Request-Id", "req-429-" + std::to_string(i)));
  }
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 3; });
  std::vector<Contact> contacts = MarkedContacts(2);
  auto error = Catch<RateLimitedError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::rate_limited);
  EXPECT_EQ(error->http_status(), 429);
  EXPECT_EQ(error->request_id(), "req-429-3");
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(clock_->sleeps(),
            (std::vector<milliseconds>{milliseconds(1'000), milliseconds(1'000)}));
  if (const BatchResult* partial = error->partial_result()) {
    ASSERT_EQ(partial->size(), 2u);
    EXPECT_EQ(partial->count(ItemStatus::not_sent), 2u);
  }
}

TEST_F(ClientTest, RateLimitReflectsTheLatestHeaders) {
  Client client = MakeClient();
  Client copy = client;
  RateLimit before = client.rate_limit();
  EXPECT_FALSE(before.limit.has_value());
  EXPECT_FALSE(before.remaining.has_value());
  EXPECT_FALSE(before.reset.has_value());

  server_.enqueue(CannedResponse::json(200, TestServer::stream_info_body())
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "119")
                      .header("X-RateLimit-Reset", "1900000000"));
  client.stream_info();
  RateLimit first = client.rate_limit();
  EXPECT_EQ(first.limit, std::optional<long>(120));
  EXPECT_EQ(first.remaining, std::optional<long>(119));
  EXPECT_EQ(first.reset,
            std::optional<system_clock::time_point>(system_clock::time_point(seconds(1900000000))));

  // A copy shares what it sees; a 429 followed by a success leaves the success's values.
  server_.enqueue(CannedResponse::empty(429)
                      .header("Retry-After", "1")
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "0")
                      .header("X-RateLimit-Reset", "1900000030"));
  server_.enqueue(CannedResponse::json(200, TestServer::stream_info_body())
                      .header("X-RateLimit-Limit", "120")
                      .header("X-RateLimit-Remaining", "118")
                      .header("X-RateLimit-Reset", "1900000060"));
  copy.stream_info();
  for (const Client* c : {&client, &copy}) {
    RateLimit latest = c->rate_limit();
    EXPECT_EQ(latest.limit, std::optional<long>(120));
    EXPECT_EQ(latest.remaining, std::optional<long>(118));
    EXPECT_EQ(latest.reset, std::optional<system_clock::time_point>(
                                system_clock::time_point(seconds(1900000060))));
  }
}

// ---------------------------------------------------------------------------------------------
// Server errors and retries

TEST_F(ClientTest, ServerErrorsAreRetriedWithExponentialBackoff) {
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal error"}}));
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal error"}}));
  Client client = MakeClient();
  std::vector<Contact> contacts = MakeContacts(3);
  BatchResult result = client.upsert_contacts(contacts);

  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(server_.request_count(), 3u);
  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 3u);
  for (const RecordedRequest& r : posts) EXPECT_EQ(r.json_body(), ExpectedBody(contacts));
  // Equal jitter: [half, full] of 200 ms, then of 400 ms.
  std::vector<milliseconds> sleeps = clock_->sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], milliseconds(100));
  EXPECT_LE(sleeps[0], milliseconds(200));
  EXPECT_GE(sleeps[1], milliseconds(200));
  EXPECT_LE(sleeps[1], milliseconds(400));
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].http_status, 202);
  EXPECT_EQ(result.requests()[0].request_id, posts[2].response_request_id);
}

TEST_F(ClientTest, ServerErrorUntilMaxAttemptsThrowsServerError) {
  for (int i = 1; i <= 3; ++i) {
    server_.enqueue(CannedResponse::json(503, {{"message", "Unavailable"}})
                        .header("X-Request-Id", "req-503-" + std::to_string(i)));
  }
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 3; });
  auto error = Catch<ServerError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::server_error);
  EXPECT_EQ(error->http_status(), 503);
  EXPECT_EQ(error->request_id(), "req-503-3");
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(clock_->sleeps().size(), 2u);
}

TEST_F(ClientTest, MaxAttemptsOneDisablesRetries) {
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 1; });
  auto error = Catch<ServerError>([&] { client.upsert_contacts(MakeContacts(1)); });
  ASSERT_TRUE(error);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, OtherClientErrorsAreBadRequestErrorsAndNotRetried) {
  for (int status : {405, 409, 413}) {
    SCOPED_TRACE(status);
    server_.clear_requests();
    server_.enqueue(CannedResponse::json(status, {{"message", "nope"}}));
    Client client = MakeClient();
    auto error = Catch<BadRequestError>([&] { client.upsert_contacts(MakeContacts(1)); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::bad_request);
    EXPECT_EQ(error->http_status(), status);
    EXPECT_EQ(server_.request_count(), 1u);
  }
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(ClientTest, RetriesStopAtTheDeadline) {
  server_.set_handler([](const RecordedRequest&) {
    return std::optional<CannedResponse>(CannedResponse::json(500, {{"message", "down"}}));
  });
  Client client = MakeClient([](ClientOptions& o) {
    o.retry.max_attempts = 50;
    o.retry.initial_backoff = milliseconds(400);
    o.retry.deadline = milliseconds(1'000);
  });
  auto error = Catch<ServerError>([&] { client.stream_info(); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 500);
  EXPECT_LE(clock_->total_slept(), milliseconds(1'000));
  EXPECT_LT(server_.request_count(), 50u);
  EXPECT_GE(server_.request_count(), 2u);
}

TEST_F(ClientTest, NonRetryableStatusesAreSentOnce) {
  Client client = MakeClient();
  for (int status : {400, 401, 404, 422}) {
    SCOPED_TRACE("status " + std::to_string(status));
    server_.clear_requests();
    clock_->clear_sleeps();
    json body = status == 422 ? EntityBody({{{"status", "error"},
                                             {"_user_id", "user-000"},
                                             {"errors", {{"_email", {"Invalid format"}}}}}})
                              : json{{"message", "refused"}};
    server_.enqueue(CannedResponse::json(status, body));
    // Should the client retry, the retry would get the default 202 and not throw.
    try {
      BatchResult result = client.upsert_contacts(MakeContacts(1));
      EXPECT_EQ(status, 422) << "no error thrown";
      EXPECT_EQ(result.count(ItemStatus::rejected), 1u);
    } catch (const Error& e) {
      ExpectNoSecrets(e);
      EXPECT_NE(status, 422) << "422 must be returned, not thrown: " << e.what();
      EXPECT_EQ(e.http_status(), status);
    }
    EXPECT_EQ(server_.request_count(), 1u);
    EXPECT_TRUE(clock_->sleeps().empty());
    EXPECT_EQ(server_.pending_responses(), 0u);

    if (status != 422) {
      server_.clear_requests();
      server_.enqueue(CannedResponse::json(status, {{"message", "refused"}}));
      try {
        client.stream_info();
        ADD_FAILURE() << "stream_info did not throw";
      } catch (const Error& e) {
        ExpectNoSecrets(e);
        EXPECT_EQ(e.http_status(), status);
      }
      EXPECT_EQ(server_.request_count(), 1u);
      EXPECT_TRUE(clock_->sleeps().empty());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batching

TEST_F(ClientTest, LargeUpsertIsSplitIntoRequestsOf100) {
  std::vector<Contact> contacts = MakeContacts(250);
  Client client = MakeClient();
  BatchResult result = client.upsert_contacts(contacts);

  std::vector<RecordedRequest> posts = Posts(server_);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(BodySizes(posts), (std::vector<std::size_t>{100, 100, 50}));
  EXPECT_EQ(posts[0].json_body(), ExpectedBody(contacts, 0, 100));
  EXPECT_EQ(posts[1].json_body(), ExpectedBody(contacts, 100, 100));
  EXPECT_EQ(posts[2].json_body(), ExpectedBody(contacts, 200, 50));
  for (const RecordedRequest& r : posts) ExpectJsonPost(r);

  ASSERT_EQ(result.size(), 250u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < result.size(); ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, UserId(i));
  }
  ASSERT_EQ(result.requests().size(), 3u);
  const std::size_t firsts[] = {0, 100, 200};
  const std::size_t counts[] = {100, 100, 50};
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(result.requests()[k].first_index, firsts[k]);
    EXPECT_EQ(result.requests()[k].item_count, counts[k]);
    EXPECT_EQ(result.requests()[k].http_status, 202);
    EXPECT_EQ(result.requests()[k].request_id, posts[k].response_request_id);
  }
}

TEST_F(ClientTest, LargeEventBatchIsSplitToo) {
  std::vector<Event> events;
  for (std::size_t i = 0; i < 120; ++i) {
    events.push_back(Event(UserId(i), "evt-" + std::to_string(i), "purchase"));
  }
  Client client = MakeClient();
  BatchResult result = client.record_events(events);
  EXPECT_EQ(BodySizes(Posts(server_)), (std::vector<std::size_t>{100, 20}));
  ASSERT_EQ(result.size(), 120u);
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result[119].id, "evt-119");
  EXPECT_EQ(result[119].index, 119u);
}

TEST_F(ClientTest, LaterRequestFailingGivesPartialResult) {
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::json(401, {{"message", "Unauthenticated."}})
                      .header("X-Request-Id", "req-third"));
  std::vector<Contact> contacts = MarkedContacts(250);
  Client client = MakeClient();
  auto error = Catch<UnauthorizedError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 401);
  EXPECT_EQ(error->request_id(), "req-third");
  EXPECT_EQ(server_.request_count(), 3u);

  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->size(), 250u);
  EXPECT_EQ(partial->count(ItemStatus::accepted), 200u);
  EXPECT_EQ(partial->count(ItemStatus::not_sent), 50u);
  for (std::size_t i = 0; i < 250; ++i) {
    const ItemResult& item = (*partial)[i];
    EXPECT_EQ(item.index, i);
    EXPECT_EQ(item.id, UserId(i));
    if (i < 200) {
      EXPECT_EQ(item.status, ItemStatus::accepted) << i;
    } else {
      EXPECT_EQ(item.status, ItemStatus::not_sent) << i;
      EXPECT_EQ(item.errors.count(""), 1u) << "request-level message under \"\" for item " << i;
    }
  }
}

TEST_F(ClientTest, ServerErrorInTheMiddleGivesUnknownThenNotSent) {
  server_.enqueue(CannedResponse::from_default());
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  server_.enqueue(CannedResponse::json(500, {{"message", "boom"}}));
  std::vector<Contact> contacts = MakeContacts(250);
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 2; });
  auto error = Catch<ServerError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status(), 500);
  EXPECT_EQ(server_.request_count(), 3u);  // 1 + 2 attempts; the third batch never sent
  const BatchResult* partial = error->partial_result();
  ASSERT_NE(partial, nullptr);
  ASSERT_EQ(partial->size(), 250u);
  for (std::size_t i = 0; i < 250; ++i) {
    ItemStatus expected =
        i < 100 ? ItemStatus::accepted : (i < 200 ? ItemStatus::unknown : ItemStatus::not_sent);
    EXPECT_EQ((*partial)[i].status, expected) << "item " << i;
  }
}

TEST_F(ClientTest, EmptyInputSendsNothing) {
  Client client = MakeClient();
  BatchResult contacts = client.upsert_contacts({});
  BatchResult events = client.record_events({});
  EXPECT_EQ(contacts.size(), 0u);
  EXPECT_EQ(events.size(), 0u);
  EXPECT_TRUE(contacts.requests().empty());
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, MaxBatchItemsOptionIsHonoured) {
  Client client = MakeClient([](ClientOptions& o) { o.batch.max_items = 30; });
  BatchResult result = client.upsert_contacts(MakeContacts(70));
  EXPECT_EQ(BodySizes(Posts(server_)), (std::vector<std::size_t>{30, 30, 10}));
  EXPECT_TRUE(result.all_accepted());
  EXPECT_EQ(result.size(), 70u);
}

TEST_F(ClientTest, MaxBatchBytesSplitsIntoMoreRequests) {
  std::vector<Contact> contacts;
  for (std::size_t i = 0; i < 100; ++i) {
    contacts.push_back(Contact(UserId(i)).attribute("note", std::string(100, 'x')));
  }
  std::size_t total = ExpectedBody(contacts).dump().size();
  const std::size_t max_bytes = 2'000;
  Client client = MakeClient([&](ClientOptions& o) { o.batch.max_bytes = max_bytes; });
  BatchResult result = client.upsert_contacts(contacts);

  std::vector<RecordedRequest> posts = Posts(server_);
  EXPECT_GE(posts.size(), total / max_bytes);
  EXPECT_GT(posts.size(), 1u);
  json all = json::array();
  for (const RecordedRequest& r : posts) {
    EXPECT_LE(r.body.size(), max_bytes);
    json body = r.json_body();
    ASSERT_TRUE(body.is_array());
    for (const json& item : body) all.push_back(item);
  }
  EXPECT_EQ(all, ExpectedBody(contacts));
  ASSERT_EQ(result.size(), 100u);
  EXPECT_TRUE(result.all_accepted());
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(result[i].index, i);
    EXPECT_EQ(result[i].id, UserId(i));
  }
  EXPECT_EQ(result.requests().size(), posts.size());
}

TEST_F(ClientTest, ItemLargerThanMaxBatchBytesIsRefusedBeforeSending) {
  std::vector<Contact> contacts = MakeContacts(3);
  std::string huge;
  for (int i = 0; i < 200; ++i) huge += kPayloadMarker;
  contacts[1] = Contact(UserId(1)).attribute("blob", huge);
  Client client = MakeClient([](ClientOptions& o) { o.batch.max_bytes = 1'000; });
  auto error = Catch<InvalidInputError>([&] { client.upsert_contacts(contacts); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind(), ErrorKind::invalid_input);
  EXPECT_EQ(error->item_index(), 1);
  EXPECT_EQ(server_.request_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Path encoding

TEST_F(ClientTest, UserIdsArePercentEncodedAsOnePathSegment) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a/b", "a%2Fb"},
      {"with space", "with%20space"},
      {"q?x#y", "q%3Fx%23y"},
      {"\xC3\xB1"
       "and\xC3\xBA",
       "%C3%B1and%C3%BA"},  // "ñandú"
      {"50%off", "50%25off"},
  };
  Client client = MakeClient();
  for (const auto& [id, encoded] : cases) {
    SCOPED_TRACE(id);
    const std::string expected_target = TestServer::stream_path() + "/contacts/" + encoded;
    server_.put_contact(id, {{"_user_id", id}, {"plan", "pro"}});

    ContactRecord record = client.get_contact(id);
    RecordedRequest get = server_.last_request();
    EXPECT_EQ(get.method, "GET");
    EXPECT_EQ(get.target, expected_target);
    EXPECT_EQ(record.user_id, id);
    EXPECT_EQ(record.attributes.value("plan", ""), "pro");

    DeleteResult deleted = client.delete_contact(id);
    RecordedRequest del = server_.last_request();
    EXPECT_EQ(del.method, "DELETE");
    EXPECT_EQ(del.target, expected_target);
    EXPECT_EQ(deleted.http_status, 200);
    EXPECT_FALSE(server_.stored_contact(id).has_value()) << "the server decoded another id";
  }
}

TEST_F(ClientTest, ProjectAndDatasourceArePercentEncoded) {
  Client client = MakeClient([](ClientOptions& o) {
    o.project = "proj/x y";
    o.datasource = "ds?1";
  });
  EXPECT_TRUE(Catch<NotFoundError>([&] { client.stream_info(); }));
  EXPECT_EQ(server_.last_request().target, "/v1/project/proj%2Fx%20y/datasource/ds%3F1/stream");
}

TEST_F(ClientTest, TrailingSlashInBaseUrlDoesNotDoubleTheSlash) {
  Client client = MakeClient([&](ClientOptions& o) { o.base_url = server_.base_url() + "/"; });
  client.stream_info();
  EXPECT_EQ(server_.last_request().target, TestServer::stream_path());
}

TEST_F(ClientTest, EmptyPathArgumentsAreRefusedBeforeSending) {
  Client client = MakeClient();
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.delete_contact(""); }));
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.get_contact(""); }));
  EXPECT_TRUE(Catch<InvalidInputError>([&] { client.event_parameter_specs(""); }));
  EXPECT_EQ(server_.request_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST_F(ClientTest, NoErrorTextContainsTheTokenOrThePayload) {
  // Catch<> checks what(), server_message() and partial-result messages of every error.
  std::vector<Contact> contacts = MarkedContacts(2);
  std::vector<Event> events{Event("u", "e", "purchase").parameter("p", kPayloadMarker)};
  Client client = MakeClient([](ClientOptions& o) { o.retry.max_attempts = 2; });

  server_.enqueue(CannedResponse::json(401, {{"message", "Unauthenticated."}}));
  EXPECT_TRUE(Catch<UnauthorizedError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::json(404, {{"message", "Not found"}}));
  EXPECT_TRUE(Catch<NotFoundError>([&] { client.record_events(events); }));
  server_.enqueue(CannedResponse::json(400, {{"message", "Body should be an array"}}));
  EXPECT_TRUE(Catch<BadRequestError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::json(500, {{"message", "Internal"}}), 2);
  EXPECT_TRUE(Catch<ServerError>([&] { client.upsert_contacts(contacts); }));
  server_.enqueue(CannedResponse::empty(429).header("Retry-After", "1"), 2);
  EXPECT_TRUE(Catch<RateLimitedError>([&] { client.record_events(events); }));

  ClosedPort closed;
  Client unreachable = MakeClient([&](ClientOptions& o) {
    o.base_url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/v1";
    o.retry.max_attempts = 2;
  });
  EXPECT_TRUE(Catch<TransportError>([&] { unreachable.upsert_contacts(contacts); }));

  ClientOptions bad = make_client_options(server_, clock_);
  bad.token = std::string(kTestToken) + "\r\nX-Injected: " + kPayloadMarker;
  EXPECT_TRUE(Catch<InvalidInputError>([&] { Client c(bad); }));
}

// error.hpp: the message "never contains the token ... or any part of a request payload" — also
// when the server quotes them back in its own message (server_message() is the server's text and
// is not checked here).
TEST_F(ClientTest, ServerQuotingTheTokenDoesNotLeakIntoWhat) {
  server_.enqueue(CannedResponse::json(
      401, {{"message", std::string("Invalid token ") + kTestToken + " for this datasource"}}));
  Client client = MakeClient();
  try {
    client.stream_info();
    ADD_FAILURE() << "nothing thrown";
  } catch (const UnauthorizedError& e) {
    EXPECT_FALSE(Contains(e.what(), kTestToken)) << e.what();
  }
}

TEST_F(ClientTest, ServerQuotingThePayloadDoesNotLeakIntoWhat) {
  server_.enqueue(CannedResponse::json(
      400, {{"message", std::string("Invalid value '") + kPayloadMarker + "' for note"}}));
  Client client = MakeClient();
  try {
    client.upsert_contacts(MarkedContacts(1));
    ADD_FAILURE() << "nothing thrown";
  } catch (const BadRequestError& e) {
    EXPECT_FALSE(Contains(e.what(), kPayloadMarker)) << e.what();
  }
}

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
  EXPECT_LT(elapsed, std::chrono::milliseconds(2'500));
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
  Client client = MakeClient([&](ClientOptions& o) {
    o.base_url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/v1";
    o.retry.max_attempts = 3;
  });
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
  Client client = MakeClient([&](ClientOptions& o) {
    o.base_url = "http://127.0.0.1:" + std::to_string(dropping.port()) + "/v1";
    o.retry.max_attempts = 2;
  });
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

// ---------------------------------------------------------------------------------------------
// Construction

TEST_F(ClientTest, RefusesPlainHttpToNonLoopbackHosts) {
  for (const char* url : {"http://example.com/v1", "http://127.0.0.1.example.com/v1",
                          "http://localhost.example.com/v1", "http://10.0.0.1:8080/v1"}) {
    SCOPED_TRACE(url);
    ClientOptions options = make_client_options(server_, clock_);
    options.base_url = url;
    auto error = Catch<InvalidInputError>([&] { Client c(options); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::invalid_input);
    EXPECT_FALSE(error->field().empty());

    options.allow_insecure_http = true;
    EXPECT_NO_THROW(Client c(options));
  }
  for (const char* url :
       {"http://localhost:8080/v1", "http://127.0.0.1:8080/v1", "http://127.1.2.3/v1",
        "http://[::1]:8080/v1", "https://api.instasent.com/v1"}) {
    SCOPED_TRACE(url);
    ClientOptions options = make_client_options(server_, clock_);
    options.base_url = url;
    EXPECT_NO_THROW(Client c(options));
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, RefusesTokenWithLineBreaks) {
  for (const std::string& token :
       {std::string(kTestToken) + "\r\nX-Injected: 1", std::string(kTestToken) + "\nX: 1",
        std::string(kTestToken) + "\r"}) {
    ClientOptions options = make_client_options(server_, clock_);
    options.token = token;
    auto error = Catch<InvalidInputError>([&] { Client c(options); });
    ASSERT_TRUE(error);
    EXPECT_TRUE(Contains(error->field(), "TOKEN") || Contains(error->field(), "token"))
        << "field: " << error->field();
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(ClientTest, RefusesEmptyProjectDatasourceOrToken) {
  struct Case {
    const char* name;
    std::function<void(ClientOptions&)> spoil;
    const char* field_part_lower;
    const char* field_part_upper;
  };
  const std::vector<Case> cases = {
      {"project", [](ClientOptions& o) { o.project.clear(); }, "project", "PROJECT"},
      {"datasource", [](ClientOptions& o) { o.datasource.clear(); }, "datasource", "DATASOURCE"},
      {"token", [](ClientOptions& o) { o.token.clear(); }, "token", "TOKEN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ClientOptions options = make_client_options(server_, clock_);
    c.spoil(options);
    auto error = Catch<InvalidInputError>([&] { Client client(options); });
    ASSERT_TRUE(error);
    EXPECT_TRUE(Contains(error->field(), c.field_part_lower) ||
                Contains(error->field(), c.field_part_upper))
        << "field: " << error->field();
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_F(ClientTest, OneClientFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  Client client = MakeClient();
  Client copy = client;  // copies share one transport
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Client& c = t % 2 == 0 ? client : copy;
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        try {
          BatchResult result = c.upsert_contacts({Contact(id).attribute("thread", t)});
          if (result.size() != 1 || result[0].status != ItemStatus::accepted ||
              result[0].id != id) {
            std::lock_guard<std::mutex> lock(failures_mutex);
            failures.push_back(id + ": not accepted");
          }
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(failures_mutex);
          failures.push_back(id + ": " + e.what());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();

  std::vector<RecordedRequest> posts = Posts(server_);
  EXPECT_EQ(posts.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> seen;
  for (const RecordedRequest& r : posts) {
    ExpectJsonPost(r);
    json body = r.json_body();
    ASSERT_TRUE(body.is_array() && body.size() == 1) << r.body;
    seen.insert(body[0].value("_user_id", ""));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_TRUE(clock_->sleeps().empty());
}

}  // namespace
}  // namespace testing
}  // namespace instasent
