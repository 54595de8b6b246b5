// SPDX-License-Identifier: Apache-2.0
// A whole answer (status, X-RateLimit-* and other headers, body) through the client, as a hostile
// server could send it: every call either returns or throws an instasent::Error whose text holds
// no token and no control character; the rate-limit values seen stay in range.
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "instasent/instasent.hpp"

using namespace instasent;
using fuzz::require;

namespace {

constexpr const char* kToken = "FUZZ-TOKEN-123";

// Answers every request with the answer the input describes.
class ScriptedAnswer final : public Transport {
 public:
  explicit ScriptedAnswer(HttpResponse answer) : answer_(std::move(answer)) {}
  HttpResponse send(const HttpRequest&) override { return answer_; }

 private:
  HttpResponse answer_;
};

// Time that never waits.
class InstantClock final : public Clock {
 public:
  std::chrono::system_clock::time_point system_now() override { return system_; }
  std::chrono::steady_clock::time_point steady_now() override { return steady_; }
  void sleep_for(std::chrono::milliseconds duration) override {
    system_ += duration;
    steady_ += duration;
  }

 private:
  std::chrono::system_clock::time_point system_{std::chrono::seconds(1795860000)};
  std::chrono::steady_clock::time_point steady_{};
};

void check_error(const Error& error) {
  const std::string what = error.what();
  require(what.find(kToken) == std::string::npos, "no token in what()");
  require(fuzz::printable(what), "what() is printable");
  require(error.server_message().find(kToken) == std::string::npos, "no token in the message");
  require(fuzz::printable(error.server_message()), "the server's message is printable");
  require(fuzz::printable(error.request_id()) && error.request_id().size() <= 131, "request id");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  // Byte 0: which call; bytes 1-2: the status; then header lines up to a blank line; the body.
  HttpResponse answer;
  answer.status = 100 + (data[1] << 8 | data[2]) % 900;
  std::string_view rest = fuzz::text_of(data + 3, size - 3);
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      answer.headers.add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
  }
  answer.body = std::string(rest);

  ClientOptions options;
  options.project = "proj";
  options.datasource = "ds";
  options.token = kToken;
  options.transport = std::make_shared<ScriptedAnswer>(std::move(answer));
  options.clock = std::make_shared<InstantClock>();
  options.retry.max_attempts = 2;
  options.retry.jitter_seed = 1;  // no /dev/urandom read per run
  const Client client(options);
  try {
    switch (data[0] % 8) {
      case 0:
        client.stream_info();
        break;
      case 1: {
        const BatchResult result = client.upsert_contacts({Contact("U1"), Contact("U2")});
        require(result.size() == 2, "a result per contact");
        for (const auto& request : result.requests()) {
          require(fuzz::printable(request.request_id), "request ids of results");
        }
        break;
      }
      case 2:
        client.record_events({Event("U1", "E1", "t")});
        break;
      case 3:
        client.get_contact("U1");
        break;
      case 4:
        client.delete_contact("U1");
        break;
      case 5:
        client.attribute_specs();
        break;
      case 6:
        client.event_specs();
        break;
      default:
        client.event_parameter_specs("purchase");
        break;
    }
  } catch (const Error& error) {
    check_error(error);
  }
  const RateLimit seen = client.rate_limit();
  require(!seen.limit || *seen.limit >= 0, "a limit is not negative");
  require(!seen.remaining || *seen.remaining >= 0, "remaining is not negative");
  if (seen.reset) require(seen.reset->time_since_epoch().count() >= 0, "a reset after 1970");
  return 0;
}
