// SPDX-License-Identifier: Apache-2.0
// What one request came to after its retries, and the exception an unsuccessful one stands for.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "instasent/batch_result.hpp"
#include "instasent/error.hpp"
#include "instasent/http.hpp"

namespace instasent::detail {

/// The exchange of one request, after its retries: the last answer, or the last transport
/// failure. (An `ItemOutcome` is one item's final state in the Ingestor.)
struct Exchange {
  std::optional<HttpResponse> response;
  std::optional<TransportError> transport_error;
  int attempts = 0;
};

/// A 2xx answer read as a JSON object.
struct JsonAnswer {
  nlohmann::json body;
  HttpResponse response;
};

/// Reaches what an Error keeps private, for the code that raises it.
struct ErrorAccess {
  static void set_partial_result(Error& error, std::shared_ptr<const BatchResult> partial) {
    error.partial_ = std::move(partial);
  }
};

inline bool is_success(int status) { return status >= 200 && status < 300; }

/// `body` parsed; null when it is empty, not JSON, or nested deeper than `kMaxAnswerNesting`.
/// Never throws (running out of memory gives null too).
nlohmann::json parse_body(const std::string& body) noexcept;

/// `text` with every occurrence of `token` replaced by "***".
std::string mask_token(std::string text, const std::string& token);

/// Text from a server made safe to keep and print: the token masked, control characters escaped,
/// cut to `max_bytes`; and the token masked again, so that no escape can spell it (a server that
/// sends "\xFF" before the token's tail would otherwise see it printed whole).
std::string printable_text(std::string text, const std::string& token, std::size_t max_bytes);

/// The longest request id kept from an answer, after escaping.
inline constexpr std::size_t kMaxRequestIdBytes = 128;

/// Makes an answer safe to keep and to quote: its `X-Request-Id` with the token masked, control
/// characters escaped and cut to `kMaxRequestIdBytes`. Called on every answer as it arrives, so
/// that nothing downstream ever sees the raw header.
void sanitize_answer(HttpResponse& response, const std::string& token);

/// The `message` of an answer's JSON body, printable and at most 300 bytes, with `token` masked
/// wherever the server quotes it; empty when there is none.
std::string server_message(const HttpResponse& response, const std::string& token);

/// Throws the error that a final, unsuccessful outcome stands for, carrying `partial` if given.
/// `token` is masked wherever the server's message quotes it.
[[noreturn]] void raise(const char* operation, const Exchange& exchange, const std::string& token,
                        std::shared_ptr<const BatchResult> partial = nullptr);

/// Throws UnreadableResponseError for a 2xx answer whose body is not what `operation` expects.
[[noreturn]] void raise_unreadable(const char* operation, const HttpResponse& response,
                                   const char* what);

}  // namespace instasent::detail
