// SPDX-License-Identifier: Apache-2.0
#include "integration/test_server.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <gtest/gtest.h>
#include <httplib.h>

namespace instasent::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict percent-decoding of one path segment ('+' stays '+').
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Splits a raw path on '/', decoding each segment. "/a/b%2Fc" -> {"", "a", "b/c"}.
std::vector<std::string> split_path(std::string_view raw_path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = raw_path.find('/', start);
    segments.push_back(percent_decode(raw_path.substr(start, slash - start)));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool is_nonempty_string(const json& item, const char* key) {
  auto it = item.find(key);
  return it != item.end() && it->is_string() && !it->get<std::string>().empty();
}

constexpr long long kRateLimit = 1000;

}  // namespace

// ---------------------------------------------------------------------------------------------
// RecordedRequest / CannedResponse

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

nlohmann::json RecordedRequest::json_body() const {
  return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

CannedResponse CannedResponse::json(int status, const nlohmann::json& body) {
  CannedResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

CannedResponse CannedResponse::text(int status, std::string body) {
  CannedResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

CannedResponse CannedResponse::empty(int status) {
  CannedResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

CannedResponse CannedResponse::from_default(std::chrono::milliseconds delay) {
  CannedResponse r;
  r.status = 0;
  r.delay = delay;
  return r;
}

CannedResponse& CannedResponse::header(std::string name, std::string value) & {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

CannedResponse&& CannedResponse::header(std::string name, std::string value) && {
  headers.emplace_back(std::move(name), std::move(value));
  return std::move(*this);
}

CannedResponse&& CannedResponse::after(std::chrono::milliseconds wait) && {
  delay = wait;
  return std::move(*this);
}

// ---------------------------------------------------------------------------------------------
// TestServer

TestServer::TestServer() : server_(std::make_unique<httplib::Server>()) {
  // A client that gave up (timeout) makes the server write to a closed socket.
  std::signal(SIGPIPE, SIG_IGN);

  // Enough workers that idle keep-alive connections never starve new ones.
  server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_->set_keep_alive_timeout(2);
  server_->set_tcp_nodelay(true);
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                    std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    // A bug of the harness, not a server error for the SDK to retry: the test fails.
    ADD_FAILURE() << "the test server's handler threw: " << what;
    res.status = 500;
    res.set_content(json{{"message", "test server exception: " + what}}.dump(), "application/json");
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  server_->Options(".*", handler);

  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("TestServer: cannot bind to 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("TestServer: listener did not start");
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
}

TestServer::~TestServer() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string TestServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

std::string TestServer::stream_path() {
  return std::string("/v1/project/") + kTestProject + "/datasource/" + kTestDatasource + "/stream";
}

void TestServer::enqueue(CannedResponse response) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(response));
}

void TestServer::enqueue(const CannedResponse& response, int times) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < times; ++i) queue_.push_back(response);
}

std::size_t TestServer::pending_responses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void TestServer::set_handler(CustomHandler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = std::move(handler);
}

std::vector<RecordedRequest> TestServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::size_t TestServer::request_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

RecordedRequest TestServer::last_request() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (requests_.empty()) return {};
  return requests_.back();
}

void TestServer::clear_requests() {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.clear();
}

bool TestServer::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return requests_cv_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

void TestServer::set_server_time(std::optional<std::chrono::system_clock::time_point> time) {
  std::lock_guard<std::mutex> lock(mutex_);
  server_time_ = time;
}

std::chrono::system_clock::time_point TestServer::server_time() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return server_time_ ? *server_time_ : system_clock::now();
}

std::optional<nlohmann::json> TestServer::stored_contact(const std::string& user_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = contacts_.find(user_id);
  if (it == contacts_.end()) return std::nullopt;
  return it->second;
}

void TestServer::put_contact(const std::string& user_id, nlohmann::json contact_data) {
  std::lock_guard<std::mutex> lock(mutex_);
  contacts_[user_id] = std::move(contact_data);
}

