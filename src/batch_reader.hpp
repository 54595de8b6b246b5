// SPDX-License-Identifier: Apache-2.0
// A fast reader for the common 202 answer, so that reading it costs far less than building a DOM.
#pragma once

#include <string_view>
#include <vector>

#include "instasent/batch_result.hpp"

namespace instasent::detail {

/// Reads `body` when it is in the documented shape, `{"entity": {"items": [...]}}`, every item an
/// object whose `status` is not "error", with no escapes and only ASCII in its strings: the answer
/// to a batch that went through. Appends one result per id to `out` and returns true; the results
/// are exactly what `parse_batch_items` gives for the same body.
///
/// Returns false, appending nothing, for anything else (another shape, rejected items, syntax
/// errors, escapes, non-ASCII text, duplicate keys, deep nesting, numbers with an exponent): the
/// caller then falls back to `parse_batch_items`, which reads every case.
bool read_plain_documented_answer(std::string_view body, BatchKind kind,
                                  const std::vector<std::string_view>& ids, std::size_t first_index,
                                  std::vector<ItemResult>& out);

}  // namespace instasent::detail
