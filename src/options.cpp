// SPDX-License-Identifier: Apache-2.0
#include "instasent/options.hpp"

#include <cstdlib>
#include <string>

#include "instasent/error.hpp"
#include "option_checks.hpp"

namespace instasent {

namespace {

void read_env(const char* name, std::string& into) {
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') into = value;
}

}  // namespace

ClientOptions ClientOptions::from_env() {
  ClientOptions options;
  read_env("INSTASENT_PROJECT", options.project);
  read_env("INSTASENT_DATASOURCE", options.datasource);
  read_env("INSTASENT_TOKEN", options.token);
  read_env("INSTASENT_BASE_URL", options.base_url);
  return options;
}

namespace detail {

void check_batch_limits(const BatchLimits& batch) {
  if (batch.max_items < 1 || batch.max_items > kMaxBatchItems) {
    throw InvalidInputError("batch.max_items", "must be between 1 and 100");
  }
  if (batch.max_bytes < 64) throw InvalidInputError("batch.max_bytes", "must be at least 64");
}

void check_retry_policy(const RetryPolicy& retry, int max_attempts) {
  if (retry.max_attempts < 1 || retry.max_attempts > max_attempts) {
    throw InvalidInputError("retry.max_attempts",
                            "must be between 1 and " + std::to_string(max_attempts));
  }
  if (retry.initial_backoff < std::chrono::milliseconds(0)) {
    throw InvalidInputError("retry.initial_backoff", "must not be negative");
  }
  if (retry.max_backoff < retry.initial_backoff) {
    throw InvalidInputError("retry.max_backoff", "must not be less than retry.initial_backoff");
  }
  if (!(retry.multiplier >= 1.0 && retry.multiplier <= 1000.0)) {
    throw InvalidInputError("retry.multiplier", "must be between 1 and 1000");
  }
  if (retry.max_rate_limit_wait < std::chrono::milliseconds(0)) {
    throw InvalidInputError("retry.max_rate_limit_wait", "must not be negative");
  }
}

}  // namespace detail

}  // namespace instasent