std::string TestServer::http_date(std::chrono::system_clock::time_point time) {
  std::time_t t = system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

long long TestServer::unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

nlohmann::json TestServer::stream_info_body() {
  return json{
      {"organization", {{"id", "org_test"}, {"name", "Test Org"}}},
      {"project", {{"id", kTestProject}, {"name", "Test Project"}}},
      {"datasource", {{"id", kTestDatasource}, {"name", "Test Datasource"}, {"type", "api"}}},
      {"stream", {{"id", "stream_test"}, {"status", "active"}}},
      {"token", {{"id", "tok_1"}, {"name", "integration tests"}, {"scopes", {"ingest"}}}},
  };
}

nlohmann::json TestServer::attribute_specs_body() {
  return json{{"specs",
               {
                   {{"uid", "_email"},
                    {"displayLabel", "Email"},
                    {"description", "Email address"},
                    {"dataType", "string"},
                    {"multivalue", 0},
                    {"readOnly", false},
                    {"requiredInWebhook", true},
                    {"important", true},
                    {"visible", true},
                    {"custom", false}},
                   {{"uid", "tags"},
                    {"displayLabel", "Tags"},
                    {"description", "Free tags"},
                    {"dataType", "string"},
                    {"multivalue", 10},
                    {"readOnly", true},
                    {"requiredInWebhook", false},
                    {"important", false},
                    {"visible", false},
                    {"custom", true},
                    {"extraField", "kept in raw"}},
               }}};
}

nlohmann::json TestServer::event_specs_body() {
  return json{{"specs",
               {
                   {{"uid", "purchase"},
                    {"name", "Purchase"},
                    {"description", "An order was paid"},
                    {"category", "ecommerce"},
                    {"attribution", true},
                    {"automation", true},
                    {"icon", "cart"},
                    {"emoji", "\xF0\x9F\x9B\x92"},
                    {"important", true}},
                   {{"uid", "page_view"},
                    {"name", "Page view"},
                    {"description", ""},
                    {"category", "web"},
                    {"attribution", false},
                    {"automation", false},
                    {"icon", "eye"},
                    {"emoji", ""},
                    {"important", false}},
               }}};
}

nlohmann::json TestServer::event_parameter_specs_body(const std::string& event_type) {
  if (event_type != "purchase") return json{{"specs", json::array()}};
  return json{{"specs",
               {
                   {{"parameter", "amount"},
                    {"title", "Amount"},
                    {"description", "Order total"},
                    {"icon", "money"},
                    {"dataType", "string"},
                    {"visualType", "currency"},
                    {"maxLength", 20},
                    {"required", true},
                    {"multiValue", 0}},
                   {{"parameter", "skus"},
                    {"title", "SKUs"},
                    {"description", ""},
                    {"icon", ""},
                    {"dataType", "string"},
                    {"visualType", "text"},
                    {"maxLength", nullptr},
                    {"required", false},
                    {"multiValue", 5}},
               }}};
}

void TestServer::sleep_interruptibly(std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return;
  std::unique_lock<std::mutex> lock(stop_mutex_);
  stop_cv_.wait_for(lock, delay, [&] { return stopping_; });
}

void TestServer::handle(const httplib::Request& req, httplib::Response& res) {
  RecordedRequest record;
  record.method = req.method;
  record.target = req.target;
  std::size_t question = req.target.find('?');
  record.raw_path = req.target.substr(0, question);
  if (question != std::string::npos) {
    record.has_query = true;
    record.query = req.target.substr(question + 1);
  }
  record.path = req.path;
  for (const auto& [key, value] : req.params) record.params.emplace(key, value);
  for (const auto& [key, value] : req.headers) record.headers.emplace_back(key, value);
  record.body = req.body;

  std::optional<CannedResponse> canned;
  CustomHandler handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    record.sequence = ++sequence_;
    if (!queue_.empty()) {
      canned = std::move(queue_.front());
      queue_.pop_front();
    } else {
      handler = handler_;
    }
  }
  char id[32];
  std::snprintf(id, sizeof id, "req-%06zu", record.sequence);
  record.response_request_id = id;
  if (!canned && handler) canned = handler(record);
  if (!canned) canned = CannedResponse::from_default();
  for (const auto& [name, value] : canned->headers) {
    if (iequals(name, "X-Request-Id")) record.response_request_id = value;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(record);
  }
  requests_cv_.notify_all();

  sleep_interruptibly(canned->delay);

  CannedResponse response = canned->status == 0 ? default_response(record) : *canned;
  if (canned->status == 0) {
    // Keep the scripted extra headers on top of the default answer.
    for (const auto& h : canned->headers) response.headers.push_back(h);
  }

  std::vector<std::pair<std::string, std::string>> headers;
  if (response.default_headers) {
    auto now = server_time();
    headers.emplace_back("Date", http_date(now));
    headers.emplace_back("X-RateLimit-Limit", std::to_string(kRateLimit));
    headers.emplace_back(
        "X-RateLimit-Remaining",
        std::to_string(kRateLimit - static_cast<long long>(record.sequence % kRateLimit)));
    headers.emplace_back("X-RateLimit-Reset", std::to_string(unix_seconds(now) + 60));
    headers.emplace_back("X-Request-Id", id);
  }
  for (const auto& [name, value] : response.headers) {
    for (auto it = headers.begin(); it != headers.end();) {
      it = iequals(it->first, name) ? headers.erase(it) : it + 1;
    }
  }
  for (const auto& h : response.headers) headers.push_back(h);

  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
      if (it->sequence == record.sequence) {
        it->response_status = response.status;
        it->response_body = response.body;
        break;
      }
    }
  }

  res.status = response.status;
  for (const auto& [name, value] : headers) res.set_header(name, value);
  if (!response.body.empty()) {
    res.set_content(response.body,
                    response.content_type.empty() ? "application/json" : response.content_type);
  }
}

