// SPDX-License-Identifier: Apache-2.0
// Robustness: random bytes, random headers and random JSON-ish bodies over raw TCP connections
// must neither hang a connection nor stop the emulator; deeply nested JSON must not crash it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_fixture.hpp"

namespace instasent::emulator::testing {
namespace {

// What one raw exchange came to.
struct Exchange {
  bool connected = false;
  bool closed = false;  ///< The server closed (or reset) the connection before the deadline.
  std::string answer;   ///< What the server sent back, up to a whole response.
};

// Whether `answer` holds a whole HTTP response (headers, and a body as long as its
// Content-Length).
bool is_complete_response(const std::string& answer) {
  const std::size_t end = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return false;
  std::string headers = answer.substr(0, end);
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t field = headers.find("\r\ncontent-length:");
  if (field == std::string::npos) return true;
  const std::size_t length = std::strtoull(headers.c_str() + field + 17, nullptr, 10);
  return answer.size() - end - 4 >= length;
}

// Appends what `fd` sends to `answer` until the server closes the connection (true), or a whole
// response has come, or nothing comes for `wait`, or the deadline passes (false).
bool read_answer(int fd, std::string& answer, std::chrono::milliseconds wait,
                 SteadyClock::time_point deadline) {
  char buffer[16384];
  while (!is_complete_response(answer)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, POLLIN, 0};
    const int ready = poll(&entry, 1, static_cast<int>(std::min(left, wait).count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // end of stream or reset
    if (answer.size() < (1u << 20)) answer.append(buffer, static_cast<std::size_t>(n));
  }
  return false;
}

// Reads until the server closes the connection (true) or the deadline passes (false).
bool read_until_closed(int fd, SteadyClock::time_point deadline) {
  char buffer[16384];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, POLLIN, 0};
    const int ready = poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
  }
}

// Sends `request` on a fresh connection and reads what comes back. Once a response has come, or
// nothing for `answer_wait` (the server waits for more of the request), the connection is
// half-closed: the server must then close it before `limit` has passed since the start.
Exchange exchange(int port, const std::string& request, std::chrono::milliseconds answer_wait,
                  std::chrono::milliseconds limit) {
  Exchange result;
  const auto deadline = SteadyClock::now() + limit;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return result;
  timeval send_timeout{static_cast<time_t>(limit.count() / 1000),
                       static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return result;
  }
  result.connected = true;
  // The server may answer and close before reading everything (413): stop sending then.
  for (std::size_t sent = 0; sent < request.size() && SteadyClock::now() < deadline;) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  // Not at once: httplib drops the answer to a request whose connection is already half-closed.
  result.closed = read_answer(fd, result.answer, answer_wait, deadline);
  if (!result.closed) {
    shutdown(fd, SHUT_WR);
    result.closed = read_until_closed(fd, deadline);
  }
  close(fd);
  return result;
}

// Printable, for failure messages.
std::string escaped(const std::string& bytes, std::size_t max = 160) {
  std::string out;
  static const char* const kHex = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

// Random requests, from entirely random bytes to well-formed requests with odd JSON bodies.
class RequestFuzzer {
 public:
  explicit RequestFuzzer(std::uint32_t seed) : random_(seed) {}

  std::string next() {
    switch (below(10)) {
      case 0:
      case 1:
        return random_bytes(below(3000));
      case 2:
      case 3:
        return request_line() + random_headers() + (chance(0.5) ? "\r\n" : "") +
               (chance(0.3) ? random_bytes(below(500)) : "");
      case 4:
        return chunked_request();
      case 5:
        return with_body(chance(0.5), deep_body());
      default: {
        const bool events = chance(0.5);
        return with_body(events, chance(0.9) ? batch(events) : json_ish(0));
      }
    }
  }

 private:
  std::size_t below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(random_); }
  template <typename T>
  const T& pick(const std::vector<T>& choices) {
    return choices[below(choices.size())];
  }

  std::string random_bytes(std::size_t count) {
    std::string bytes(count, '\0');
    for (char& c : bytes) c = static_cast<char>(below(256));
    return bytes;
  }
  std::string random_text(std::size_t count) {
    std::string text(count, ' ');
    for (char& c : text) c = static_cast<char>(0x20 + below(0x5f));
    return text;
  }

  std::string path() {
    static const std::vector<std::string> rests = {
        "",
        "/contacts",
        "/events",
        "/contacts/U1",
        "/contacts/a%2Fb",
        "/contacts/%ZZ",
        "/contacts/%",
        "/specs/attributes",
        "/specs/events",
        "/specs/event-parameters/purchase",
        "/specs/event-parameters/%00",
        "/../../etc/passwd",
        "/contacts/" + std::string(3000, 'x'),
    };
    static const std::vector<std::string> queries = {
        "", "?_dryRun", "?_sync", "?_dryRun=1&_sync", "?&&=&", "?%zz"};
    if (chance(0.1))
      return pick(std::vector<std::string>{"/", "*", "/_emulator/health", "/_emulator/state",
                                           "/_emulator/stats", "/_emulator/faults", "//", "/v1"});
    if (chance(0.1)) return "/" + random_text(below(100));
    const bool other = chance(0.2);
    return stream_path(pick(rests), other ? kOtherProject : kProject,
                       other ? kOtherDatasource : kDatasource) +
           pick(queries);
  }

  std::string request_line() {
    // Admin paths only with GET: a random POST must not reconfigure faults or reset the store.
    std::string target = path();
    const bool admin = target.rfind("/_emulator", 0) == 0;
    static const std::vector<std::string> methods = {"GET",     "POST", "DELETE", "PUT", "PATCH",
                                                     "OPTIONS", "HEAD", "BREW",   "",    "G\x01T"};
    const std::string method = admin ? "GET" : pick(methods);
    static const std::vector<std::string> versions = {"HTTP/1.1",       "HTTP/1.0", "HTTP/2.0",
                                                      "HTTP/1.1 extra", "",         "HTTP/9"};
    return method + " " + target + " " + pick(versions) + "\r\n";
  }

  std::string random_headers() {
    static const std::vector<std::string> names = {"Host",
                                                   "Authorization",
                                                   "Content-Type",
                                                   "Content-Length",
                                                   "Transfer-Encoding",
                                                   "Connection",
                                                   "Expect",
                                                   "Accept",
                                                   "X-Anything",
                                                   "Range",
                                                   "Content-Encoding",
                                                   ""};
    std::string headers;
    for (std::size_t i = below(20); i > 0; --i) {
      const std::string name = chance(0.8) ? pick(names) : random_text(below(40));
      std::string value;
      switch (below(5)) {
        case 0:
          value = random_bytes(below(60));
          break;
        case 1:
          value = std::to_string(below(100000));
          break;
        case 2:
          value = std::string("Bearer ") + (chance(0.5) ? kToken : random_text(below(20)));
          break;
        case 3:
          value = random_text(chance(0.05) ? 20000 : below(80));
          break;
        default:
          value = pick(std::vector<std::string>{"chunked", "close", "keep-alive", "100-continue",
                                                "gzip", "application/json", "bytes=0-1"});
      }
      headers += name + (chance(0.95) ? ": " : " ") + value + (chance(0.95) ? "\r\n" : "\n");
    }
    return headers;
  }

  // A JSON string, now and then a broken one (bad escape, lone surrogate, invalid UTF-8).
  std::string json_string() {
    static const std::vector<std::string> strings = {
        "",
        "U1",
        "ann@example.com",
        "not-an-email",
        "+34600111222",
        "+1",
        "2026-11-28T10:00:00.000Z",
        "2026-02-30T10:00:00Z",
        "9999-12-31T23:59:59+23:59",
        "\\u0000",
        "\\uDBFF\\uDFFF",
        "\\\"",
        "purchase",
        "\xc3\xb1",
    };
    static const std::vector<std::string> broken = {"\\x", "\\ud800", "\xff\xfe", "\x01", "\\"};
    if (chance(0.05)) return "\"" + pick(broken) + "\"";
    if (chance(0.8)) return "\"" + pick(strings) + "\"";
    std::string text = random_text(below(30));
    for (char& c : text) {
      if (c == '"' || c == '\\') c = '_';
    }
    return "\"" + text + "\"";
  }

  std::string json_scalar() {
    static const std::vector<std::string> scalars = {
        "0", "-0", "-1e-300", "123456789012345678901234567890", "1.5", "true", "false", "null"};
    static const std::vector<std::string> broken = {"1e999", "01", "NaN", "Infinity",
                                                    "tru",   "-",  "+1",  ".5"};
    return chance(0.05) ? pick(broken) : pick(scalars);
  }

  // Any JSON value, at most a few levels deep.
  std::string json_ish(int depth) {
    const std::size_t kind = depth > 3 ? below(2) : below(4);
    if (kind == 0) return json_string();
    if (kind == 1) return json_scalar();
    if (kind == 2) {
      std::string out = "[";
      for (std::size_t i = below(5); i > 0; --i) out += json_ish(depth + 1) + (i > 1 ? "," : "");
      return out + "]";
    }
    std::string out = "{";
    for (std::size_t i = below(5); i > 0; --i) {
      out += json_string() + ":" + json_ish(depth + 1) + (i > 1 ? "," : "");
    }
    return out + "}";
  }

  // `"key": value` pairs, the values mostly of the kind the key takes.
  std::string members(const std::vector<std::pair<std::string, std::vector<std::string>>>& fields,
                      std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& [key, values] = pick(fields);
      const std::string value = chance(0.75) ? pick(values) : json_ish(2);
      out += (i > 0 ? "," : "") + ("\"" + key + "\":") + value;
    }
    return out;
  }

