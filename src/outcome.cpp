// SPDX-License-Identifier: Apache-2.0
#include "outcome.hpp"

#include <cstdlib>

#include "instasent/limits.hpp"
#include "json_text.hpp"

namespace instasent::detail {

using nlohmann::json;

namespace {

// An error message names the operation and the status, and quotes nothing the server said (the
// server's text may echo the token or what was sent; it is in server_message()).
std::string describe(const char* operation, const char* what, int status,
                     const std::string& request_id) {
  std::string message = std::string("instasent: ") + operation + ": " + what;
  if (status != 0) message += " (HTTP " + std::to_string(status) + ")";
  if (!request_id.empty()) message += " [request id " + request_id + "]";  // sanitized already
  return message;
}

}  // namespace

std::string mask_token(std::string text, const std::string& token) {
  if (token.empty()) return text;
  for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + 3)) {
    text.replace(at, token.size(), "***");
  }
  return text;
}

std::string printable_text(std::string text, const std::string& token, std::size_t max_bytes) {
  return mask_token(printable_name(mask_token(std::move(text), token), max_bytes), token);
}

void sanitize_answer(HttpResponse& response, const std::string& token) {
  if (auto id = response.headers.get("X-Request-Id")) {
    response.headers.set("X-Request-Id", printable_text(std::move(*id), token, kMaxRequestIdBytes));
  }
}

json parse_body(const std::string& body) noexcept {
  if (body.empty() || json_nested_deeper_than(body, kMaxAnswerNesting)) return nullptr;
  try {
    json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return nullptr;
    return parsed;
  } catch (const std::exception&) {  // out of memory
    return nullptr;
  }
}

std::string server_message(const HttpResponse& response, const std::string& token) {
  // Masked before it is cut and escaped, so that no part of the token survives either.
  const json body = parse_body(response.body);
  if (!body.is_object()) return {};
  const auto it = body.find("message");
  if (it == body.end() || !it->is_string()) return {};
  return printable_text(it->get<std::string>(), token, 300);
}

[[noreturn]] void raise(const char* operation, const Exchange& exchange, const std::string& token,
                        std::shared_ptr<const BatchResult> partial) {
  const std::string after =
      exchange.attempts > 1 ? " after " + std::to_string(exchange.attempts) + " attempts" : "";
  if (!exchange.response) {
    const TransportError& cause = *exchange.transport_error;
    // The transport's message starts with "instasent: "; put the operation in front of the rest.
    std::string detail_text = cause.what();
    if (detail_text.rfind("instasent: ", 0) == 0) detail_text.erase(0, 11);
    TransportError error(cause.failure(),
                         std::string("instasent: ") + operation + ": " + detail_text + after);
    ErrorAccess::set_partial_result(error, std::move(partial));
    throw error;
  }
  const HttpResponse& response = *exchange.response;
  const int status = response.status;
  const std::string server_message = detail::server_message(response, token);
  const std::string request_id = response.headers.get("X-Request-Id").value_or("");
  const auto raise_as = [&](auto error) {
    ErrorAccess::set_partial_result(error, std::move(partial));
    throw error;
  };
  const auto text = [&](const char* what) {
    return describe(operation, what, status, request_id) + after;
  };
  if (status == 401)
    raise_as(UnauthorizedError(text("unauthorized"), status, server_message, request_id));
  if (status == 404) raise_as(NotFoundError(text("not found"), status, server_message, request_id));
  if (status == 429)
    raise_as(RateLimitedError(text("rate limited"), status, server_message, request_id));
  if (status >= 500)
    raise_as(ServerError(text("server error"), status, server_message, request_id));
  if (status >= 400) {
    raise_as(BadRequestError(text("request refused"), status, server_message, request_id));
  }
  raise_as(UnreadableResponseError(text("unexpected answer"), status, server_message, request_id));
  std::abort();  // not reached: raise_as always throws
}

[[noreturn]] void raise_unreadable(const char* operation, const HttpResponse& response,
                                   const char* what) {
  const std::string request_id = response.headers.get("X-Request-Id").value_or("");
  throw UnreadableResponseError(describe(operation, what, response.status, request_id),
                                response.status, std::string(), request_id);
}

}  // namespace instasent::detail