CannedResponse TestServer::default_response(const RecordedRequest& request) {
  auto auth = request.header("Authorization");
  if (!auth || *auth != std::string("Bearer ") + kTestToken) {
    return CannedResponse::json(401, {{"message", "Unauthenticated."}});
  }
  std::vector<std::string> segments = split_path(request.raw_path);
  if (segments.size() < 7 || !segments[0].empty() || segments[1] != "v1" ||
      segments[2] != "project" || segments[4] != "datasource" || segments[6] != "stream") {
    return CannedResponse::json(404, {{"message", "Not found"}});
  }
  if (segments[3] != kTestProject || segments[5] != kTestDatasource) {
    return CannedResponse::json(404, {{"message", "Datasource not found"}});
  }
  std::vector<std::string> rest(segments.begin() + 7, segments.end());
  const std::string& method = request.method;
  auto method_not_allowed = [] {
    return CannedResponse::json(405, {{"message", "Method not allowed"}});
  };

  if (rest.empty()) {
    if (method != "GET") return method_not_allowed();
    return CannedResponse::json(200, stream_info_body());
  }
  if (rest.size() == 1 && (rest[0] == "contacts" || rest[0] == "events")) {
    if (method != "POST") return method_not_allowed();
    return write_batch(request, rest[0] == "events");
  }
  if (rest.size() == 2 && rest[0] == "contacts") {
    const std::string& user_id = rest[1];
    if (method == "DELETE") {
      std::lock_guard<std::mutex> lock(mutex_);
      contacts_.erase(user_id);
      return CannedResponse::json(200, json::object());
    }
    if (method == "GET") {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = contacts_.find(user_id);
      if (it == contacts_.end()) {
        return CannedResponse::json(404, {{"message", "Contact not found"}});
      }
      return CannedResponse::json(200, {{"contact",
                                         {{"_user_id", user_id},
                                          {"createdAt", "2026-11-28T10:00:00Z"},
                                          {"contactData", it->second}}}});
    }
    return method_not_allowed();
  }
  if (rest.size() == 2 && rest[0] == "specs" && rest[1] == "attributes") {
    if (method != "GET") return method_not_allowed();
    return CannedResponse::json(200, attribute_specs_body());
  }
  if (rest.size() == 2 && rest[0] == "specs" && rest[1] == "events") {
    if (method != "GET") return method_not_allowed();
    return CannedResponse::json(200, event_specs_body());
  }
  if (rest.size() == 3 && rest[0] == "specs" && rest[1] == "event-parameters") {
    if (method != "GET") return method_not_allowed();
    return CannedResponse::json(200, event_parameter_specs_body(rest[2]));
  }
  return CannedResponse::json(404, {{"message", "Not found"}});
}

