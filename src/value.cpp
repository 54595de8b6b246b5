// SPDX-License-Identifier: Apache-2.0
#include "instasent/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "json_text.hpp"

namespace instasent {

namespace {

template <typename Number>
void append_number(std::string& out, Number n) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, n);
  out.append(buffer, result.ptr);
}

}  // namespace

void Value::set_integer(std::int64_t n) { append_number(json_, n); }

void Value::set_unsigned(std::uint64_t n) { append_number(json_, n); }

Value::Value(double d) : kind_(Kind::floating) {
  if (!std::isfinite(d)) {
    problem_ = Problem::not_finite;
    return;
  }
  append_number(json_, d);  // shortest text that reads back as the same double
  if (json_.find_first_of(".e") == std::string::npos) json_.append(".0");
}

Value::Value(std::string_view s) : kind_(Kind::string) {
  if (!detail::is_valid_utf8(s)) {
    problem_ = Problem::invalid_utf8;
    return;
  }
  json_.reserve(s.size() + 2);
  detail::append_json_string(json_, s);
}

Value::Value(std::initializer_list<Value> items) : kind_(Kind::array) {
  encode_array(items.begin(), items.end());
}

// Notes a member of this array or object: its problem, if this has none yet, and its depth.
void Value::take_member(const Value& member) {
  if (member.problem_ != Problem::none && problem_ == Problem::none) problem_ = member.problem_;
  depth_ = std::max(depth_, member.depth_ + 1);
  if (depth_ > kMaxValueDepth && problem_ == Problem::none) problem_ = Problem::too_deep;
}

template <typename It>
void Value::encode_array(It first, It last) {
  depth_ = 1;
  json_.push_back('[');
  for (It it = first; it != last; ++it) {
    if (it != first) json_.push_back(',');
    take_member(*it);
    json_.append(it->json_);
  }
  json_.push_back(']');
}

Value Value::array(const std::vector<Value>& items) {
  Value value;
  value.kind_ = Kind::array;
  value.json_.clear();
  value.encode_array(items.begin(), items.end());
  return value;
}

Value Value::object(const std::vector<std::pair<std::string, Value>>& members) {
  Value value;
  value.kind_ = Kind::object;
  value.depth_ = 1;
  value.json_.assign("{");
  for (const auto& [key, member] : members) {
    if (value.json_.size() > 1) value.json_.push_back(',');
    if (!detail::is_valid_utf8(key) && value.problem_ == Problem::none) {
      value.problem_ = Problem::invalid_utf8;
    }
    value.take_member(member);
    if (value.problem_ == Problem::none) detail::append_json_string(value.json_, key);
    value.json_.push_back(':');
    value.json_.append(member.json_);
  }
  value.json_.push_back('}');
  return value;
}

const char* to_string(Value::Problem problem) noexcept {
  switch (problem) {
    case Value::Problem::none:
      return "none";
    case Value::Problem::invalid_utf8:
      return "invalid_utf8";
    case Value::Problem::not_finite:
      return "not_finite";
    case Value::Problem::too_deep:
      return "too_deep";
  }
  return "unknown";
}

}  // namespace instasent
