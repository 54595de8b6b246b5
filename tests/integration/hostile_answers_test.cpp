// SPDX-License-Identifier: Apache-2.0
// The client against a hostile or broken server: answers too deep, too large, too slow, not HTTP,
// with lying lengths, odd statuses, secrets and terminal escapes echoed back, and rate-limit times
// that overflow a clock. Each case names what the caller gets; none may crash, hang or leak. The
// server is a raw TCP socket (support/raw_server.hpp), so that it can send what no HTTP library
// would; the client is the real one, over real libcurl.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "instasent/instasent.hpp"
#include "support/fake_clock.hpp"
#include "support/raw_server.hpp"
#include "support/sanitizers.hpp"

namespace instasent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::RawConnection;
using testing::RawServer;

constexpr const char* kToken = "secret-token-XYZ";
constexpr std::size_t kSmallLimit = 1u << 20;  // max_response_bytes for most cases: 1 MiB

// Options for a client of `server`: a fake clock (no real waits), the token above, one attempt.
ClientOptions options_for(const RawServer& server) {
  ClientOptions options;
  options.project = "proj";
  options.datasource = "ds";
  options.token = kToken;
  options.base_url = server.base_url();
  options.clock = std::make_shared<FakeClock>();
  options.retry.max_attempts = 1;
  return options;
}

enum class Call { stream_info, upsert, get_contact, delete_contact };

const char* to_string(Call call) {
  switch (call) {
    case Call::stream_info:
      return "stream_info";
    case Call::upsert:
      return "upsert_contacts";
    case Call::get_contact:
      return "get_contact";
    case Call::delete_contact:
      return "delete_contact";
  }
  return "?";
}

// What a case expects: the call returns (with this item status, for upserts) or throws an error
// of this kind (and transport failure); and the server saw this many requests (retries show).
struct Expect {
  std::optional<ErrorKind> error;
  std::optional<TransportFailure> failure;
  std::size_t requests = 1;
  std::optional<ItemStatus> item = std::nullopt;
};

struct Case {
  std::string name;
  Call call;
  RawServer::Responder respond;
  Expect expect;
  std::function<void(ClientOptions&)> customize = nullptr;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

// --- Answers -----------------------------------------------------------------------------------

RawServer::Responder send(std::string bytes) {
  return [bytes = std::move(bytes)](RawConnection& connection) { connection.write(bytes); };
}

RawServer::Responder answer(int status, std::string body, std::string headers = {}) {
  return send(RawServer::answer(status, body, headers));
}

std::string nested(std::size_t depth, const char* open = "[", const char* close = "]") {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += open;
  text += "1";
  for (std::size_t i = 0; i < depth; ++i) text += close;
  return text;
}

// A valid JSON object nested `depth` levels: {"a":{"a":...{"a":1}...}}.
std::string nested_object(std::size_t depth) {
  std::string text;
  for (std::size_t i = 1; i < depth; ++i) text += R"({"a":)";
  text += R"({"a":1})";
  text += std::string(depth - 1, '}');
  return text;
}

// `inflated` zero bytes, gzip-compressed (about 1 KiB per MiB).
std::string gzip_of_zeros(std::size_t inflated) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY);
  const std::string zeros(1u << 20, '\0');
  std::string out;
  char buffer[1 << 16];
  std::size_t left = inflated;
  do {
    const std::size_t chunk = std::min(left, zeros.size());
    left -= chunk;
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    stream.avail_in = static_cast<uInt>(chunk);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof buffer;
      deflate(&stream, flush);
      out.append(buffer, sizeof buffer - stream.avail_out);
    } while (stream.avail_out == 0);
  } while (left > 0);
  deflateEnd(&stream);
  return out;
}

// `text`, gzip-compressed.
std::string gzip_of(std::string_view text) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, static_cast<uLong>(text.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  return out;
}

// 1 MB of gzip that inflates to 1 GB, made once and only by the case that sends it: every test
// of this program builds the table, and compressing takes seconds.
const std::string& gzip_bomb_body() {
  static const std::string body = gzip_of_zeros(1u << 30);
  return body;
}