CannedResponse TestServer::write_batch(const RecordedRequest& request, bool events) {
  json body = request.json_body();
  if (body.is_discarded() || !body.is_array()) {
    return CannedResponse::json(400, {{"message", "Body should be an array"}});
  }
  if (body.empty()) return CannedResponse::json(400, {{"message", "Body should not be empty"}});
  if (body.size() > 100) {
    return CannedResponse::json(400, {{"message", "Too many items, the maximum is 100"}});
  }
  const bool dry_run = request.has_param("_dryRun");
  json items = json::array();
  int successful = 0;
  int failed = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const json& item : body) {
    json outcome = json::object();
    json errors = json::object();
    if (!item.is_object()) {
      errors[""] = {"Item should be an object"};
    } else {
      if (item.contains("_user_id")) outcome["_user_id"] = item["_user_id"];
      if (events && item.contains("_event_id")) outcome["_event_id"] = item["_event_id"];
      if (!is_nonempty_string(item, "_user_id")) errors["_user_id"] = {"Required"};
      if (events) {
        if (!is_nonempty_string(item, "_event_id")) errors["_event_id"] = {"Required"};
        if (!is_nonempty_string(item, "_event_type")) errors["_event_type"] = {"Required"};
      } else {
        auto email = item.find("_email");
        if (email != item.end() && email->is_string() &&
            email->get<std::string>().find('@') == std::string::npos) {
          errors["_email"] = {"Invalid format"};
        }
      }
    }
    if (errors.empty()) {
      outcome["status"] = "success";
      ++successful;
      if (!events && !dry_run) {
        json& stored = contacts_[item["_user_id"].get<std::string>()];
        if (!stored.is_object()) stored = json::object();
        for (const auto& [key, value] : item.items()) {
          if (value.is_null()) {
            stored.erase(key);
          } else {
            stored[key] = value;
          }
        }
      }
    } else {
      outcome["status"] = "error";
      outcome["errors"] = errors;
      ++failed;
    }
    items.push_back(outcome);
  }
  return CannedResponse::json(
      successful == 0 ? 422 : 202,
      {{"entity", {{"successful", successful}, {"failed", failed}, {"items", items}}}});
}

// ---------------------------------------------------------------------------------------------
// Client helpers

instasent::ClientOptions make_client_options(const TestServer& server,
                                             std::shared_ptr<FakeClock> clock) {
  instasent::ClientOptions options;
  options.project = kTestProject;
  options.datasource = kTestDatasource;
  options.token = kTestToken;
  options.base_url = server.base_url();
  options.clock = std::move(clock);
  options.retry.jitter_seed = 20261128;
  options.curl.connect_timeout = std::chrono::milliseconds(2'000);
  options.curl.request_timeout = std::chrono::milliseconds(5'000);
  return options;
}

instasent::Client make_client(const TestServer& server, std::shared_ptr<FakeClock> clock,
                              const std::function<void(instasent::ClientOptions&)>& customize) {
  instasent::ClientOptions options = make_client_options(server, std::move(clock));
  if (customize) customize(options);
  return instasent::Client(std::move(options));
}

}  // namespace instasent::testing
