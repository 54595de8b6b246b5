// SPDX-License-Identifier: Apache-2.0
#include "client_core.hpp"

#include <algorithm>
#include <limits>
#include <new>
#include <optional>

#include "batch_reader.hpp"
#include "ids.hpp"
#include "instasent/error.hpp"
#include "option_checks.hpp"
#include "retry_logic.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent::detail {

namespace {

using std::chrono::milliseconds;

// Longer than any token Instasent issues, short enough for every server's header limit.
constexpr std::size_t kMaxTokenBytes = 8192;

void check_token(const std::string& token) {
  if (token.empty()) throw InvalidInputError("token (INSTASENT_TOKEN)", "is not set");
  if (token.size() > kMaxTokenBytes) {
    throw InvalidInputError("token (INSTASENT_TOKEN)", "is longer than 8192 bytes");
  }
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      throw InvalidInputError("token (INSTASENT_TOKEN)",
                              "contains a space, a control character (such as CR or LF) or a "
                              "non-ASCII byte");
    }
  }
}

// Options that would disable a safety (a timeout of 0, a size limit of 0) or make no sense.
void check_options(const ClientOptions& options) {
  using std::chrono::milliseconds;
  const auto positive = [](milliseconds value, const char* field) {
    if (value <= milliseconds(0)) throw InvalidInputError(field, "must be positive");
  };
  check_batch_limits(options.batch);
  check_retry_policy(options.retry, 100);
  positive(options.retry.deadline, "retry.deadline");
  const CurlTransportOptions& curl = options.curl;
  positive(curl.connect_timeout, "curl.connect_timeout");
  positive(curl.request_timeout, "curl.request_timeout");
  if (curl.max_response_bytes < 1024) {
    throw InvalidInputError("curl.max_response_bytes", "must be at least 1024");
  }
  if (curl.low_speed_bytes > 0 && curl.low_speed_time <= std::chrono::seconds(0)) {
    throw InvalidInputError("curl.low_speed_time", "must be positive when low_speed_bytes is set");
  }
}

}  // namespace

std::vector<RequestRange> plan_requests(const std::vector<std::size_t>& ends, std::size_t max_items,
                                        std::size_t max_bytes) {
  const auto begin_of = [&](std::size_t i) { return i == 0 ? 0 : ends[i - 1] + 1; };
  std::vector<RequestRange> requests;
  std::size_t first = 0;
  while (first < ends.size()) {
    std::size_t last = first + 1;  // one past the request's last item; the first always fits
    while (last < ends.size() && last - first < max_items &&
           ends[last] - begin_of(first) + 2 <= max_bytes) {
      ++last;
    }
    requests.push_back({first, last});
    first = last;
  }
  return requests;
}

