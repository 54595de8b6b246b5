// SPDX-License-Identifier: Apache-2.0
// The client's machinery, shared by Client's calls and the Ingestor: request building, one
// attempt or a retried exchange, and reading batch answers.
#pragma once

#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "batch_reader.hpp"
#include "fork_guard.hpp"
#include "instasent/client.hpp"
#include "instasent/error.hpp"
#include "outcome.hpp"
#include "retry_logic.hpp"
#include "strings.hpp"

namespace instasent {

class Client::Impl : private detail::ForkAware {
 public:
  explicit Impl(ClientOptions options);
  ~Impl() override { detail::unregister_fork_aware(this); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // GET or DELETE `path`; throws unless the final answer is 2xx.
  HttpResponse call(const char* operation, const char* method, const std::string& path) {
    const detail::Outcome outcome = execute(make_request(method, path, std::string()));
    if (!outcome.response || !detail::is_success(outcome.response->status)) {
      detail::raise(operation, outcome, options_.token);
    }
    return *outcome.response;
  }

  // GET `path` and read its body as a JSON object.
  detail::JsonAnswer get_object(const char* operation, const std::string& path) {
    detail::JsonAnswer answer{nlohmann::json(), call(operation, "GET", path)};
    answer.body = detail::parse_body(answer.response.body);
    if (!answer.body.is_object()) {
      detail::raise_unreadable(operation, answer.response, "answer is not a JSON object");
    }
    return answer;
  }

  template <typename Item, typename IdOf>
  BatchResult write(const char* operation, const char* path, BatchKind kind,
                    const std::vector<Item>& items, const WriteOptions& write_options, IdOf id_of) {
    // Serialize every item once, comma-separated, so that each request body is one slice.
    std::string buffer;
    std::vector<std::size_t> ends(items.size());
    const auto begin_of = [&](std::size_t i) { return i == 0 ? 0 : ends[i - 1] + 1; };
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (id_of(items[i]).empty()) {
        throw InvalidInputError(kind == BatchKind::events ? "_event_id" : "_user_id",
                                kind == BatchKind::events
                                    ? "is empty (set it with event_id(), or send through the "
                                      "Ingestor, which generates one)"
                                    : "is empty (a moved-from item?)",
                                static_cast<long>(i));
      }
      if (i != 0) buffer.push_back(',');
      items[i].append_json(buffer);
      ends[i] = buffer.size();
      const std::size_t size = ends[i] - begin_of(i);
      if (size + 2 > options_.max_batch_bytes) {
        throw InvalidInputError(
            "item",
            "serializes to " + std::to_string(size) + " bytes, more than max_batch_bytes allows",
            static_cast<long>(i));
      }
    }

    std::string target = prefix_ + path;
    if (write_options.sync) target += "?_sync";
    if (write_options.dry_run) target += write_options.sync ? "&_dryRun" : "?_dryRun";

    BatchResult result;
    result.mutable_items().reserve(items.size());
    std::size_t first = 0;
    while (first < items.size()) {
      std::size_t last = first;  // one past the request's last item
      while (last < items.size() && last - first < options_.max_batch_items &&
             ends[last] - begin_of(first) + 2 <= options_.max_batch_bytes) {
        ++last;
      }
      std::string body;
      body.reserve(ends[last - 1] - begin_of(first) + 2);
      body.push_back('[');
      body.append(buffer, begin_of(first), ends[last - 1] - begin_of(first));
      body.push_back(']');
      std::vector<std::string_view> ids;
      ids.reserve(last - first);
      for (std::size_t i = first; i < last; ++i) ids.emplace_back(id_of(items[i]));

      HttpRequest request = make_request("POST", std::string(), std::move(body));
      request.url = target;
      detail::Outcome outcome = execute(request);
      if (outcome.response &&
          (detail::is_success(outcome.response->status) || outcome.response->status == 422)) {
        HttpResponse& response = *outcome.response;
        read_answer(response.body, kind, ids, first, result.mutable_items());
        result.mutable_requests().push_back(BatchRequest{
            first, last - first, response.status, response.headers.get("X-Request-Id").value_or(""),
            std::move(response.body)});
        first = last;
        continue;
      }
      fail_batch(operation, outcome, items, id_of, first, last, result);
    }
    return result;
  }

  RateLimit rate_limit() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rate_limit_;
  }

  HttpRequest make_request(const char* method, const std::string& path, std::string body) const {
    HttpRequest request;
    request.method = method;
    request.url = prefix_ + path;
    request.headers.add("Authorization", authorization_);
    request.headers.add("Accept", "application/json");
    if (!body.empty()) request.headers.add("Content-Type", "application/json");
    request.body = std::move(body);
    return request;
  }

  // Appends the outcome of items `ids` (input indexes from `first`) that a 2xx/422 `body` reports.
  // The server's messages about rejected items are kept with the token masked.
  void read_answer(const std::string& body, BatchKind kind,
                   const std::vector<std::string_view>& ids, std::size_t first,
                   std::vector<ItemResult>& out) const {
    if (detail::read_plain_documented_answer(body, kind, ids, first, out)) return;
    const std::vector<std::string> id_strings(ids.begin(), ids.end());
    for (auto& item : parse_batch_items(detail::parse_body(body), kind, id_strings, first)) {
      FieldErrors masked;
      for (auto& [field, messages] : item.errors) {
        auto& kept = masked[detail::mask_token(field, options_.token)];
        for (std::string& message : messages) {
          kept.push_back(detail::mask_token(std::move(message), options_.token));
        }
      }
      item.errors = std::move(masked);
      out.push_back(std::move(item));
    }
  }