  std::string contact_fields(std::size_t count) {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> fields = {
        {"_first_name", {"\"Ann\"", "null"}},
        {"_email", {"\"ann@example.com\"", "\"bad\"", "null"}},
        {"_phone_mobile", {"\"+34600111222\"", "\"600\"", "null"}},
        {"_country_code", {"\"ES\""}},
        {"_unknown", {"\"x\""}},
        {"plan", {"\"gold\"", "1", "true", "null"}},
        {"tags", {"[\"a\",\"b\"]", "[]", "[{}]"}},
    };
    return members(fields, count);
  }

  // A contact or an event, mostly well-formed.
  std::string item(bool event) {
    std::string out = "{";
    if (chance(0.9)) out += "\"_user_id\":\"U" + std::to_string(below(50)) + "\"";
    if (event) {
      static const std::vector<std::pair<std::string, std::vector<std::string>>> fields = {
          {"_event_date",
           {"\"2026-11-28T10:00:00.000Z\"", "\"2026-11-28T10:00:00+02:00\"", "\"soon\"", "null"}},
          {"_event_parameters", {"{\"amount\":\"10\"}", "{}", "[]", "null"}},
          {"_user_data", {"{\"_first_name\":\"Ann\"}", "{\"_email\":\"bad\"}", "null"}},
          {"_other", {"1"}},
      };
      if (chance(0.9)) out += ",\"_event_id\":\"E" + std::to_string(below(200)) + "\"";
      if (chance(0.9)) out += ",\"_event_type\":\"purchase\"";
      if (chance(0.5)) out += "," + members(fields, 1 + below(3));
    } else if (chance(0.7)) {
      out += "," + contact_fields(1 + below(5));
    }
    if (out.size() > 1 && out[1] == ',') out.erase(1, 1);
    return out + "}";
  }

