// SPDX-License-Identifier: Apache-2.0
// Checks of the option groups that Client and Ingestor share; each throws InvalidInputError
// naming the first field that cannot work ("batch.max_items", "retry.multiplier").
#pragma once

#include "instasent/options.hpp"
#include "instasent/retry.hpp"

namespace instasent::detail {

void check_batch_limits(const BatchLimits& batch);
/// Every field but `deadline` (whose use differs); attempts from 1 to `max_attempts`.
void check_retry_policy(const RetryPolicy& retry, int max_attempts);

}  // namespace instasent::detail
