// SPDX-License-Identifier: Apache-2.0
// An in-process HTTP server (cpp-httplib) that plays the Instasent Ingest API for the integration
// tests, records every request it receives and answers from a script; plus a fake clock and a
// helper that builds a Client pointed at the server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/client.hpp"
#include "instasent/clock.hpp"
#include "instasent/options.hpp"
#include "support/fake_clock.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace instasent::testing {

inline constexpr const char* kTestProject = "proj_test";
inline constexpr const char* kTestDatasource = "ds_test";
inline constexpr const char* kTestToken = "secret-token-XYZ";

/// One request as the server received it.
struct RecordedRequest {
  std::size_t sequence = 0;  ///< 1 for the first request the server received.
  std::string method;
  /// The request-target exactly as received: still percent-encoded, query included.
  std::string target;
  /// `target` up to (not including) the first '?', still percent-encoded.
  std::string raw_path;
  /// `target` after the first '?', still percent-encoded; empty when there was none.
  std::string query;
  bool has_query = false;
  /// The path as decoded by httplib.
  std::string path;
  /// Query parameters as decoded by httplib (a bare flag `?_sync` gives {"_sync", ""}).
  std::multimap<std::string, std::string> params;
  /// Header fields in the order httplib stores them (names as received).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The X-Request-Id the server answered this request with.
  std::string response_request_id;
  /// The status and body the server answered with (0 and empty until the answer is written).
  int response_status = 0;
  std::string response_body;

  /// First value of a header, looked up case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  /// The body parsed as JSON; a discarded value when it is not JSON.
  nlohmann::json json_body() const;
};

/// One scripted answer.
struct CannedResponse {
  /// The HTTP status; 0 means "answer as the default handler would" (after `delay`).
  int status = 200;
  /// Extra header fields; a name given here replaces the default of the same name.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  /// How long to wait before answering (interrupted when the server stops).
  std::chrono::milliseconds delay{0};
  /// Add the default Date, X-RateLimit-* and X-Request-Id fields (unless overridden).
  bool default_headers = true;

  static CannedResponse json(int status, const nlohmann::json& body);
  /// A response with the given raw body (served as application/json unless changed).
  static CannedResponse text(int status, std::string body);
  /// A response with no body at all.
  static CannedResponse empty(int status);
  /// Let the default handler answer, after `delay`.
  static CannedResponse from_default(std::chrono::milliseconds delay = std::chrono::milliseconds{
                                         0});

  CannedResponse& header(std::string name, std::string value) &;
  CannedResponse&& header(std::string name, std::string value) &&;
  CannedResponse&& after(std::chrono::milliseconds wait) &&;
};

/// Returns an answer for a request, or nullopt to let the default handler answer.
using CustomHandler = std::function<std::optional<CannedResponse>(const RecordedRequest&)>;

/// A real HTTP server on 127.0.0.1 with a free port, run on its own thread.
///
/// Each request is answered by, in order: the next scripted response (`enqueue`), the custom
/// handler (`set_handler`), or the default handler — a minimal Ingest API that checks the bearer
/// token (401), project and datasource (404), keeps upserted contacts in memory and answers every
/// endpoint with the documented shapes. Every answer carries Date, X-RateLimit-Limit,
/// X-RateLimit-Remaining, X-RateLimit-Reset and X-Request-Id.
class TestServer {
 public:
  TestServer();
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT/v1".
  std::string base_url() const;
  /// "/v1/project/proj_test/datasource/ds_test/stream": the raw path prefix of every endpoint.
  static std::string stream_path();

  void enqueue(CannedResponse response);
  void enqueue(const CannedResponse& response, int times);
  std::size_t pending_responses() const;
  void set_handler(CustomHandler handler);

  /// Every request received so far, in arrival order.
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  RecordedRequest last_request() const;
  void clear_requests();
  /// Waits (really) until at least `count` requests were received; false on timeout.
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;

  /// The time the server puts in its Date header and derives X-RateLimit-Reset from; nullopt (the
  /// default) means the real current time.
  void set_server_time(std::optional<std::chrono::system_clock::time_point> time);
  std::chrono::system_clock::time_point server_time() const;

  /// The contacts the default handler stores (contactData objects), by user id.
  std::optional<nlohmann::json> stored_contact(const std::string& user_id) const;
  void put_contact(const std::string& user_id, nlohmann::json contact_data);

  /// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  static std::string http_date(std::chrono::system_clock::time_point time);
  static long long unix_seconds(std::chrono::system_clock::time_point time);
  /// The body the default handler sends for GET /stream.
  static nlohmann::json stream_info_body();
  static nlohmann::json attribute_specs_body();
  static nlohmann::json event_specs_body();
  static nlohmann::json event_parameter_specs_body(const std::string& event_type);

 private:
  void handle(const httplib::Request& req, httplib::Response& res);
  CannedResponse default_response(const RecordedRequest& request);
  CannedResponse write_batch(const RecordedRequest& request, bool events);
  void sleep_interruptibly(std::chrono::milliseconds delay);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mutex_;
  mutable std::condition_variable requests_cv_;
  std::vector<RecordedRequest> requests_;
  std::size_t sequence_ = 0;
  std::deque<CannedResponse> queue_;
  CustomHandler handler_;
  std::optional<std::chrono::system_clock::time_point> server_time_;
  std::map<std::string, nlohmann::json> contacts_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

/// Options for a client of `server`: project "proj_test", datasource "ds_test", token
/// "secret-token-XYZ", the server's base URL, the fake clock, a fixed jitter seed and short
/// libcurl timeouts (so that a broken test fails instead of hanging). The transport is left null:
/// the real libcurl transport is used.
instasent::ClientOptions make_client_options(const TestServer& server,
                                             std::shared_ptr<FakeClock> clock);

/// `Client(make_client_options(server, clock))`, after `customize` (if any) changed the options.
instasent::Client make_client(const TestServer& server, std::shared_ptr<FakeClock> clock,
                              const std::function<void(instasent::ClientOptions&)>& customize = {});

}  // namespace instasent::testing