RawServer::Responder gzip_bomb() {
  return [](RawConnection& connection) {
    connection.write(RawServer::answer(200, gzip_bomb_body(), "Content-Encoding: gzip\r\n"));
  };
}

RawServer::Responder endless_chunks() {
  return [](RawConnection& connection) {
    if (!connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
    const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    while (connection.write(chunk)) {
    }
  };
}

RawServer::Responder trickle(std::string head) {
  return [head = std::move(head)](RawConnection& connection) {
    if (!connection.write(head)) return;
    while (connection.write(" ")) std::this_thread::sleep_for(milliseconds(100));
  };
}

RawServer::Responder silence(std::string first_bytes) {
  return [first_bytes = std::move(first_bytes)](RawConnection& connection) {
    if (!connection.write(first_bytes)) return;
    while (!connection.stopping() && connection.write("")) {
      std::this_thread::sleep_for(milliseconds(50));
    }
  };
}

std::string many_headers(std::size_t count) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
  for (std::size_t i = 0; i < count; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  return head + "\r\n{}";
}

const std::string kOneAccepted = R"({"entity":{"items":[{"status":"success","_user_id":"U1"}]}})";

// --- The table -----------------------------------------------------------------------------------

std::vector<Case> cases() {
  const Expect ok{};
  const auto error = [](ErrorKind kind, std::size_t requests = 1) {
    return Expect{kind, std::nullopt, requests};
  };
  const auto transport = [](TransportFailure failure, std::size_t requests = 1) {
    return Expect{ErrorKind::transport, failure, requests};
  };
  const auto item = [](ItemStatus status) { return Expect{std::nullopt, std::nullopt, 1, status}; };
  const auto limit = [](std::size_t bytes) {
    return [bytes](ClientOptions& options) { options.curl.max_response_bytes = bytes; };
  };
  const std::string mib(kSmallLimit - 2, ' ');
  return {
      // Too deep: refused before parsing, never a stack overflow.
      {"2 MB of nested [ in a 200", Call::stream_info, answer(200, nested(1'000'000)),
       error(ErrorKind::unreadable_response), limit(4u << 20)},
      {"2 MB of nested [ in a 202", Call::upsert, answer(202, nested(1'000'000)),
       item(ItemStatus::unknown), limit(4u << 20)},
      {"2 MB of nested { in a 400", Call::upsert,
       answer(400, nested(180'000, R"({"message":)", "}")), error(ErrorKind::bad_request),
       limit(4u << 20)},
      {"2 MB of nested [ in a 404", Call::get_contact, answer(404, nested(1'000'000)),
       error(ErrorKind::not_found), limit(4u << 20)},
      {"an object nested 64 deep is read", Call::stream_info, answer(200, nested_object(64)), ok},
      {"an object nested 65 deep is not", Call::stream_info, answer(200, nested_object(65)),
       error(ErrorKind::unreadable_response)},
      {"202 items nested 65 deep", Call::upsert,
       answer(202, R"({"entity":{"items":[{"status":"success","_user_id":"U1","x":)" + nested(62) +
                       "}]}}"),
       item(ItemStatus::unknown)},
      // Too large: stopped at max_response_bytes, counted after decompression; not retried.
      {"1 MB of gzip that inflates to 1 GB", Call::stream_info, gzip_bomb(),
       transport(TransportFailure::too_large),
       [](ClientOptions&) { gzip_bomb_body(); }},  // made before the client waits for it
      {"1 MB of gzip that inflates to 1 GB, asked for", Call::stream_info, gzip_bomb(),
       transport(TransportFailure::too_large),
       [](ClientOptions& options) {
         gzip_bomb_body();
         options.curl.compressed_answers = true;
       }},
      {"an endless chunked body", Call::stream_info, endless_chunks(),
       transport(TransportFailure::too_large)},
      {"a Content-Length of a terabyte", Call::stream_info,
       send("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{}"),
       transport(TransportFailure::too_large)},
      {"a body of exactly max_response_bytes", Call::stream_info, answer(200, "{" + mib + "}"), ok,
       limit(kSmallLimit)},
      {"a body one byte over max_response_bytes", Call::stream_info, answer(200, "{ " + mib + "}"),
       transport(TransportFailure::too_large), limit(kSmallLimit)},
      {"a 202 over max_response_bytes", Call::upsert, endless_chunks(),
       transport(TransportFailure::too_large)},
      {"100,000 header fields", Call::stream_info, send(many_headers(100'000)),
       transport(TransportFailure::too_large)},
      // Too slow: the low-speed limit ends it long before request_timeout.
      {"a body trickling in a byte at a time", Call::stream_info,
       trickle("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"),
       transport(TransportFailure::timeout, 3)},
      {"headers, then silence", Call::stream_info,
       silence("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
       transport(TransportFailure::timeout, 3)},
      {"no answer at all", Call::stream_info, silence(""), transport(TransportFailure::timeout, 3)},
      // Not HTTP, or broken HTTP: protocol failures are final.
      {"an SSH banner", Call::stream_info, send("SSH-2.0-OpenSSH_9.2\r\n"),
       transport(TransportFailure::protocol)},
      {"a status line without a number", Call::stream_info,
       send("HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\n{}"),
       transport(TransportFailure::protocol)},
      // Decoded whether asked for (compressed_answers) or not.
      {"a gzip answer not asked for", Call::stream_info,
       answer(200, gzip_of(R"({"a":1})"), "Content-Encoding: gzip\r\n"), ok},
      {"a gzip body that is not gzip", Call::stream_info,
       answer(200, "this is not gzip at all", "Content-Encoding: gzip\r\n"),
       transport(TransportFailure::protocol)},
      // libcurl reports a broken chunk as a receive failure, like a broken connection.
      {"a chunk size that is not hex", Call::stream_info,
       send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
       transport(TransportFailure::receive, 3)},
      // Cut short: retried (the next attempt may well succeed).
      {"closed before a byte", Call::stream_info, send(""),
       transport(TransportFailure::receive, 3)},
      // libcurl takes a close in the middle of the head as its end: a 200 without a body.
      {"closed in the middle of the headers", Call::stream_info,
       send("HTTP/1.1 200 OK\r\nContent-Le"), error(ErrorKind::unreadable_response)},
      {"closed in the middle of the headers of a 202", Call::upsert,
       send("HTTP/1.1 202 Accepted\r\nContent-Le"), item(ItemStatus::unknown)},
      {"a body shorter than its Content-Length", Call::stream_info,
       send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":"),
       transport(TransportFailure::receive, 3)},
      // Odd statuses and bodies.
      {"status 999", Call::stream_info, answer(999, "{}"), error(ErrorKind::server_error, 3)},
      {"status 302 to file:///etc/passwd", Call::stream_info,
       answer(302, "", "Location: file:///etc/passwd\r\n"), error(ErrorKind::unreadable_response)},
      {"status 204 to a read", Call::stream_info, answer(204, ""),
       error(ErrorKind::unreadable_response)},
      {"status 418", Call::upsert, answer(418, R"({"message":"teapot"})"),
       error(ErrorKind::bad_request)},
      {"a 200 of null", Call::stream_info, answer(200, "null"),
       error(ErrorKind::unreadable_response)},
      {"a 200 with a NUL byte", Call::stream_info, answer(200, std::string("{\"a\":\"\0\"}", 9)),
       error(ErrorKind::unreadable_response)},
      {"a 200 with invalid UTF-8", Call::stream_info, answer(200, "{\"a\":\"\xFF\xFE\"}"),
       error(ErrorKind::unreadable_response)},
      {"a 200 of a number too large for a double", Call::stream_info, answer(200, R"({"a":1e999})"),
       error(ErrorKind::unreadable_response)},
      {"a 202 of a JSON string", Call::upsert, answer(202, R"("accepted")"),
       item(ItemStatus::unknown)},
      {"a 202 naming another user", Call::upsert,
       answer(202, R"({"entity":{"items":[{"status":"success","_user_id":"U2"}]}})"),
       item(ItemStatus::unknown)},
      {"a 202 with two items for one input", Call::upsert,
       answer(202, R"({"entity":{"items":[{"status":"success"},{"status":"success"}]}})"),
       item(ItemStatus::unknown)},
      {"a 202 claiming position 2^64-1", Call::upsert,
       answer(202, R"({"accepted":[{"position":18446744073709551615}],"errors":[]})"),
       item(ItemStatus::unknown)},
      {"a 202 claiming position -1", Call::upsert,
       answer(202, R"({"accepted":[{"position":-1}],"errors":[]})"), item(ItemStatus::unknown)},
      {"a 404 to a delete", Call::delete_contact, answer(404, R"({"message":"no"})"),
       error(ErrorKind::not_found)},
      {"a 200 to a delete with a body that is not JSON", Call::delete_contact,
       answer(200, "<html>"), ok},
      {"a get_contact answer without a contact", Call::get_contact, answer(200, R"({"x":1})"),
       error(ErrorKind::unreadable_response)},
      {"a get_contact whose contact is a string", Call::get_contact,
       answer(200, R"({"contact":"U1"})"), error(ErrorKind::unreadable_response)},
  };
}

class HostileAnswer : public ::testing::TestWithParam<Case> {};

TEST_P(HostileAnswer, GivesWhatTheTableSays) {
  const Case& c = GetParam();
  RawServer server(c.respond);
  ClientOptions options = options_for(server);
  options.retry.max_attempts = 3;
  options.curl.request_timeout = milliseconds(20'000);
  options.curl.max_response_bytes = kSmallLimit;
  options.curl.low_speed_bytes = 100;
  options.curl.low_speed_time = seconds(1);
  if (c.customize) c.customize(options);
  const Client client(options);

  std::optional<BatchResult> result;
  const auto started = std::chrono::steady_clock::now();
  try {
    switch (c.call) {
      case Call::stream_info:
        client.stream_info();
        break;
      case Call::upsert:
        result = client.upsert_contacts({Contact("U1")});
        break;
      case Call::get_contact:
        client.get_contact("U1");
        break;
      case Call::delete_contact:
        client.delete_contact("U1");
        break;
    }
    EXPECT_FALSE(c.expect.error) << to_string(c.call) << " returned; expected "
                                 << to_string(*c.expect.error);
  } catch (const TransportError& e) {
    ASSERT_EQ(c.expect.error, ErrorKind::transport) << e.what();
    if (c.expect.failure) {
      EXPECT_EQ(std::string(to_string(e.failure())), to_string(*c.expect.failure)) << e.what();
    }
    EXPECT_EQ(e.retryable(), c.expect.requests > 1) << e.what();
  } catch (const Error& e) {
    ASSERT_TRUE(c.expect.error) << "unexpected " << e.what();
    EXPECT_EQ(std::string(to_string(e.kind())), to_string(*c.expect.error)) << e.what();
  }
  EXPECT_EQ(server.requests(), c.expect.requests);
  if (c.expect.item) {
    ASSERT_TRUE(result);
    ASSERT_EQ(result->size(), 1u);
    EXPECT_EQ(std::string(to_string((*result)[0].status)), to_string(*c.expect.item));
  }
  // Bounded: every case ends in seconds, whatever the server does.
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(15));
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileAnswer, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char c : info.param.name) {
                             if (std::isalnum(static_cast<unsigned char>(c))) name += c;
                           }
                           return name;
                         });

// --- What reaches a terminal or a log ------------------------------------------------------------

Client client_of(const RawServer& server) { return Client(options_for(server)); }

template <typename F>
std::optional<Error> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

bool has_control(const std::string& text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

TEST(HostileText, ARequestIdEchoingTheTokenIsMaskedEverywhere) {
  RawServer server(answer(401, R"({"message":"no"})",
                          std::string("X-Request-Id: Bearer ") + kToken + "\x1B[2J\r\n"));
  const auto e = error_of([&] { client_of(server).stream_info(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_id(), "Bearer ***\\x1B[2J");
  EXPECT_EQ(std::string(e->what()).find(kToken), std::string::npos) << e->what();
  EXPECT_FALSE(has_control(e->what())) << e->what();
}

// Escaping must not spell the token: "\xFF" is shown as the four characters `\xFF`, whose last is
// the token's first ("FF..."); a server that sends the byte and then the token's tail would
// otherwise have the token printed whole (found by fuzzing).
TEST(HostileText, AnEscapeCannotSpellTheToken) {
  const std::string token = "FFtoken-123";
  RawServer server(
      answer(400, "{\"message\":\"x\"}", "X-Request-Id: \xFF" + token.substr(1) + "\r\n"));
  ClientOptions options = options_for(server);
  options.token = token;
  const auto e = error_of([&] { Client(options).stream_info(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_id().find(token), std::string::npos) << e->request_id();
  EXPECT_EQ(std::string(e->what()).find(token), std::string::npos) << e->what();
}

TEST(HostileText, ALongRequestIdIsCut) {
  RawServer server(answer(400, "{}", "X-Request-Id: " + std::string(10'000, 'r') + "\r\n"));
  const auto e = error_of([&] { client_of(server).stream_info(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->request_id(), std::string(128, 'r') + "...");
  EXPECT_LT(std::string(e->what()).size(), 400u);
}

TEST(HostileText, RequestIdsOfResultsAreSanitizedToo) {
  RawServer server(answer(202, kOneAccepted,
                          "X-Request-Id: a\x1B]0;x\x07"
                          "b\r\n"));
  const BatchResult result = client_of(server).upsert_contacts({Contact("U1")});
  ASSERT_EQ(result.requests().size(), 1u);
  EXPECT_EQ(result.requests()[0].request_id, "a\\x1B]0;x\\x07b");
}

TEST(HostileText, ServerMessagesAreMaskedEscapedAndCut) {
  RawServer server(answer(
      400, std::string(R"({"message":"token )") + kToken + R"( \u001b[31mred\r\nFAKE LOG LINE"})"));
  const auto e = error_of([&] { client_of(server).upsert_contacts({Contact("U1")}); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->server_message(), "token *** \\x1B[31mred\\x0D\\x0AFAKE LOG LINE");

  RawServer huge(answer(400, R"({"message":")" + std::string(1'000'000, 'm') + R"("})"));
  const auto cut = error_of([&] { client_of(huge).upsert_contacts({Contact("U1")}); });
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->server_message(), std::string(300, 'm') + "...");
}

TEST(HostileText, ItemErrorsAreMaskedEscapedAndBounded) {
  std::string errors = "{";
  for (int i = 0; i < 10'000; ++i) errors += "\"f" + std::to_string(i) + "\":[\"m\"],";
  errors += std::string(R"("_email":[")") + kToken + R"(\u001b[2J", ")" +
            std::string(100'000, 'x') + R"("]})";
  RawServer server(answer(
      422, R"({"entity":{"items":[{"status":"error","_user_id":"U1","errors":)" + errors + "}]}}"));
  const BatchResult result = client_of(server).upsert_contacts({Contact("U1")});
  ASSERT_EQ(result.size(), 1u);
  const FieldErrors& kept = result[0].errors;
  EXPECT_LE(kept.size(), kMaxErrorFields + 1);  // plus the summary under ""
  ASSERT_TRUE(kept.count(""));
  EXPECT_EQ(kept.at("").back(), "(9937 more errors not kept)");
  for (const auto& [field, messages] : kept) {
    EXPECT_LE(field.size(), kMaxErrorFieldBytes + 3);
    EXPECT_LE(messages.size(), kMaxMessagesPerField + 1);
    for (const std::string& message : messages) {
      EXPECT_LE(message.size(), kMaxErrorMessageBytes + 3);
      EXPECT_EQ(message.find(kToken), std::string::npos);
      EXPECT_FALSE(has_control(message)) << message;
    }
  }
}

// --- Rate-limit times that would overflow a clock ------------------------------------------------

TEST(HostileRateLimit, FarFutureTimesWaitTheCapNotZero) {
  for (const std::string header :
       {"X-RateLimit-Reset: 32503680000", "Retry-After: 99999999999999999999",
        "Retry-After: Wed, 01 Jan 3000 00:00:00 GMT", "X-RateLimit-Reset: 1e99"}) {
    SCOPED_TRACE(header);
    RawServer server(answer(429, "", header + "\r\n"));
    auto clock = std::make_shared<FakeClock>();
    ClientOptions options = options_for(server);
    options.clock = clock;
    options.retry.max_attempts = 3;
    options.retry.max_rate_limit_wait = seconds(60);
    options.retry.initial_backoff = milliseconds(100);
    options.retry.max_backoff = milliseconds(100);
    options.retry.deadline = seconds(1000);
    const Client client(options);
    const auto e = error_of([&] { client.stream_info(); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::rate_limited);
    EXPECT_EQ(server.requests(), 3u);
    // "1e99" says nothing usable: the backoff; the others: the cap, never an instant retry.
    const milliseconds expected =
        header.find("1e99") != std::string::npos ? milliseconds(100) : seconds(60);
    for (const milliseconds slept : clock->sleeps()) EXPECT_LE(slept, expected);
    for (const milliseconds slept : clock->sleeps()) EXPECT_GE(slept, expected / 2);
    EXPECT_EQ(clock->sleeps().size(), 2u);
  }
}

TEST(HostileRateLimit, NonsenseHeadersAreNotRecorded) {
  RawServer server(answer(200, "{}",
                          "X-RateLimit-Limit: 99999999999999999999\r\n"
                          "X-RateLimit-Remaining: -1\r\n"
                          "X-RateLimit-Reset: 32503680000\r\n"));
  const Client client = client_of(server);
  client.stream_info();
  const RateLimit seen = client.rate_limit();
  EXPECT_FALSE(seen.remaining);
  EXPECT_FALSE(seen.reset);  // the year 3000 does not fit a system_clock: not 1830 either
  ASSERT_TRUE(seen.limit);   // saturated, but positive
  EXPECT_GT(*seen.limit, 0);
}

// --- Memory
// ---------------------------------------------------------------------------------------

// Under an address-space limit, an answer the options allow but memory does not (a gigabyte) makes
// the allocation fail inside libcurl's write callback: the call throws the SDK's TransportError,
// and std::bad_alloc never escapes. Run in a child, whose limit the test process does not share.
TEST(HostileMemory, AnAnswerLargerThanMemoryIsATransportErrorNotAnAbort) {
#if INSTASENT_UNDER_SANITIZER
  GTEST_SKIP() << "the sanitizers reserve far more address space than any limit would allow";
#else
  RawServer server([](RawConnection& connection) {
    if (!connection.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")) return;
    const std::string chunk(1u << 20, ' ');
    while (connection.write(chunk)) {
    }
  });
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    long pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    const rlimit limit{static_cast<rlim_t>(pages) * 4096 + (384u << 20),
                       static_cast<rlim_t>(pages) * 4096 + (384u << 20)};
    setrlimit(RLIMIT_AS, &limit);
    ClientOptions options = options_for(server);
    options.curl.max_response_bytes = 2'000'000'000;
    try {
      Client(options).stream_info();
      _exit(10);  // the answer fit: the limit did not hold
    } catch (const TransportError& e) {
      _exit(std::string(e.what()).find("out of memory") != std::string::npos ? 0 : 11);
    } catch (const Error&) {
      _exit(12);
    } catch (...) {
      _exit(13);  // std::bad_alloc escaped
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
#endif
}

}  // namespace
}  // namespace instasent