  const std::string& token() const noexcept { return options_.token; }
  const std::shared_ptr<Clock>& clock() const noexcept { return clock_; }

  // One attempt, no retries: the answer (any status, sanitized) or the transport failure. A
  // transport that throws anything but a TransportError (a custom one, or out of memory) fails
  // the attempt the same way, so that only `instasent::Error`s leave the SDK.
  detail::Outcome send_once(const HttpRequest& request) {
    detail::Outcome outcome;
    outcome.attempts = 1;
    try {
      outcome.response = transport_->send(request);
      detail::sanitize_answer(*outcome.response, options_.token);
      record_rate_limit(outcome.response->headers);
    } catch (const TransportError& error) {
      outcome.response.reset();
      outcome.transport_error = error;
    } catch (const std::bad_alloc&) {
      outcome.response.reset();
      outcome.transport_error =
          TransportError(TransportFailure::other, "instasent: out of memory during the exchange");
    } catch (...) {
      outcome.response.reset();
      outcome.transport_error =
          TransportError(TransportFailure::other,
                         "instasent: the transport failed with an exception that is not "
                         "an instasent::TransportError");
    }
    return outcome;
  }

 private:
  void before_fork() override { mutex_.lock(); }
  void after_fork_in_parent() override { mutex_.unlock(); }
  void after_fork_in_child() override { mutex_.unlock(); }

  // One request with retries, as RetryPolicy describes.
  detail::Outcome execute(const HttpRequest& request) {
    const RetryPolicy& policy = options_.retry;
    const auto deadline = clock_->steady_now() + policy.deadline;
    detail::Outcome outcome;
    for (int attempt = 1;; ++attempt) {
      outcome = send_once(request);
      outcome.attempts = attempt;
      if (outcome.response ? !detail::is_retryable_status(outcome.response->status)
                           : !outcome.transport_error->retryable()) {
        return outcome;
      }
      if (attempt >= policy.max_attempts) return outcome;
      std::chrono::milliseconds delay = detail::backoff_delay(policy, attempt, random());
      if (outcome.response && outcome.response->status == 429) {
        if (const auto wait =
                detail::rate_limit_delay(outcome.response->headers, clock_->system_now())) {
          delay = *wait;
        }
        delay = std::min(delay, policy.max_rate_limit_wait);
      }
      if (clock_->steady_now() + delay > deadline) return outcome;
      clock_->sleep_for(delay);
    }
  }

  // Records the fate of every item of a batch write whose request [first, last) failed as a
  // whole, then throws the request's error carrying that result.
  template <typename Item, typename IdOf>
  [[noreturn]] void fail_batch(const char* operation, const detail::Outcome& outcome,
                               const std::vector<Item>& items, IdOf id_of, std::size_t first,
                               std::size_t last, BatchResult& result) {
    const bool maybe_processed = outcome.response ? outcome.response->status >= 500
                                                  : outcome.transport_error->maybe_delivered();
    const std::string reason =
        outcome.response ? "request failed with HTTP " + std::to_string(outcome.response->status)
                         : std::string("request failed: ") + outcome.transport_error->what();
    for (std::size_t i = first; i < items.size(); ++i) {
      ItemResult item;
      item.index = i;
      item.id = id_of(items[i]);
      if (i < last) {
        item.status = maybe_processed ? ItemStatus::unknown : ItemStatus::not_sent;
        item.errors[""].push_back(reason);
      } else {
        item.status = ItemStatus::not_sent;
        item.errors[""].push_back("not sent: an earlier request of this call failed");
      }
      result.mutable_items().push_back(std::move(item));
    }
    if (outcome.response) {
      result.mutable_requests().push_back(BatchRequest{
          first, last - first, outcome.response->status,
          outcome.response->headers.get("X-Request-Id").value_or(""), outcome.response->body});
    } else {
      result.mutable_requests().push_back(BatchRequest{first, last - first, 0, {}, {}});
    }
    detail::raise(operation, outcome, options_.token,
                  std::make_shared<const BatchResult>(std::move(result)));
  }

  std::uint64_t random() {
    std::lock_guard<std::mutex> lock(mutex_);
    return rng_();
  }

  void record_rate_limit(const Headers& headers) {
    const auto limit = headers.get("X-RateLimit-Limit");
    const auto remaining = headers.get("X-RateLimit-Remaining");
    const auto reset = headers.get("X-RateLimit-Reset");
    if (!limit && !remaining && !reset) return;
    // Numbers past what a long holds, and times past 2200, are not recorded: such a header is
    // nonsense, and a wrapped-around value would be worse than none.
    const auto count = [](const std::optional<std::string>& text) -> std::optional<long> {
      if (!text) return std::nullopt;
      const auto n = detail::parse_whole_seconds(*text);
      if (!n || *n > std::numeric_limits<long>::max()) return std::nullopt;
      return static_cast<long>(*n);
    };
    const auto limit_value = count(limit);
    const auto remaining_value = count(remaining);
    std::optional<std::chrono::system_clock::time_point> reset_value;
    if (reset) {
      if (const auto seconds = detail::parse_whole_seconds(*reset)) {
        reset_value = detail::unix_time(*seconds);
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (limit_value) rate_limit_.limit = limit_value;
    if (remaining_value) rate_limit_.remaining = remaining_value;
    if (reset_value) rate_limit_.reset = reset_value;
  }

  ClientOptions options_;
  std::string prefix_;  // base URL + /project/{project}/datasource/{datasource}
  std::string authorization_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mutex_;  // guards rng_ and rate_limit_
  std::mt19937_64 rng_;
  RateLimit rate_limit_;
};

}  // namespace instasent
