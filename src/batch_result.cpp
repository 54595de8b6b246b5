// SPDX-License-Identifier: Apache-2.0
#include "instasent/batch_result.hpp"

#include "instasent/limits.hpp"
#include "json_text.hpp"
#include "outcome.hpp"

namespace instasent {

namespace {

using nlohmann::json;

// Reads a server error description into field -> messages. Accepts {"field": ["msg", ...]},
// {"field": "msg"}, a plain string (kept under ""), or an array of strings (kept under ""). What is
// kept is bounded and printable (limits.hpp); what is left out is counted under "".
FieldErrors read_errors(const json& errors) {
  FieldErrors out;
  std::size_t left_out = 0;
  const auto text = [](const json& message) {
    return detail::printable_name(
        message.is_string() ? message.get_ref<const std::string&>()
                            : message.dump(-1, ' ', false, json::error_handler_t::replace),
        kMaxErrorMessageBytes);
  };
  const auto add = [&](const std::string& field, const json& messages) {
    const std::string name = detail::printable_name(field, kMaxErrorFieldBytes);
    if (out.count(name) == 0 && out.size() >= kMaxErrorFields) {
      left_out += messages.is_array() ? messages.size() : 1;
      return;
    }
    auto& list = out[name];
    const auto keep = [&](const json& message) {
      if (list.size() < kMaxMessagesPerField) {
        list.push_back(text(message));
      } else {
        ++left_out;
      }
    };
    if (messages.is_array()) {
      for (const auto& message : messages) keep(message);
    } else if (!messages.is_null()) {
      keep(messages);
    }
  };
  if (errors.is_object()) {
    for (auto it = errors.begin(); it != errors.end(); ++it) add(it.key(), it.value());
  } else if (errors.is_string() || errors.is_array()) {
    add("", errors);
  }
  if (left_out > 0) {
    out[""].push_back("(" + std::to_string(left_out) + " more errors not kept)");
  }
  if (out.empty()) out[""].push_back("rejected without a reason");
  return out;
}

// The id an answer item names for this kind of batch, or nullptr when it names none.
const json* answer_id(const json& item, BatchKind kind) {
  if (!item.is_object()) return nullptr;
  const char* key = kind == BatchKind::events ? "_event_id" : "_user_id";
  const auto it = item.find(key);
  return it == item.end() ? nullptr : &*it;
}

// An answer item may name the id it is about; if it names a different one, it is not about
// our input item and must not decide its fate.
bool id_matches(const json& item, BatchKind kind, const std::string& id) {
  const json* named = answer_id(item, kind);
  return named == nullptr || (named->is_string() && named->get_ref<const std::string&>() == id);
}

void read_documented_shape(const json& items, BatchKind kind, std::vector<ItemResult>& out) {
  if (!items.is_array() || items.size() != out.size()) return;  // cannot be matched: all unknown
  for (std::size_t i = 0; i < out.size(); ++i) {
    const json& item = items[i];
    if (!item.is_object() || !id_matches(item, kind, out[i].id)) continue;
    const auto status = item.find("status");
    if (status == item.end() || !status->is_string()) continue;
    const auto& text = status->get_ref<const std::string&>();
    if (text == "success") {
      out[i].status = ItemStatus::accepted;
    } else if (text == "error") {
      out[i].status = ItemStatus::rejected;
      const auto errors = item.find("errors");
      out[i].errors = read_errors(errors == item.end() ? json() : *errors);
    }
  }
}

void read_connector_shape(const json& body, BatchKind kind, std::vector<ItemResult>& out) {
  // Every input position must be claimed exactly once; anything else stays unknown.
  std::vector<int> claims(out.size(), 0);
  std::vector<ItemResult> claimed = out;
  const auto read = [&](const json& list, bool accepted) {
    if (!list.is_array()) return;
    for (const auto& entry : list) {
      if (!entry.is_object()) continue;
      const auto position = entry.find("position");
      if (position == entry.end() || !position->is_number_integer()) continue;
      const auto index = position->get<long long>();
      if (index < 0 || static_cast<unsigned long long>(index) >= out.size()) continue;
      const auto i = static_cast<std::size_t>(index);
      ++claims[i];
      const auto item = entry.find("item");
      if (item != entry.end() && !id_matches(*item, kind, out[i].id)) {
        ++claims[i];  // about another item: make this position ambiguous
        continue;
      }
      if (accepted) {
        claimed[i].status = ItemStatus::accepted;
      } else {
        claimed[i].status = ItemStatus::rejected;
        const auto error = entry.find("error");
        claimed[i].errors = read_errors(error == entry.end() ? json() : *error);
      }
    }
  };
  if (const auto it = body.find("accepted"); it != body.end()) read(*it, true);
  if (const auto it = body.find("errors"); it != body.end()) read(*it, false);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (claims[i] == 1) out[i] = std::move(claimed[i]);
  }
}

}  // namespace

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

json BatchRequest::parsed_body() const { return detail::parse_body(body); }

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

std::vector<ItemResult> parse_batch_items(const json& body, BatchKind kind,
                                          const std::vector<std::string>& ids,
                                          std::size_t first_index) {
  std::vector<ItemResult> out(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out[i].index = first_index + i;
    out[i].id = ids[i];
  }
  if (!body.is_object()) return out;
  if (const auto entity = body.find("entity"); entity != body.end() && entity->is_object()) {
    if (const auto items = entity->find("items"); items != entity->end()) {
      read_documented_shape(*items, kind, out);
    }
  } else if (body.contains("accepted") || body.contains("errors")) {
    read_connector_shape(body, kind, out);
  }
  return out;
}

}  // namespace instasent
