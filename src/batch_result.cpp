// SPDX-License-Identifier: Apache-2.0
#include "instasent/batch_result.hpp"

#include "outcome.hpp"

namespace instasent {

const char* to_string(ItemStatus status) noexcept {
  switch (status) {
    case ItemStatus::accepted:
      return "accepted";
    case ItemStatus::rejected:
      return "rejected";
    case ItemStatus::unknown:
      return "unknown";
    case ItemStatus::not_sent:
      return "not_sent";
  }
  return "unknown";
}

nlohmann::json BatchRequest::parsed_body() const { return detail::parse_body(body); }

std::size_t BatchResult::count(ItemStatus status) const noexcept {
  std::size_t n = 0;
  for (const auto& item : items_) n += item.status == status ? 1 : 0;
  return n;
}

std::vector<ItemResult> BatchResult::with_status(ItemStatus status) const {
  std::vector<ItemResult> out;
  for (const auto& item : items_) {
    if (item.status == status) out.push_back(item);
  }
  return out;
}

}  // namespace instasent