  std::string batch(bool events) {
    static const std::vector<std::size_t> sizes = {0, 1, 1, 2, 3, 5, 10, 100, 101, 150};
    std::string out = "[";
    const std::size_t count = pick(sizes);
    for (std::size_t i = 0; i < count; ++i) {
      out += (i > 0 ? "," : "") + (chance(0.97) ? item(events) : json_ish(1));
    }
    out += "]";
    // Corrupt some: flip, insert or delete bytes, or cut the end off.
    for (std::size_t i = chance(0.2) ? 1 + below(3) : 0; i > 0 && !out.empty(); --i) {
      const std::size_t at = below(out.size());
      switch (below(4)) {
        case 0:
          out[at] = static_cast<char>(below(256));
          break;
        case 1:
          out.insert(at, 1, static_cast<char>(below(256)));
          break;
        case 2:
          out.erase(at, below(20));
          break;
        default:
          out.resize(at);
      }
    }
    return out;
  }

  // Deep nesting, never as event parameters (see the DeepNesting tests).
  std::string deep_body() {
    const std::size_t depth = chance(0.5) ? 100000 : below(100000);
    const std::string open(depth, '[');
    const std::string close(depth, ']');
    switch (below(6)) {
      case 0:
        return open;
      case 1:
        return open + close;
      case 2:
        return "[" + open + close + "]";
      case 3: {
        std::string objects;
        for (std::size_t i = 0; i < depth / 6; ++i) objects += "{\"a\":";
        return "[" + objects + "1" + std::string(depth / 6, '}') + "]";
      }
      case 4:
        return "[{\"_user_id\":\"U1\",\"x\":" + open + close + "}]";
      default:
        return "[{\"_user_id\":\"U1\",\"_email\":" + open + "]";
    }
  }

