// SPDX-License-Identifier: Apache-2.0
// One request of the Ingestor: a batch in, the server's verdict on each item out.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "client_core.hpp"
#include "delivery_queue.hpp"

namespace instasent::detail {

/// What one batch request came to.
struct BatchReply {
  std::vector<Verdict> verdicts;  ///< One per item of the batch, in its order.
  /// A 429 asked every sender to wait this long (0: it gave no usable time).
  std::optional<std::chrono::milliseconds> pause;
  bool request_failed = false;  ///< No usable answer: the items are to be sent again.
  /// 401, or 404 to a batch: the server refused the credentials or the stream (0: it did not).
  int refused_status = 0;
  std::size_t body_bytes = 0;  ///< Of the request sent.
  /// What the answer said is left of the rate limit (X-RateLimit-Remaining and -Reset).
  std::optional<Allowance> allowance;
};

/// Sends `batch` through `client` once (no retries: the Ingestor schedules them), with `?_dryRun`
/// when `dry_run`, and reads what became of each item. Never throws: running out of memory fails
/// the request like a dropped connection.
BatchReply exchange_batch(ClientCore& client, const Batch& batch, bool dry_run) noexcept;

}  // namespace instasent::detail
