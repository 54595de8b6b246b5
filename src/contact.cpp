// SPDX-License-Identifier: Apache-2.0
#include "instasent/contact.hpp"

#include "ids.hpp"
#include "instasent/error.hpp"
#include "json_text.hpp"
#include "members.hpp"

namespace instasent {

namespace {

// The start of a contact's JSON object: its opening brace and `_user_id`.
void append_opening(std::string& out, std::string_view user_id) {
  out.append("{\"_user_id\":");
  detail::append_json_string(out, user_id);
}

std::string field_label(std::string_view key) {
  return "attribute '" + detail::printable_name(key) + "'";
}

void check_key(std::string_view key) {
  if (key.empty()) throw InvalidInputError("attribute name", "must not be empty");
  if (!detail::is_valid_utf8(key)) {
    throw InvalidInputError(field_label(key), "name is not valid UTF-8");
  }
}

void check_value(std::string_view key, const Value& value) {
  if (value.problem() != Value::Problem::none) {
    throw InvalidInputError(field_label(key), detail::describe(value.problem()));
  }
  if (value.kind() == Value::Kind::object || value.nested()) {
    throw InvalidInputError(field_label(key),
                            "must be a string, number, bool, null or an array of those");
  }
}

}  // namespace

Contact::Contact(std::string user_id) : user_id_(std::move(user_id)) {
  detail::check_id(user_id_, "_user_id");
  start_text();
}

void Contact::start_text() {
  constexpr std::size_t kTypicalMembers = 128;  // a few attributes: grow once, not four times
  text_.clear();
  text_.reserve(sizeof "{\"_user_id\":\"\"" + user_id_.size() + kTypicalMembers);
  append_opening(text_, user_id_);
  members_at_ = text_.size();
  keys_ = 0;
}

std::string_view Contact::members() const noexcept {
  return text_.empty() ? std::string_view() : std::string_view(text_).substr(members_at_);
}

Contact& Contact::set_reserved_text(std::string_view name, std::string_view value) {
  // The hot path of every builder: no Value, no temporary string, and for the usual text (ASCII
  // without escapes) one look at it. `name` is one of the reserved names of contact.hpp, which
  // need no escape.
  const bool plain = detail::plain_ascii_length(value) == value.size();
  if (!plain && !detail::is_valid_utf8(value)) {
    throw InvalidInputError(std::string(name), "is not valid UTF-8");
  }
  if (text_.empty()) start_text();
  detail::set_member(text_, members_at_, keys_, name, detail::KeyText::plain,
                     [value, plain](std::string& out) {
                       if (plain) {
                         out.push_back('"');
                         out.append(value);
                         out.push_back('"');
                       } else {
                         detail::append_json_string(out, value);
                       }
                     });
  return *this;
}

void Contact::set_encoded(std::string_view key, const std::string& json) {
  if (text_.empty()) start_text();
  detail::set_member(text_, members_at_, keys_, key, detail::KeyText::any,
                     [&json](std::string& out) { out.append(json); });
}

Contact& Contact::reserved(std::string_view name, const Value& value) {
  check_key(name);
  if (name.front() != '_') {
    throw InvalidInputError(
        field_label(name),
        "is not a reserved name (reserved names start with '_'); use attribute()");
  }
  if (name == "_user_id") throw InvalidInputError("_user_id", "is set by the constructor");
  check_value(name, value);
  set_encoded(name, value.json());
  return *this;
}

Contact& Contact::attribute(std::string_view key, const Value& value) {
  check_key(key);
  if (key.front() == '_') {
    throw InvalidInputError(
        field_label(key), "starts with '_', which is kept for reserved attributes; use reserved()");
  }
  check_value(key, value);
  set_encoded(key, value.json());
  return *this;
}

Contact& Contact::clear(std::string_view key) {
  check_key(key);
  return key.front() == '_' ? reserved(key, nullptr) : attribute(key, nullptr);
}

void Contact::append_json(std::string& out) const {
  if (text_.empty()) {  // moved from
    append_opening(out, user_id_);
  } else {
    out.append(text_);
  }
  out.push_back('}');
}

void Contact::append_attributes_json(std::string& out) const {
  out.push_back('{');
  const std::string_view attributes = members();
  if (!attributes.empty()) out.append(attributes.substr(1));  // without the first ','
  out.push_back('}');
}

std::string Contact::to_json() const& {
  std::string out;
  out.reserve(text_.size() + 1);
  append_json(out);
  return out;
}

std::string Contact::to_json() && {
  // A queued contact keeps this text while it waits, and the queue's bounds count its bytes: a
  // small contact sheds the room reserved for more attributes.
  constexpr std::size_t kMaxSpareBytes = 64;
  if (text_.empty()) start_text();
  text_.push_back('}');
  if (text_.capacity() - text_.size() > kMaxSpareBytes) text_.shrink_to_fit();
  std::string json = std::move(text_);
  text_.clear();
  return json;
}

}  // namespace instasent