  std::string with_body(bool events, const std::string& body) {
    std::string request = "POST " + stream_path(events ? "/events" : "/contacts") +
                          (chance(0.2) ? "?_dryRun" : "") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (chance(0.9)) request += std::string("Authorization: Bearer ") + kToken + "\r\n";
    if (chance(0.9)) request += "Content-Type: application/json\r\n";
    std::string length;
    switch (below(8)) {
      case 0:
        length = std::to_string(below(body.size() + 1));  // shorter than the body
        break;
      case 1:
        length = std::to_string(body.size() + 1 + below(5000));  // longer: the server waits
        break;
      case 2:
        length = pick(std::vector<std::string>{"99999999999999999999", "18446744073709551615", "-1",
                                               "abc", "", "1e3", " 5", "0x10"});
        break;
      case 3:
        length = std::to_string(1 << 30);  // over the body limit
        break;
      default:
        length = std::to_string(body.size());
    }
    if (chance(0.95)) request += "Content-Length: " + length + "\r\n";
    if (chance(0.05)) request += "Content-Length: 3\r\n";  // a second, different one
    if (chance(0.3)) request += "Connection: close\r\n";
    return request + "\r\n" + body;
  }

  std::string chunked_request() {
    std::string request =
        "POST " + stream_path("/contacts") +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken +
        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string body = batch(false);
    std::size_t at = 0;
    while (at < body.size()) {
      const std::size_t size = 1 + below(std::min<std::size_t>(body.size() - at, 300));
      static const char* const kHex = "0123456789abcdef";
      std::string size_text;
      for (std::size_t n = size; n > 0; n /= 16) size_text.insert(0, 1, kHex[n % 16]);
      if (chance(0.05))
        size_text = pick(std::vector<std::string>{"ffffffffffffffff", "-1", "zz", "", "7fffffff"});
      request +=
          size_text + (chance(0.1) ? ";ext=1" : "") + "\r\n" + body.substr(at, size) + "\r\n";
      at += size;
    }
    if (chance(0.8)) request += "0\r\n\r\n";
    return request;
  }

  std::mt19937 random_;
};

