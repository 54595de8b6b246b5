// SPDX-License-Identifier: Apache-2.0
// What the client refuses before it sends anything (ids that would address another path, ids too
// long, options that would disable a safety), where the token may travel (never to a proxy in
// clear text), and TLS verification (a certificate that fails it is final, not retried).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "instasent/instasent.hpp"
#include "integration/test_server.hpp"
#include "support/raw_server.hpp"
#include "support/scoped_env.hpp"

namespace instasent::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs `f`; the InvalidInputError it throws (or a failure when it throws none).
template <typename F>
std::optional<InvalidInputError> refusal(F&& f) {
  try {
    f();
    ADD_FAILURE() << "nothing was refused";
  } catch (const InvalidInputError& e) {
    return e;
  }
  return std::nullopt;
}

class Refusals : public ::testing::Test {
 protected:
  TestServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  Client client_ = make_client(server_, clock_);
};

// --- Path segments -------------------------------------------------------------------------------

TEST_F(Refusals, DotSegmentsAreRefusedBeforeSending) {
  for (const char* id : {".", ".."}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(refusal([&] { client_.delete_contact(id); })->field(), "user id");
    EXPECT_EQ(refusal([&] { client_.get_contact(id); })->field(), "user id");
    EXPECT_EQ(refusal([&] { client_.event_parameter_specs(id); })->field(), "event type");
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(Refusals, IdsWithDotsThatAreNotDotSegmentsAreSentAsOneSegment) {
  for (const char* id : {"...", ".a", "a..", "../x", "./", "%2e%2e", ". ."}) {
    SCOPED_TRACE(id);
    server_.put_contact(id, nlohmann::json::object());
    EXPECT_EQ(client_.get_contact(id).user_id, id);
    const std::string path = server_.last_request().raw_path;
    EXPECT_EQ(path.substr(0, TestServer::stream_path().size() + 10),
              TestServer::stream_path() + "/contacts/")
        << path;
    EXPECT_EQ(path.find('/', TestServer::stream_path().size() + 10), std::string::npos) << path;
  }
}

TEST_F(Refusals, DotProjectOrDatasourceIsRefused) {
  for (const char* id : {".", ".."}) {
    auto options = make_client_options(server_, clock_);
    options.project = id;
    EXPECT_EQ(refusal([&] { Client{options}; })->field(), "project (INSTASENT_PROJECT)");
    options = make_client_options(server_, clock_);
    options.datasource = id;
    EXPECT_EQ(refusal([&] { Client{options}; })->field(), "datasource (INSTASENT_DATASOURCE)");
  }
}

TEST_F(Refusals, IdsUpToTheLimitAreSentLongerOnesRefused) {
  const std::string longest(kMaxIdBytes, 'u');
  const std::string too_long(kMaxIdBytes + 1, 'u');
  server_.put_contact(longest, nlohmann::json::object());
  EXPECT_EQ(client_.get_contact(longest).user_id, longest);
  const std::size_t sent = server_.request_count();

  EXPECT_EQ(refusal([&] { client_.delete_contact(too_long); })->field(), "user id");
  EXPECT_EQ(refusal([&] { client_.get_contact(std::string(10u << 20, 'u')); })->field(), "user id");
  EXPECT_EQ(refusal([&] { Contact{too_long}; })->field(), "_user_id");
  EXPECT_EQ(refusal([&] { Event(too_long, "e", "t"); })->field(), "_user_id");
  EXPECT_EQ(refusal([&] { Event("u", too_long, "t"); })->field(), "_event_id");
  EXPECT_EQ(refusal([&] { Event("u", "e", too_long); })->field(), "_event_type");
  EXPECT_EQ(refusal([&] { Event("u", "t").event_id(too_long); })->field(), "_event_id");
  auto options = make_client_options(server_, clock_);
  options.project = too_long;
  EXPECT_EQ(refusal([&] { Client{options}; })->field(), "project (INSTASENT_PROJECT)");
  EXPECT_EQ(server_.request_count(), sent);
}

TEST_F(Refusals, ValuesNestedDeeperThanTheLimitAreRefusedWhereSet) {
  Value deepest = 1;
  for (std::size_t i = 0; i < kMaxValueDepth; ++i) deepest = Value::array({deepest});
  EXPECT_EQ(deepest.depth(), kMaxValueDepth);
  Event event("u", "e", "t");
  EXPECT_NO_THROW(event.parameter("ok", deepest));
  const Value too_deep = Value::object({{"k", deepest}});
  EXPECT_EQ(too_deep.problem(), Value::Problem::too_deep);
  const auto e = refusal([&] { event.parameter("deep", too_deep); });
  EXPECT_EQ(e->field(), "parameter 'deep'");
  EXPECT_NE(std::string(e->what()).find("deeper than 16 levels"), std::string::npos);
  // A huge depth costs nothing more: the problem is found as the value is built.
  Value huge = 1;
  for (int i = 0; i < 1'000; ++i) huge = Value::array({huge});
  EXPECT_EQ(huge.problem(), Value::Problem::too_deep);
}

// --- Options -------------------------------------------------------------------------------------

TEST_F(Refusals, OptionsThatWouldDisableASafetyAreRefused) {
  struct Case {
    const char* field;
    std::function<void(ClientOptions&)> spoil;
  };
  const std::vector<Case> cases = {
      {"curl.request_timeout", [](ClientOptions& o) { o.curl.request_timeout = milliseconds(0); }},
      {"curl.request_timeout", [](ClientOptions& o) { o.curl.request_timeout = milliseconds(-1); }},
      {"curl.connect_timeout", [](ClientOptions& o) { o.curl.connect_timeout = milliseconds(0); }},
      {"curl.max_response_bytes", [](ClientOptions& o) { o.curl.max_response_bytes = 0; }},
      {"curl.max_response_bytes", [](ClientOptions& o) { o.curl.max_response_bytes = 1023; }},
      {"curl.low_speed_time", [](ClientOptions& o) { o.curl.low_speed_time = seconds(0); }},
      {"retry.max_attempts", [](ClientOptions& o) { o.retry.max_attempts = 0; }},
      {"retry.max_attempts", [](ClientOptions& o) { o.retry.max_attempts = 101; }},
      {"retry.initial_backoff",
       [](ClientOptions& o) { o.retry.initial_backoff = milliseconds(-5); }},
      {"retry.max_backoff", [](ClientOptions& o) { o.retry.max_backoff = milliseconds(1); }},
      {"retry.multiplier", [](ClientOptions& o) { o.retry.multiplier = 0.5; }},
      {"retry.multiplier", [](ClientOptions& o) { o.retry.multiplier = std::nan(""); }},
      {"retry.max_rate_limit_wait",
       [](ClientOptions& o) { o.retry.max_rate_limit_wait = milliseconds(-1); }},
      {"retry.deadline", [](ClientOptions& o) { o.retry.deadline = milliseconds(0); }},
      {"batch.max_items", [](ClientOptions& o) { o.batch.max_items = 0; }},
      {"batch.max_items", [](ClientOptions& o) { o.batch.max_items = 101; }},
      {"batch.max_bytes", [](ClientOptions& o) { o.batch.max_bytes = 10; }},
      {"token (INSTASENT_TOKEN)", [](ClientOptions& o) { o.token = std::string(8193, 't'); }},
      {"token (INSTASENT_TOKEN)", [](ClientOptions& o) { o.token = "a\tb"; }},
  };
  for (const Case& c : cases) {
    auto options = make_client_options(server_, clock_);
    c.spoil(options);
    const auto e = refusal([&] { Client{options}; });
    ASSERT_TRUE(e) << c.field;
    EXPECT_EQ(e->field(), c.field);
  }
  EXPECT_EQ(server_.request_count(), 0u);
}

TEST_F(Refusals, BaseUrlsThatAreNotUsableAreRefused) {
  for (const char* url :
       {"http://127.0.0.1:99999/v1", "http://127.0.0.1:0/v1", "http://127.0.0.1:/v1",
        "http://127.0.0.1:80a/v1", "http://127.0.0.1:-1/v1", "http://[::1/v1", "http://[::1]x/v1",
        "http://127.0.0.1/v1/..", "http://127.0.0.1/v1/../admin", "http://127.0.0.1/./v1",
        "http://127.0.0.1/%2e%2e/v1", "http://exa$mple.com/v1", "https://user@example.com/v1",
        "http://./v1", "http://../v1", "https://.example.com/v1", "https://-example.com/v1",
        "https://example..com/v1"}) {
    auto options = make_client_options(server_, clock_);
    options.base_url = url;
    const auto e = refusal([&] { Client{options}; });
    ASSERT_TRUE(e) << url;
    EXPECT_EQ(e->field(), "base URL (INSTASENT_BASE_URL)") << url;
  }
  for (const char* url : {"http://127.0.0.1:65535/v1", "http://[::1]:1/v1", "https://my_host/v1",
                          "https://api.instasent.com/v1/"}) {
    auto options = make_client_options(server_, clock_);
    options.base_url = url;
    EXPECT_NO_THROW(Client{options}) << url;
  }
}

// --- Proxies -------------------------------------------------------------------------------------

TEST(Proxy, PlainHttpNeverGoesThroughAProxyHttpsDoes) {
  RawServer proxy([](RawConnection& connection) {
    connection.write(RawServer::answer(403, R"({"message":"proxy says no"})"));
  });
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  ScopedEnv http_proxy("http_proxy", proxy_url);
  ScopedEnv https_proxy("https_proxy", proxy_url);
  ScopedEnv all_proxy("ALL_PROXY", proxy_url);
  ScopedEnv no_proxy("no_proxy", "");

  TestServer server;
  auto clock = std::make_shared<FakeClock>();
  const Client plain = make_client(server, clock);
  EXPECT_NO_THROW(plain.stream_info());
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(proxy.requests(), 0u);  // the token never crossed it in clear text

  // https does use the environment's proxy, through a CONNECT tunnel (the token stays
  // encrypted): the proxy sees only where to connect.
  const Client tls = make_client(server, clock, [](ClientOptions& options) {
    options.base_url = "https://api.example.invalid/v1";
    options.retry.max_attempts = 1;
  });
  EXPECT_THROW(tls.stream_info(), TransportError);
  ASSERT_EQ(proxy.requests(), 1u);

  // An explicit proxy does not change that: plain http goes straight to the server.
  const Client explicit_proxy = make_client(
      server, clock, [&](ClientOptions& options) { options.curl.proxy.url = proxy_url; });
  EXPECT_NO_THROW(explicit_proxy.stream_info());
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(proxy.requests(), 1u);
}

// A request that fails at or through a proxy names the proxy, never its credentials.
TEST(Proxy, AFailureThroughAProxyNamesItWithoutCredentials) {
  RawServer refusing([](RawConnection& connection) {
    connection.write(RawServer::answer(403, R"({"message":"proxy says no"})"));
  });
  const std::string proxy = "127.0.0.1:" + std::to_string(refusing.port());
  TestServer server;
  const Client client = make_client(server, std::make_shared<FakeClock>(), [&](ClientOptions& o) {
    o.base_url = "https://api.example.invalid/v1";
    o.retry.max_attempts = 1;
    o.curl.proxy.url = "http://proxy-user:hunter2@" + proxy;
  });
  try {
    client.stream_info();
    ADD_FAILURE() << "the proxy let it through";
  } catch (const TransportError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("through the proxy http://" + proxy + ")"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_EQ(message.find("proxy-user"), std::string::npos) << message;
  }
  EXPECT_EQ(refusing.requests(), 1u);
}

// A proxy URL that is not one is refused when the client is made, naming the option (or the
// variable) and never its value.
TEST(Proxy, AProxyThatIsNotAProxyUrlIsRefusedWithoutItsValue) {
  TestServer server;
  const auto clock = std::make_shared<FakeClock>();
  for (const char* url : {"ftp://u:hunter2@proxy:21", "http://u:hunter2@proxy:3128/path",
                          "http://u:hunter2@proxy:0", "http://u:hunter2@", "http://u:hunter2@a..b",
                          "http://u:hunter2@proxy:3128?x", "http://u:hunter2 @proxy"}) {
    const auto e = refusal(
        [&] { make_client(server, clock, [&](ClientOptions& o) { o.curl.proxy.url = url; }); });
    ASSERT_TRUE(e) << url;
    EXPECT_EQ(e->field(), "curl.proxy.url") << url;
    EXPECT_EQ(std::string(e->what()).find("hunter2"), std::string::npos) << e->what();
  }
  const ScopedEnv https_proxy("https_proxy", "http://u:hunter2@proxy:port");
  const auto e = refusal([&] { make_client(server, clock); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field(), "https_proxy (environment)");
  EXPECT_EQ(std::string(e->what()).find("hunter2"), std::string::npos) << e->what();
  // Told to ignore the environment, the client does not read it.
  EXPECT_NO_THROW(
      make_client(server, clock, [](ClientOptions& o) { o.curl.proxy.from_environment = false; }));
}

// --- TLS -----------------------------------------------------------------------------------------

std::string tls_file(const char* name) { return std::string(TLS_DATA_DIR) + "/" + name; }

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<httplib::SSLServer>(tls_file("server.pem").c_str(),
                                                   tls_file("server.key").c_str());
    ASSERT_TRUE(server_->is_valid());
    server_->Get(R"([\s\S]*)", [this](const httplib::Request&, httplib::Response& response) {
      ++requests_;
      response.set_content(R"({"organization":{},"project":{},"datasource":{},"stream":{}})",
                           "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  Client client(const std::string& host, const std::function<void(ClientOptions&)>& customize) {
    ClientOptions options;
    options.project = "proj";
    options.datasource = "ds";
    options.token = "secret-token-XYZ";
    options.base_url = "https://" + host + ":" + std::to_string(port_) + "/v1";
    options.clock = clock_;
    options.retry.max_attempts = 5;
    customize(options);
    return Client(options);
  }

  // The error of a call that must fail verification at once: no retry, no wait.
  void expect_final_certificate_failure(const Client& c) {
    try {
      c.stream_info();
      ADD_FAILURE() << "the certificate was accepted";
    } catch (const TransportError& e) {
      EXPECT_EQ(std::string(to_string(e.failure())), "certificate") << e.what();
      EXPECT_FALSE(e.retryable());
      EXPECT_FALSE(e.maybe_delivered());
      EXPECT_EQ(std::string(e.what()).find("attempts"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(clock_->sleeps().empty());
    EXPECT_EQ(requests_.load(), 0);
  }

  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(Tls, AnUnknownIssuerIsFinalAtTheFirstAttempt) {
  expect_final_certificate_failure(client("127.0.0.1", [](ClientOptions&) {}));
}

TEST_F(Tls, AnotherCaIsFinalToo) {
  expect_final_certificate_failure(
      client("127.0.0.1", [](ClientOptions& o) { o.curl.ca_file = tls_file("other_ca.pem"); }));
}

TEST_F(Tls, AHostNameTheCertificateDoesNotNameIsFinal) {
  expect_final_certificate_failure(
      client("localhost", [](ClientOptions& o) { o.curl.ca_file = tls_file("ca.pem"); }));
}

TEST_F(Tls, AMissingCaFileIsFinal) {
  expect_final_certificate_failure(
      client("127.0.0.1", [](ClientOptions& o) { o.curl.ca_file = tls_file("missing.pem"); }));
}

TEST_F(Tls, TheRightCaFileVerifies) {
  const Client c =
      client("127.0.0.1", [](ClientOptions& o) { o.curl.ca_file = tls_file("ca.pem"); });
  EXPECT_NO_THROW(c.stream_info());
  EXPECT_EQ(requests_.load(), 1);
}

// An explicit proxy carries https through a CONNECT tunnel, with the credentials of its URL; the
// proxy sees where to connect and encrypted bytes, never the token.
TEST_F(Tls, AnExplicitProxyTunnelsTheRequestAndNeverSeesTheToken) {
  ProxyLog log;
  RawServer proxy(tunnelling_proxy(&log));
  const Client c = client("127.0.0.1", [&](ClientOptions& o) {
    o.curl.ca_file = tls_file("ca.pem");
    o.curl.proxy.url = "http://proxy-user:hunter2@127.0.0.1:" + std::to_string(proxy.port());
  });
  EXPECT_NO_THROW(c.stream_info());
  EXPECT_EQ(requests_.load(), 1);
  std::lock_guard<std::mutex> lock(log.mutex);
  ASSERT_EQ(log.heads.size(), 1u);
  EXPECT_EQ(log.heads[0].rfind("CONNECT 127.0.0.1:" + std::to_string(port_) + " HTTP/1.1", 0), 0u)
      << log.heads[0];
  // Basic, base64 of "proxy-user:hunter2".
  EXPECT_NE(log.heads[0].find("Proxy-Authorization: Basic cHJveHktdXNlcjpodW50ZXIy"),
            std::string::npos)
      << log.heads[0];
  EXPECT_FALSE(log.tunnelled.empty());
  EXPECT_EQ(log.tunnelled.find("secret-token-XYZ"), std::string::npos);
  EXPECT_EQ(log.heads[0].find("secret-token-XYZ"), std::string::npos);
}

// The environment's proxy applies to https by default, and not once the client is told to
// ignore the environment; a host in the no-proxy list goes straight to the server.
TEST_F(Tls, TheEnvironmentsProxyAppliesUnlessTurnedOffOrBypassed) {
  RawServer proxy(tunnelling_proxy());
  const ScopedEnv https_proxy("https_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  const ScopedEnv no_proxy("no_proxy");
  const ScopedEnv upper_no_proxy("NO_PROXY");
  const auto verified = [&](ClientOptions& o) { o.curl.ca_file = tls_file("ca.pem"); };

  EXPECT_NO_THROW(client("127.0.0.1", verified).stream_info());
  EXPECT_EQ(proxy.requests(), 1u);

  EXPECT_NO_THROW(client("127.0.0.1", [&](ClientOptions& o) {
                    verified(o);
                    o.curl.proxy.from_environment = false;
                  }).stream_info());
  EXPECT_EQ(proxy.requests(), 1u);

  {
    const ScopedEnv bypass("no_proxy", "example.com, 127.0.0.1");
    EXPECT_NO_THROW(client("127.0.0.1", verified).stream_info());
    EXPECT_EQ(proxy.requests(), 1u);
  }
  // An explicit proxy with its own list: the environment's list does not apply to it.
  const ScopedEnv bypass("no_proxy", "127.0.0.1");
  EXPECT_NO_THROW(client("127.0.0.1", [&](ClientOptions& o) {
                    verified(o);
                    o.curl.proxy.url = "127.0.0.1:" + std::to_string(proxy.port());
                  }).stream_info());
  EXPECT_EQ(proxy.requests(), 2u);
  EXPECT_NO_THROW(client("127.0.0.1", [&](ClientOptions& o) {
                    verified(o);
                    o.curl.proxy.url = "127.0.0.1:" + std::to_string(proxy.port());
                    o.curl.proxy.no_proxy = "127.0.0.1";
                  }).stream_info());
  EXPECT_EQ(proxy.requests(), 2u);
  EXPECT_EQ(requests_.load(), 5);
}

TEST_F(Tls, VerificationTurnedOffAcceptsAnyCertificate) {
  const Client c = client("localhost", [](ClientOptions& o) { o.curl.verify_tls = false; });
  EXPECT_NO_THROW(c.stream_info());
  EXPECT_EQ(requests_.load(), 1);
}

}  // namespace
}  // namespace instasent::testing
