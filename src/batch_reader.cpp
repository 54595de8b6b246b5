// SPDX-License-Identifier: Apache-2.0
#include "batch_reader.hpp"

#include "instasent/limits.hpp"
#include "json_text.hpp"
#include "outcome.hpp"

namespace instasent::detail {

namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxNumberLength = 64;

// A strict JSON scanner over the plain subset described in the header. Every method returns
// false on anything outside it; the caller then gives up on the whole body.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  // A string without escapes or non-ASCII bytes; `out` views its content.
  bool string(std::string_view& out) {
    if (!consume('"')) return false;
    const std::size_t start = pos_;
    pos_ += plain_ascii_length(text_.substr(pos_));
    if (pos_ == text_.size() || text_[pos_] != '"') return false;  // an escape, or not ASCII
    out = text_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }

  bool number() {
    skip_space();
    const std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size()) return false;
    if (text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    // An exponent, or hundreds of digits, could overflow a double, which the full reader refuses:
    // leave such numbers to it.
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) return false;
    return pos_ - start <= kMaxNumberLength;
  }

  bool literal(std::string_view word) {
    skip_space();
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool skip_value(int depth) {
    if (depth > kMaxDepth) return false;
    skip_space();
    if (pos_ >= text_.size()) return false;
    switch (text_[pos_]) {
      case '"': {
        std::string_view ignored;
        return string(ignored);
      }
      case '{': {
        ++pos_;
        if (consume('}')) return true;
        do {
          std::string_view key;
          if (!string(key) || !consume(':') || !skip_value(depth + 1)) return false;
        } while (consume(','));
        return consume('}');
      }
      case '[': {
        ++pos_;
        if (consume(']')) return true;
        do {
          if (!skip_value(depth + 1)) return false;
        } while (consume(','));
        return consume(']');
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }

 private:
  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// What one answer item says, as the DOM reader would judge it.
bool read_item(Scanner& in, std::string_view id_key, std::string_view expected_id,
               ItemStatus& status) {
  if (!in.consume('{')) return false;
  bool seen_status = false;
  bool seen_id = false;
  bool status_is_success = false;
  bool status_is_string = false;
  bool id_matches = true;
  if (!in.consume('}')) {
    do {
      std::string_view key;
      if (!in.string(key) || !in.consume(':')) return false;
      if (key == "status") {
        if (seen_status) return false;
        seen_status = true;
        if (in.peek('"')) {
          std::string_view value;
          if (!in.string(value)) return false;
          if (value == "error") return false;  // rejected items: leave them to the full reader
          status_is_string = true;
          status_is_success = value == "success";
        } else if (!in.skip_value(2)) {
          return false;
        }
      } else if (key == id_key) {
        if (seen_id) return false;
        seen_id = true;
        if (in.peek('"')) {
          std::string_view value;
          if (!in.string(value)) return false;
          id_matches = value == expected_id;
        } else {
          if (!in.skip_value(2)) return false;
          id_matches = false;
        }
      } else if (!in.skip_value(2)) {
        return false;
      }
    } while (in.consume(','));
    if (!in.consume('}')) return false;
  }
  status = id_matches && status_is_string && status_is_success ? ItemStatus::accepted
                                                               : ItemStatus::unknown;
  return true;
}

// The tolerant reader, for every shape: parse_batch_items.

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

bool read_plain_statuses(std::string_view body, BatchKind kind,
                         const std::vector<std::string_view>& ids,
                         std::vector<ItemStatus>& statuses) {
  const std::string_view id_key = kind == BatchKind::events ? "_event_id" : "_user_id";
  statuses.clear();
  statuses.reserve(ids.size());
  Scanner in(body);
  bool seen_entity = false;
  bool seen_items = false;
  if (!in.consume('{')) return false;
  if (!in.consume('}')) {
    do {
      std::string_view key;
      if (!in.string(key) || !in.consume(':')) return false;
      if (key != "entity") {
        if (!in.skip_value(1)) return false;
        continue;
      }
      if (seen_entity || !in.consume('{')) return false;
      seen_entity = true;
      if (in.consume('}')) continue;
      do {
        std::string_view entity_key;
        if (!in.string(entity_key) || !in.consume(':')) return false;
        if (entity_key != "items") {
          if (!in.skip_value(2)) return false;
          continue;
        }
        if (seen_items || !in.consume('[')) return false;
        seen_items = true;
        if (in.consume(']')) continue;
        do {
          ItemStatus status = ItemStatus::unknown;
          const std::size_t i = statuses.size();
          if (!read_item(in, id_key, i < ids.size() ? ids[i] : std::string_view(), status)) {
            return false;
          }
          statuses.push_back(status);
        } while (in.consume(','));
        if (!in.consume(']')) return false;
      } while (in.consume(','));
      if (!in.consume('}')) return false;
    } while (in.consume(','));
    if (!in.consume('}')) return false;
  }
  if (!in.at_end() || !seen_items) return false;
  // Another count of items than of ids: none can be matched, all are unknown.
  if (statuses.size() != ids.size()) statuses.assign(ids.size(), ItemStatus::unknown);
  return true;
}

bool read_plain_documented_answer(std::string_view body, BatchKind kind,
                                  const std::vector<std::string_view>& ids, std::size_t first_index,
                                  std::vector<ItemResult>& out) {
  std::vector<ItemStatus> statuses;
  if (!read_plain_statuses(body, kind, ids, statuses)) return false;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ItemResult& item = out.emplace_back();
    item.index = first_index + i;
    item.id.assign(ids[i]);
    item.status = statuses[i];
  }
  return true;
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

}  // namespace instasent::detail
