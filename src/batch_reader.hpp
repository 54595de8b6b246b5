// SPDX-License-Identifier: Apache-2.0
// Reading the answers to batch writes: every shape the API uses, and a fast reader for the
// common 202, so that reading it costs far less than building a DOM.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/batch_result.hpp"

namespace instasent::detail {

/// Which id a batch's items carry in the server's answer.
enum class BatchKind { contacts, events };

/// Reads one 202/422 answer for `ids.size()` input items whose ids are `ids` and whose first input
/// index is `first_index`, in either shape the API uses: the documented
/// `{"entity": {"items": [...]}}` or the connectors' `{"accepted": [...], "errors": [...]}`.
/// Items the body does not account for unambiguously are `unknown`; this never throws.
std::vector<ItemResult> parse_batch_items(const nlohmann::json& body, BatchKind kind,
                                          const std::vector<std::string>& ids,
                                          std::size_t first_index);

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

/// The same reading, for the statuses alone: one per id, in order, in `statuses` (replacing what
/// it held), as `read_plain_documented_answer` would give them. False for anything else, as above.
bool read_plain_statuses(std::string_view body, BatchKind kind,
                         const std::vector<std::string_view>& ids,
                         std::vector<ItemStatus>& statuses);

}  // namespace instasent::detail
