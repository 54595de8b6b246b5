// SPDX-License-Identifier: Apache-2.0
// The client's machinery, shared by Client's calls and the Ingestor: request building, one
// attempt or a retried exchange, and reading batch answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "batch_reader.hpp"
#include "fork_guard.hpp"
#include "instasent/client.hpp"
#include "log.hpp"
#include "outcome.hpp"

namespace instasent::detail {

/// Items serialized for a batch write: comma-separated in one buffer, so that each request body
/// is one slice of it.
struct SerializedBatch {
  std::string buffer;
  std::vector<std::size_t> ends;      ///< Where item i ends in `buffer` (item i+1 starts after
                                      ///< the comma that follows).
  std::vector<std::string_view> ids;  ///< Item i's id (`_user_id` or `_event_id`).
};

/// One request of a batch write: items [first, last).
struct RequestRange {
  std::size_t first = 0;
  std::size_t last = 0;
  bool operator==(const RequestRange& other) const {
    return first == other.first && last == other.last;
  }
};

/// Splits the items that end at `ends` (as in SerializedBatch) into requests, in order, of at
/// most `max_items` items and `max_bytes` bytes each (the items, their commas and the brackets).
/// Every item must fit alone (its size + 2 <= max_bytes).
std::vector<RequestRange> plan_requests(const std::vector<std::size_t>& ends, std::size_t max_items,
                                        std::size_t max_bytes);

/// What the log says about a request: the call or item operation, which attempt, how many items.
struct RequestLabel {
  const char* operation = "";
  int attempt = 1;
  std::size_t items = 0;
};

class ClientCore : private ForkAware {
 public:
  explicit ClientCore(ClientOptions options);
  ~ClientCore() override;
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;

  /// GET or DELETE `path`; throws unless the final answer is 2xx.
  HttpResponse call(const char* operation, const char* method, const std::string& path);
  /// GET `path` and read its body as a JSON object.
  JsonAnswer get_object(const char* operation, const std::string& path);
  /// POST `path` with `batch`, in as many requests as the batch limits ask; the fate of every
  /// item. Throws when a request fails as a whole, with the fate of every item as partial result.
  BatchResult write(const char* operation, const char* path, BatchKind kind,
                    const SerializedBatch& batch, const WriteOptions& write_options);

  RateLimit rate_limit() const;
  HttpRequest make_request(const char* method, const std::string& path, std::string body) const;
  /// Appends the outcome of items `ids` (input indexes from `first`) that a 2xx/422 `body`
  /// reports. The server's messages about rejected items are kept with the token masked.
  void read_answer(const std::string& body, BatchKind kind,
                   const std::vector<std::string_view>& ids, std::size_t first,
                   std::vector<ItemResult>& out) const;

  const ClientOptions& options() const noexcept { return options_; }
  const std::string& token() const noexcept { return options_.token; }
  const std::shared_ptr<Clock>& clock() const noexcept { return clock_; }

  const Logger& logger() const noexcept { return logger_; }

  /// One attempt, no retries: the answer (any status, sanitized) or the transport failure. A
  /// transport that throws anything but a TransportError (a custom one, or out of memory) fails
  /// the attempt the same way, so that only `instasent::Error`s leave the SDK. Logs the request
  /// and its answer or failure as `label` says.
  Exchange send_once(const HttpRequest& request, const RequestLabel& label);

 private:
  void before_fork() override { mutex_.lock(); }
  void after_fork_in_parent() override { mutex_.unlock(); }
  void after_fork_in_child() override { mutex_.unlock(); }

  // One request with retries, as RetryPolicy describes.
  Exchange execute(const HttpRequest& request, RequestLabel label);
  // Logs the pause before attempt `label.attempt + 1` of a request that got `exchange`.
  void log_retry(const RequestLabel& label, const Exchange& exchange,
                 std::chrono::milliseconds delay) const;
  // Records the fate of every item of a batch write whose request `failed` failed as a whole,
  // then throws the request's error carrying that result.
  [[noreturn]] void fail_batch(const char* operation, const Exchange& outcome,
                               const SerializedBatch& batch, RequestRange failed,
                               std::vector<ItemResult> items, std::vector<BatchRequest> requests);
  std::uint64_t random();
  void record_rate_limit(const Headers& headers);

  ClientOptions options_;
  std::string prefix_;  // base URL + /project/{project}/datasource/{datasource}
  std::string authorization_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mutex_;  // guards rng_ and rate_limit_
  std::mt19937_64 rng_;
  RateLimit rate_limit_;
  Logger logger_;
};

}  // namespace instasent::detail