ClientCore::ClientCore(ClientOptions options) : options_(std::move(options)) {
  check_path_segment(options_.project, "project (INSTASENT_PROJECT)");
  check_path_segment(options_.datasource, "datasource (INSTASENT_DATASOURCE)");
  check_token(options_.token);
  const std::string base = normalize_base_url(options_.base_url, options_.allow_insecure_http,
                                              "base URL (INSTASENT_BASE_URL)");
  check_options(options_);
  prefix_ = base + "/project/" + encode_path_segment(options_.project) + "/datasource/" +
            encode_path_segment(options_.datasource);
  authorization_ = "Bearer " + options_.token;
  transport_ = options_.transport ? options_.transport : make_curl_transport(options_.curl);
  clock_ = options_.clock ? options_.clock : system_clock();
  logger_ = Logger(options_.on_log, options_.log_level);
  rng_.seed(options_.retry.jitter_seed != 0
                ? options_.retry.jitter_seed
                : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  register_fork_aware(this);
}

ClientCore::~ClientCore() { unregister_fork_aware(this); }

HttpResponse ClientCore::call(const char* operation, const char* method, const std::string& path) {
  const Exchange exchange = execute(make_request(method, path, std::string()), {operation, 1, 0});
  if (!exchange.response || !is_success(exchange.response->status)) {
    raise(operation, exchange, options_.token);
  }
  return *exchange.response;
}

JsonAnswer ClientCore::get_object(const char* operation, const std::string& path) {
  JsonAnswer answer{nlohmann::json(), call(operation, "GET", path)};
  answer.body = parse_body(answer.response.body);
  if (!answer.body.is_object()) {
    raise_unreadable(operation, answer.response, "answer is not a JSON object");
  }
  return answer;
}

BatchResult ClientCore::write(const char* operation, const char* path, BatchKind kind,
                              const SerializedBatch& batch, const WriteOptions& write_options) {
  std::string target = prefix_ + path;
  if (write_options.sync) target += "?_sync";
  if (write_options.dry_run) target += write_options.sync ? "&_dryRun" : "?_dryRun";

  const auto begin_of = [&](std::size_t i) { return i == 0 ? 0 : batch.ends[i - 1] + 1; };
  std::vector<ItemResult> items;
  std::vector<BatchRequest> requests;
  items.reserve(batch.ends.size());
  for (const RequestRange range :
       plan_requests(batch.ends, options_.batch.max_items, options_.batch.max_bytes)) {
    const std::size_t begin = begin_of(range.first);
    const std::size_t size = batch.ends[range.last - 1] - begin;
    std::string body;
    body.reserve(size + 2);
    body.push_back('[');
    body.append(batch.buffer, begin, size);
    body.push_back(']');
    const std::vector<std::string_view> ids(batch.ids.begin() + range.first,
                                            batch.ids.begin() + range.last);

    HttpRequest request = make_request("POST", std::string(), std::move(body));
    request.url = target;
    Exchange exchange = execute(request, {operation, 1, range.last - range.first});
    if (!exchange.response ||
        !(is_success(exchange.response->status) || exchange.response->status == 422)) {
      fail_batch(operation, exchange, batch, range, std::move(items), std::move(requests));
    }
    HttpResponse& response = *exchange.response;
    read_answer(response.body, kind, ids, range.first, items);
    requests.push_back(BatchRequest{range.first, range.last - range.first, response.status,
                                    response.headers.get("X-Request-Id").value_or(""),
                                    std::move(response.body)});
  }
  return BatchResult(std::move(items), std::move(requests));
}

void ClientCore::fail_batch(const char* operation, const Exchange& exchange,
                            const SerializedBatch& batch, RequestRange failed,
                            std::vector<ItemResult> items, std::vector<BatchRequest> requests) {
  const bool maybe_processed = exchange.response ? exchange.response->status >= 500
                                                 : exchange.transport_error->maybe_delivered();
  const std::string reason =
      exchange.response ? "request failed with HTTP " + std::to_string(exchange.response->status)
                        : std::string("request failed: ") + exchange.transport_error->what();
  for (std::size_t i = failed.first; i < batch.ids.size(); ++i) {
    ItemResult item;
    item.index = i;
    item.id = std::string(batch.ids[i]);
    if (i < failed.last) {
      item.status = maybe_processed ? ItemStatus::unknown : ItemStatus::not_sent;
      item.errors[""].push_back(reason);
    } else {
      item.status = ItemStatus::not_sent;
      item.errors[""].push_back("not sent: an earlier request of this call failed");
    }
    items.push_back(std::move(item));
  }
  const std::size_t count = failed.last - failed.first;
  if (exchange.response) {
    requests.push_back(BatchRequest{failed.first, count, exchange.response->status,
                                    exchange.response->headers.get("X-Request-Id").value_or(""),
                                    exchange.response->body});
  } else {
    requests.push_back(BatchRequest{failed.first, count, 0, {}, {}});
  }
  raise(operation, exchange, options_.token,
        std::make_shared<const BatchResult>(std::move(items), std::move(requests)));
}

RateLimit ClientCore::rate_limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rate_limit_;
}

HttpRequest ClientCore::make_request(const char* method, const std::string& path,
                                     std::string body) const {
  HttpRequest request;
  request.method = method;
  request.url = prefix_ + path;
  request.headers.add("Authorization", authorization_);
  request.headers.add("Accept", "application/json");
  if (!body.empty()) request.headers.add("Content-Type", "application/json");
  request.body = std::move(body);
  return request;
}

void ClientCore::read_answer(const std::string& body, BatchKind kind,
                             const std::vector<std::string_view>& ids, std::size_t first,
                             std::vector<ItemResult>& out) const {
  if (read_plain_documented_answer(body, kind, ids, first, out)) return;
  const std::vector<std::string> id_strings(ids.begin(), ids.end());
  for (auto& item : parse_batch_items(parse_body(body), kind, id_strings, first)) {
    FieldErrors masked;
    for (auto& [field, messages] : item.errors) {
      auto& kept = masked[mask_token(field, options_.token)];
      for (std::string& message : messages) {
        kept.push_back(mask_token(std::move(message), options_.token));
      }
    }
    item.errors = std::move(masked);
    out.push_back(std::move(item));
  }
}

namespace {

// A log record about one attempt of a request.
LogRecord record_of(const RequestLabel& label, LogLevel level, LogEvent event) {
  LogRecord record;
  record.level = level;
  record.event = event;
  record.operation = label.operation;
  record.attempt = label.attempt;
  record.items = label.items;
  return record;
}

}  // namespace

