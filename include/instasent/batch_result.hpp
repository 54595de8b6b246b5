// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/export.hpp"

namespace instasent {

/// The fate of one input item of a batch write.
enum class ItemStatus {
  accepted,  ///< The server reported success for this item.
  rejected,  ///< The server refused this item; `errors` says why. Fix it before resending.
  unknown,   ///< Sent, but the answer did not say what became of it (unreadable body, items that
             ///< do not match the input, a timeout or server error after retries). It may or may
             ///< not be stored: resending is safe (upserts and `_event_id` are idempotent).
  not_sent,  ///< Never accepted for processing: its request was refused as a whole (400, 401,
             ///< 404, 429 after retries, connection failure) or was not sent because an earlier
             ///< one failed. `errors` holds the request-level message under the key "".
};

/// The status's name as spelled in the enumeration, e.g. "not_sent".
INSTASENT_EXPORT const char* to_string(ItemStatus status) noexcept;

/// Field name -> messages, e.g. {"_email": ["Invalid format"]}. A message that is not tied to a
/// field is kept under the empty key "".
using FieldErrors = std::map<std::string, std::vector<std::string>>;

/// The fate of one input item of a batch write: an element of `BatchResult::items()`.
struct ItemResult {
  std::size_t index = 0;  ///< Position in the caller's input.
  std::string id;         ///< The input's `_user_id` (contacts) or `_event_id` (events).
  ItemStatus status = ItemStatus::unknown;  ///< What became of it.
  /// Why a `rejected` item was refused, as the server said it; for an item of a request that
  /// failed as a whole, the reason under the key "". Empty for an `accepted` item. Bounded as
  /// `kMaxErrorFields` says.
  FieldErrors errors;
};

/// One HTTP exchange a batch write made (after retries), with the raw body for anything this SDK
/// does not model.
struct INSTASENT_EXPORT BatchRequest {
  std::size_t first_index = 0;  ///< Input index of the request's first item.
  std::size_t item_count = 0;   ///< How many input items the request carried.
  int http_status = 0;          ///< 0 when no answer was received.
  std::string request_id;       ///< The answer's `X-Request-Id`; empty when there was none.
  std::string body;             ///< The answer's body as received (empty when there was none).

  /// `body` parsed; null when it is empty or not JSON.
  nlohmann::json parsed_body() const;
};

/// The outcome of a batch write: `items()[i]` is the fate of input item `i`, however many requests
/// the call was split into. An item is reported `accepted` only when the server's answer says so
/// for exactly that item.
///
/// Walking the per-item results of `Client::upsert_contacts`:
/// @code
/// const std::vector<instasent::Contact> contacts = load_contacts();
/// const instasent::BatchResult result = client.upsert_contacts(contacts);
/// std::vector<instasent::Contact> resend;
/// for (const instasent::ItemResult& item : result.items()) {
///   if (item.status == instasent::ItemStatus::rejected) {  // fix it first: it would fail again
///     for (const auto& [field, messages] : item.errors) {
///       for (const std::string& message : messages) {
///         std::cerr << item.id << ": " << field << ": " << message << '\n';
///       }
///     }
///   } else if (item.status != instasent::ItemStatus::accepted) {  // unknown or not_sent
///     resend.push_back(contacts[item.index]);  // safe: an upsert is idempotent
///   }
/// }
/// @endcode
class INSTASENT_EXPORT BatchResult {
 public:
  BatchResult() = default;
  /// A result made of its parts: `items` in input order, `requests` in the order sent. The
  /// client builds these; a test may too.
  BatchResult(std::vector<ItemResult> items, std::vector<BatchRequest> requests)
      : items_(std::move(items)), requests_(std::move(requests)) {}

  /// The fate of every input item: `items()[i]` is that of input `i`.
  const std::vector<ItemResult>& items() const noexcept { return items_; }
  /// The requests the call made, in the order sent, each after its retries.
  const std::vector<BatchRequest>& requests() const noexcept { return requests_; }
  /// The number of input items.
  std::size_t size() const noexcept { return items_.size(); }
  /// `items().at(i)`: throws `std::out_of_range` when `i` is not less than `size()`.
  const ItemResult& operator[](std::size_t i) const { return items_.at(i); }

  /// How many items have `status`.
  std::size_t count(ItemStatus status) const noexcept;
  /// Items the server rejected, in input order.
  std::vector<ItemResult> failed() const { return with_status(ItemStatus::rejected); }
  /// Copies of the items that have `status`, in input order.
  std::vector<ItemResult> with_status(ItemStatus status) const;
  /// True when every item was accepted (and when there are none).
  bool all_accepted() const noexcept { return count(ItemStatus::accepted) == items_.size(); }

 private:
  std::vector<ItemResult> items_;
  std::vector<BatchRequest> requests_;
};

}  // namespace instasent