TEST(Fuzz, RandomRequestsNeitherHangNorStopTheEmulator) {
  RunningEmulator server;
  constexpr std::size_t kRounds = 300;
  constexpr std::size_t kClients = 4;  // rounds at once, each on its own connection
  constexpr auto kAnswerWait = std::chrono::milliseconds(100);
  constexpr auto kRoundLimit = std::chrono::milliseconds(4000);
  RequestFuzzer fuzzer(20261128);
  std::vector<std::string> requests;
  for (std::size_t round = 0; round < kRounds; ++round) requests.push_back(fuzzer.next());

  const auto start = SteadyClock::now();
  std::vector<Exchange> results(kRounds);
  std::vector<std::thread> clients;
  for (std::size_t client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      for (std::size_t round = client; round < kRounds; round += kClients) {
        results[round] = exchange(server.port(), requests[round], kAnswerWait, kRoundLimit);
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const auto elapsed = SteadyClock::now() - start;

  std::size_t answered = 0;
  for (std::size_t round = 0; round < kRounds; ++round) {
    const Exchange& result = results[round];
    ASSERT_TRUE(result.connected) << "round " << round << ": cannot connect";
    EXPECT_TRUE(result.closed) << "round " << round << " still open after " << kRoundLimit.count()
                               << " ms: " << escaped(requests[round]);
    if (result.answer.rfind("HTTP/1.", 0) == 0) ++answered;
  }
  EXPECT_LT(elapsed, std::chrono::seconds(20));
  // Many rounds got through the server's parsing to an HTTP answer, not just a closed socket.
  EXPECT_GT(answered, kRounds / 4);

  const auto health = server.client().Get("/_emulator/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto batch = server.post(stream_path("/contacts"), json::array({{{"_user_id", "after"}}}));
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 202);
}

// ---------------------------------------------------------------------------------------------
// Deeply nested JSON, against the binary so that a crash fails one test instead of the whole run.
// The emulator refuses such a body as a whole (400, "Body nested too deeply") and keeps running.

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

const httplib::Headers& demo_auth() {
  static const httplib::Headers headers = {{"Authorization", "Bearer demo-token"}};
  return headers;
}

std::string demo_path(const std::string& rest) { return stream_path(rest, "proj_demo", "ds_demo"); }

// Whether the child still runs; when it has ended, how.
::testing::AssertionResult still_running(EmulatorProcess& process) {
  const auto status = process.wait_for_exit(std::chrono::milliseconds(100));
  if (!status) return ::testing::AssertionSuccess();
  if (WIFSIGNALED(*status)) {
    return ::testing::AssertionFailure() << "the emulator died of signal " << WTERMSIG(*status);
  }
  return ::testing::AssertionFailure() << "the emulator exited with " << WEXITSTATUS(*status);
}

// POSTs `body` to the demo datasource's `rest`; the emulator must refuse it as too deep and go on
// serving.
void expect_refused_and_alive(EmulatorProcess& process, int port, const std::string& rest,
                              const std::string& body) {
  auto client = loopback_client(port);
  const auto posted = client.Post(demo_path(rest), demo_auth(), body, "application/json");
  EXPECT_TRUE(posted) << "POST " << rest
                      << " got no answer: " << httplib::to_string(posted.error());
  if (posted) {
    EXPECT_EQ(posted->status, 400) << "POST " << rest;
    EXPECT_NE(posted->body.find("nested too deeply"), std::string::npos) << posted->body;
  }
  ASSERT_TRUE(still_running(process));
  const auto health = client.Get("/_emulator/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

std::string event_with_parameters(const std::string& parameters) {
  return R"([{"_user_id": "U1", "_event_id": "E1", "_event_type": "purchase", )"
         R"("_event_parameters": {"a": )" +
         parameters + "}}]";
}

TEST(DeepNesting, DeepEventParametersAreRefusedAndTheStateIsAnswered) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  expect_refused_and_alive(process, port, "/events", event_with_parameters(nested_arrays(100000)));
  const auto state = loopback_client(port).Get("/_emulator/state");
  EXPECT_TRUE(state) << "GET /_emulator/state got no answer: " << httplib::to_string(state.error());
  EXPECT_TRUE(still_running(process));
}

TEST(DeepNesting, VeryDeepEventParametersAreRefused) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  // 800 KB, under the default 1 MiB body limit.
  expect_refused_and_alive(process, port, "/events", event_with_parameters(nested_arrays(400000)));
}

TEST(DeepNesting, DeepItemsAreRefusedInTheConnectorsShape) {
  EmulatorProcess process({"--port", "0", "--response-shape", "connectors"});
  const int port = read_port(process);
  expect_refused_and_alive(process, port, "/contacts",
                           R"([{"_user_id": "U1", "a": )" + nested_arrays(100000) + "}]");
  expect_refused_and_alive(process, port, "/events",
                           R"([{"_user_id": "U1", "x": )" + nested_arrays(100000) + "}]");
}

TEST(DeepNesting, DeepBatchesAreRefused) {
  EmulatorProcess process({"--port", "0"});
  const int port = read_port(process);
  for (const std::string& body :
       {std::string(400000, '['), nested_arrays(400000), "[" + nested_arrays(400000) + "]",
        R"([{"_user_id": "U1", "a": )" + nested_arrays(400000) + "}]"}) {
    expect_refused_and_alive(process, port, "/contacts", body);
  }
}

}  // namespace
}  // namespace instasent::emulator::testing