Exchange ClientCore::send_once(const HttpRequest& request, const RequestLabel& label) {
  Exchange exchange;
  exchange.attempts = 1;
  const bool timed = logger_.enabled(LogLevel::warning);  // request_failed, or more
  const auto started =
      timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  if (logger_.enabled(LogLevel::debug)) {
    logger_.log(record_of(label, LogLevel::debug, LogEvent::request_sent));
  }
  try {
    exchange.response = transport_->send(request);
    sanitize_answer(*exchange.response, options_.token);
    record_rate_limit(exchange.response->headers);
  } catch (const TransportError& error) {
    exchange.response.reset();
    exchange.transport_error = error;
  } catch (const std::bad_alloc&) {
    exchange.response.reset();
    exchange.transport_error =
        TransportError(TransportFailure::other, "instasent: out of memory during the exchange");
  } catch (...) {
    exchange.response.reset();
    exchange.transport_error =
        TransportError(TransportFailure::other,
                       "instasent: the transport failed with an exception that is not "
                       "an instasent::TransportError");
  }
  if (timed) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    std::optional<std::string> request_id;
    if (!exchange.response) {
      LogRecord record = record_of(label, LogLevel::warning, LogEvent::request_failed);
      record.elapsed = elapsed;
      record.message = exchange.transport_error->what();
      logger_.log(record);
    } else if (logger_.enabled(LogLevel::debug)) {
      LogRecord record = record_of(label, LogLevel::debug, LogEvent::request_answered);
      record.elapsed = elapsed;
      record.http_status = exchange.response->status;
      request_id = exchange.response->headers.get("X-Request-Id");
      if (request_id) record.request_id = *request_id;
      logger_.log(record);
    }
  }
  return exchange;
}

void ClientCore::log_retry(const RequestLabel& label, const Exchange& exchange,
                           std::chrono::milliseconds delay) const {
  const bool rate_limited = exchange.response && exchange.response->status == 429;
  const LogLevel level = rate_limited ? LogLevel::warning : LogLevel::info;
  if (!logger_.enabled(level)) return;
  LogRecord record =
      record_of(label, level, rate_limited ? LogEvent::rate_limited : LogEvent::retry_scheduled);
  record.wait = delay;
  if (exchange.response) {
    record.http_status = exchange.response->status;
  } else {
    record.message = exchange.transport_error->what();
  }
  logger_.log(record);
}

Exchange ClientCore::execute(const HttpRequest& request, RequestLabel label) {
  const RetryPolicy& policy = options_.retry;
  const auto deadline = clock_->steady_now() + policy.deadline;
  Exchange exchange;
  for (int attempt = 1;; ++attempt) {
    label.attempt = attempt;
    exchange = send_once(request, label);
    exchange.attempts = attempt;
    if (exchange.response ? !is_retryable_status(exchange.response->status)
                          : !exchange.transport_error->retryable()) {
      return exchange;
    }
    if (attempt >= policy.max_attempts) return exchange;
    std::chrono::milliseconds delay = backoff_delay(policy, attempt, random());
    if (exchange.response && exchange.response->status == 429) {
      if (const auto wait = rate_limit_delay(exchange.response->headers, clock_->system_now())) {
        delay = *wait;
      }
      delay = std::min(delay, policy.max_rate_limit_wait);
    }
    if (clock_->steady_now() + delay > deadline) return exchange;
    log_retry(label, exchange, delay);
    clock_->sleep_for(delay);
  }
}

std::uint64_t ClientCore::random() {
  std::lock_guard<std::mutex> lock(mutex_);
  return rng_();
}

void ClientCore::record_rate_limit(const Headers& headers) {
  const auto limit = headers.get("X-RateLimit-Limit");
  const auto remaining = headers.get("X-RateLimit-Remaining");
  const auto reset = headers.get("X-RateLimit-Reset");
  if (!limit && !remaining && !reset) return;
  // Numbers past what a long holds, and times past 2200, are not recorded: such a header is
  // nonsense, and a wrapped-around value would be worse than none.
  const auto count = [](const std::optional<std::string>& text) -> std::optional<long> {
    if (!text) return std::nullopt;
    const auto n = parse_whole_seconds(*text);
    if (!n || *n > std::numeric_limits<long>::max()) return std::nullopt;
    return static_cast<long>(*n);
  };
  const auto limit_value = count(limit);
  const auto remaining_value = count(remaining);
  std::optional<std::chrono::system_clock::time_point> reset_value;
  if (reset) {
    if (const auto seconds = parse_whole_seconds(*reset)) {
      reset_value = unix_time(*seconds);
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (limit_value) rate_limit_.limit = limit_value;
  if (remaining_value) rate_limit_.remaining = remaining_value;
  if (reset_value) rate_limit_.reset = reset_value;
}

}  // namespace instasent::detail
