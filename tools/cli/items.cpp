// SPDX-License-Identifier: Apache-2.0
#include "items.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <vector>

#include "civil_time.hpp"  // the SDK's date arithmetic
#include "hash.hpp"
#include "instasent/error.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

// Deeper values are refused before they are walked (the walk is recursive). The API's values
// are flat or nearly so.
constexpr int kMaxDepth = 32;

// The problem part of an SDK error, whose what() reads "instasent: invalid input: FIELD PROBLEM".
std::string problem_of(const InvalidInputError& error) {
  const std::string what = error.what();
  const std::string marker = error.field() + " ";
  const auto at = what.find(marker);
  return at == std::string::npos ? what : what.substr(at + marker.size());
}

// Runs `step`, turning the SDK's InvalidInputError into an ItemError for `field`.
template <typename Step>
auto checked(const std::string& field, Step&& step) {
  try {
    return step();
  } catch (const InvalidInputError& error) {
    throw ItemError(field, problem_of(error));
  }
}

// Refuses a member that is not one of an event's fields.
void check_event_field(std::string_view key) {
  if (key != "_user_id" && key != "_event_type" && key != "_event_id" && key != "_event_date" &&
      key != "_event_parameters" && key != "_user_data") {
    throw ItemError(std::string(key),
                    "is not a field of an event (parameters go in _event_parameters)");
  }
}

// An event of `user_id` and `event_type`, or the ItemError that names which of them is refused.
Event new_event(const std::string& user_id, const std::string& event_type) {
  try {
    return Event(user_id, event_type);
  } catch (const InvalidInputError& error) {
    throw ItemError(error.field(), problem_of(error));
  }
}

Value to_value(const json& value, int depth) {
  if (depth > kMaxDepth) throw ItemError("", "is nested too deeply");
  switch (value.type()) {
    case json::value_t::null:
      return nullptr;
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::number_integer:
      return value.get<std::int64_t>();
    case json::value_t::number_unsigned:
      return value.get<std::uint64_t>();
    case json::value_t::number_float:
      return value.get<double>();
    case json::value_t::string:
      return Value(value.get_ref<const std::string&>());
    case json::value_t::array: {
      std::vector<Value> items;
      items.reserve(value.size());
      for (const json& item : value) items.push_back(to_value(item, depth + 1));
      return Value::array(items);
    }
    case json::value_t::object: {
      std::vector<std::pair<std::string, Value>> members;
      members.reserve(value.size());
      for (auto it = value.begin(); it != value.end(); ++it) {
        members.emplace_back(it.key(), to_value(it.value(), depth + 1));
      }
      return Value::object(members);
    }
    default:  // binary or discarded: never produced by the JSON parser
      throw ItemError("", "holds a value that is not JSON");
  }
}

// The value of `key` as a non-empty string, or an ItemError.
std::string required_string(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) throw ItemError(key, "is missing");
  if (!it->is_string()) throw ItemError(key, "must be a string");
  return it->get<std::string>();
}

Contact contact_from_object(const json& object, const std::string& prefix) {
  if (!object.is_object()) throw ItemError(prefix, "must be a JSON object");
  const std::string user_id_field = prefix + "_user_id";
  const auto id = object.find("_user_id");
  if (id == object.end() || id->is_null()) throw ItemError(user_id_field, "is missing");
  if (!id->is_string()) throw ItemError(user_id_field, "must be a string");
  Contact contact = checked(user_id_field, [&] { return Contact(id->get<std::string>()); });
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (key == "_user_id") continue;
    const std::string field = prefix + key;
    try {
      checked(field, [&] {
        if (!key.empty() && key.front() == '_') {
          if (it->is_boolean()) {
            contact.reserved(key, it->get<bool>() ? "1" : "0");
          } else {
            contact.reserved(key, to_value(*it, 1));
          }
        } else {
          contact.attribute(key, to_value(*it, 1));
        }
      });
    } catch (const ItemError& error) {
      if (!error.field().empty()) throw;
      throw ItemError(field, error.problem());  // from to_value, which knows no field name
    }
  }
  return contact;
}

// From a line read by the one-pass reader (tools::Body): the same steps, in the same order, as
// from a nlohmann::json object above, so that a line gives the same item or the same first
// error either way (items_test's differential test holds them to it).

using tools::Body;
using tools::JsonKind;

// The members of an object as nlohmann::json keeps them, which is the order they are set in: by
// name, bytewise, each name once with the value written last for it. Up to 16 (nearly every
// object) are sorted in place as they are read, without a heap allocation.
class MemberOrder {
 public:
  MemberOrder(const Body& body, std::uint32_t object) {
    std::size_t count = 0;
    for (const std::uint32_t child : body.children(object)) {
      const std::string_view key = body[child].key;
      std::size_t at = count;
      while (at > 0 && key < body[few_[at - 1]].key) --at;
      if (at > 0 && key == body[few_[at - 1]].key) {
        few_[at - 1] = child;  // a repeated name: the later value replaces the earlier
        continue;
      }
      if (count == few_.size()) {  // many members: sorted and deduplicated by Body::members
        body.members(object, many_);
        std::sort(many_.begin(), many_.end(),
                  [&body](std::uint32_t a, std::uint32_t b) { return body[a].key < body[b].key; });
        first_ = many_.data();
        last_ = first_ + many_.size();
        return;
      }
      std::copy_backward(few_.begin() + at, few_.begin() + count, few_.begin() + count + 1);
      few_[at] = child;
      ++count;
    }
    first_ = few_.data();
    last_ = first_ + count;
  }
  MemberOrder(const MemberOrder&) = delete;
  MemberOrder& operator=(const MemberOrder&) = delete;

  const std::uint32_t* begin() const { return first_; }
  const std::uint32_t* end() const { return last_; }
  std::size_t size() const { return static_cast<std::size_t>(last_ - first_); }

 private:
  std::array<std::uint32_t, 16> few_{};
  std::vector<std::uint32_t> many_;
  const std::uint32_t* first_ = nullptr;
  const std::uint32_t* last_ = nullptr;
};

// A number as nlohmann::json reads it: an integer without a fraction or an exponent (signed when
// it has a minus), unless it does not fit 64 bits; else a double. The reader has checked its
// syntax and that it is finite.
Value number_value(std::string_view raw) {
  const char* const first = raw.data();
  const char* const last = first + raw.size();
  if (raw.find_first_of(".eE") == std::string_view::npos) {
    if (raw.front() == '-') {
      std::int64_t integer = 0;
      const auto [end, error] = std::from_chars(first, last, integer);
      if (error == std::errc() && end == last) return integer;
    } else {
      std::uint64_t integer = 0;
      const auto [end, error] = std::from_chars(first, last, integer);
      if (error == std::errc() && end == last) return integer;
    }
  }
  const std::string copy(raw);
  return std::strtod(copy.c_str(), nullptr);
}

Value to_value(const Body& body, std::uint32_t index, int depth) {
  if (depth > kMaxDepth) throw ItemError("", "is nested too deeply");
  const tools::BodyValue& value = body[index];
  switch (value.kind) {
    case JsonKind::null:
      return nullptr;
    case JsonKind::boolean:
      return value.truth;
    case JsonKind::number:
      return number_value(value.raw);
    case JsonKind::string:
      return Value(value.text);
    case JsonKind::array: {
      std::vector<Value> items;
      items.reserve(body.count(index));
      for (const std::uint32_t item : body.children(index)) {
        items.push_back(to_value(body, item, depth + 1));
      }
      return Value::array(items);
    }
    case JsonKind::object: {
      const MemberOrder order(body, index);
      std::vector<std::pair<std::string, Value>> members;
      members.reserve(order.size());
      for (const std::uint32_t member : order) {
        members.emplace_back(std::string(body[member].key), to_value(body, member, depth + 1));
      }
      return Value::object(members);
    }
  }
  throw ItemError("", "holds a value that is not JSON");
}

bool is_null(const tools::BodyValue* value) {
  return value == nullptr || value->kind == JsonKind::null;
}

// The value of `key` as a non-empty string, or an ItemError.
std::string required_string(const Body& body, const char* key) {
  const tools::BodyValue* value = body.find(0, key);
  if (is_null(value)) throw ItemError(key, "is missing");
  if (value->kind != JsonKind::string) throw ItemError(key, "must be a string");
  return std::string(value->text);
}

// Sets a reserved text attribute that the SDK has a setter for (the usual fields of a contact)
// without a Value: the same member and the same refusal as `reserved`. False for any other name.
bool set_reserved_text(Contact& contact, std::string_view key, std::string_view text) {
  if (key == "_email") {
    contact.email(text);
  } else if (key == "_first_name") {
    contact.first_name(text);
  } else if (key == "_last_name") {
    contact.last_name(text);
  } else if (key == "_phone_mobile") {
    contact.phone_mobile(text);
  } else if (key == "_country_code") {
    contact.country_code(text);
  } else {
    return false;
  }
  return true;
}

// `default_user_id`, when not null, is the `_user_id` of an object that has none (an event's
// `_user_data`).
Contact contact_from_body(const Body& body, std::uint32_t object, const std::string& prefix,
                          const std::string* default_user_id) {
  if (body[object].kind != JsonKind::object) throw ItemError(prefix, "must be a JSON object");
  const tools::BodyValue* id = body.find(object, "_user_id");
  std::string user_id;
  if (id == nullptr && default_user_id != nullptr) {
    user_id = *default_user_id;
  } else {
    if (is_null(id)) throw ItemError(prefix + "_user_id", "is missing");
    if (id->kind != JsonKind::string) throw ItemError(prefix + "_user_id", "must be a string");
    user_id = std::string(id->text);
  }
  Contact contact = checked(prefix + "_user_id", [&] { return Contact(std::move(user_id)); });
  for (const std::uint32_t member : MemberOrder(body, object)) {
    const std::string_view key = body[member].key;
    if (key == "_user_id") continue;
    try {
      if (!key.empty() && key.front() == '_') {
        if (body[member].kind == JsonKind::boolean) {
          contact.reserved(key, body[member].truth ? "1" : "0");
        } else if (body[member].kind != JsonKind::string ||
                   !set_reserved_text(contact, key, body[member].text)) {
          contact.reserved(key, to_value(body, member, 1));
        }
      } else {
        contact.attribute(key, to_value(body, member, 1));
      }
    } catch (const InvalidInputError& error) {
      throw ItemError(prefix + std::string(key), problem_of(error));
    } catch (const ItemError& error) {
      if (!error.field().empty()) throw;
      throw ItemError(prefix + std::string(key), error.problem());  // from to_value
    }
  }
  return contact;
}

Contact contact_from_body(const Body& body) {
  if (body[0].kind != JsonKind::object) throw ItemError("", "is not a JSON object");
  return contact_from_body(body, 0, "", nullptr);
}

Event event_from_body(const Body& body) {
  if (body[0].kind != JsonKind::object) throw ItemError("", "is not a JSON object");
  for (const std::uint32_t member : MemberOrder(body, 0)) check_event_field(body[member].key);
  const std::string user_id = required_string(body, "_user_id");
  const std::string event_type = required_string(body, "_event_type");
  Event event = new_event(user_id, event_type);

  bool has_id = false;
  if (const tools::BodyValue* id = body.find(0, "_event_id"); !is_null(id)) {
    if (id->kind != JsonKind::string) throw ItemError("_event_id", "must be a string");
    checked("_event_id", [&] { event.event_id(std::string(id->text)); });
    has_id = true;
  }
  if (const tools::BodyValue* date = body.find(0, "_event_date"); !is_null(date)) {
    const auto when = date->kind == JsonKind::string ? parse_iso8601(date->text) : std::nullopt;
    if (!when) {
      throw ItemError("_event_date",
                      "is not an ISO 8601 date-time with a time zone, of the years 1678 to 2261");
    }
    event.date(*when);
  }
  if (const tools::BodyValue* parameters = body.find(0, "_event_parameters");
      !is_null(parameters)) {
    if (parameters->kind != JsonKind::object) {
      throw ItemError("_event_parameters", "must be a JSON object");
    }
    const auto index = static_cast<std::uint32_t>(parameters - &body[0]);
    for (const std::uint32_t member : MemberOrder(body, index)) {
      const std::string_view key = body[member].key;
      try {
        event.parameter(key, to_value(body, member, 1));
      } catch (const InvalidInputError& error) {
        throw ItemError("_event_parameters." + std::string(key), problem_of(error));
      } catch (const ItemError& error) {
        if (!error.field().empty()) throw;
        throw ItemError("_event_parameters." + std::string(key), error.problem());
      }
    }
  }
  if (const tools::BodyValue* user_data = body.find(0, "_user_data"); !is_null(user_data)) {
    if (user_data->kind != JsonKind::object) throw ItemError("_user_data", "must be a JSON object");
    const auto index = static_cast<std::uint32_t>(user_data - &body[0]);
    Contact contact = contact_from_body(body, index, "_user_data.", &user_id);
    checked("_user_data._user_id", [&] { event.user_data(std::move(contact)); });
  }
  // The id hashes the object's canonical JSON, as nlohmann::json dumps it: read into a tree here.
  if (!has_id) event.event_id(derived_event_id(body.to_json(0)));
  return event;
}

// Month lengths, to refuse dates such as 02-30 that days_from_civil would carry into March
// (civil_time.hpp converts dates but does not check them).
unsigned days_in_month(int year, int month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

const char* to_string(ItemKind kind) noexcept {
  return kind == ItemKind::contacts ? "contacts" : "events";
}

ItemError::ItemError(std::string field, std::string problem)
    : std::runtime_error(field.empty() ? problem : field + ": " + problem),
      field_(std::move(field)),
      problem_(std::move(problem)) {}

Value value_from_json(const json& value) { return to_value(value, 0); }

Contact contact_from_json(const json& object) {
  if (!object.is_object()) throw ItemError("", "is not a JSON object");
  return contact_from_object(object, "");
}

std::string derived_event_id(const json& object) { return fnv1a128_uuid(dump_json(object)); }

Event event_from_json(const json& object) {
  if (!object.is_object()) throw ItemError("", "is not a JSON object");
  for (auto it = object.begin(); it != object.end(); ++it) check_event_field(it.key());
  const std::string user_id = required_string(object, "_user_id");
  const std::string event_type = required_string(object, "_event_type");
  Event event = new_event(user_id, event_type);

  bool has_id = false;
  if (const auto id = object.find("_event_id"); id != object.end() && !id->is_null()) {
    if (!id->is_string()) throw ItemError("_event_id", "must be a string");
    checked("_event_id", [&] { event.event_id(id->get<std::string>()); });
    has_id = true;
  }
  if (const auto date = object.find("_event_date"); date != object.end() && !date->is_null()) {
    const auto when =
        date->is_string() ? parse_iso8601(date->get_ref<const std::string&>()) : std::nullopt;
    if (!when) {
      throw ItemError("_event_date",
                      "is not an ISO 8601 date-time with a time zone, of the years 1678 to 2261");
    }
    event.date(*when);
  }
  if (const auto parameters = object.find("_event_parameters");
      parameters != object.end() && !parameters->is_null()) {
    if (!parameters->is_object()) throw ItemError("_event_parameters", "must be a JSON object");
    for (auto it = parameters->begin(); it != parameters->end(); ++it) {
      const std::string field = "_event_parameters." + it.key();
      try {
        checked(field, [&] { event.parameter(it.key(), to_value(it.value(), 1)); });
      } catch (const ItemError& error) {
        if (!error.field().empty()) throw;
        throw ItemError(field, error.problem());
      }
    }
  }
  if (const auto user_data = object.find("_user_data");
      user_data != object.end() && !user_data->is_null()) {
    if (!user_data->is_object()) throw ItemError("_user_data", "must be a JSON object");
    Contact contact = [&] {
      if (user_data->contains("_user_id")) return contact_from_object(*user_data, "_user_data.");
      json with_id = *user_data;
      with_id["_user_id"] = user_id;
      return contact_from_object(with_id, "_user_data.");
    }();
    checked("_user_data._user_id", [&] { event.user_data(std::move(contact)); });
  }
  if (!has_id) event.event_id(derived_event_id(object));
  return event;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  std::size_t at = 0;
  const auto number = [&](std::size_t digits, int& out) {
    if (at + digits > text.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < digits; ++k) {
      const char c = text[at + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    at += digits;
    return true;
  };
  const auto accept = [&](char c) {
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  };

  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!number(4, year) || !accept('-') || !number(2, month) || !accept('-') || !number(2, day)) {
    return std::nullopt;
  }
  if (!accept('T') && !accept('t') && !accept(' ')) return std::nullopt;
  if (!number(2, hour) || !accept(':') || !number(2, minute)) return std::nullopt;
  int millis = 0;
  if (accept(':')) {
    if (!number(2, second)) return std::nullopt;
    if (accept('.') || accept(',')) {
      int scale = 100;
      std::size_t digits = 0;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        millis += (text[at] - '0') * scale;  // digits past the third add nothing
        scale /= 10;
        ++at;
        ++digits;
      }
      if (digits == 0) return std::nullopt;
    }
  }
  int offset_minutes = 0;
  if (accept('Z') || accept('z')) {
    offset_minutes = 0;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const int sign = text[at] == '-' ? -1 : 1;
    ++at;
    int offset_hours = 0, offset_rest = 0;
    if (!number(2, offset_hours)) return std::nullopt;
    if (accept(':')) {
      if (!number(2, offset_rest)) return std::nullopt;
    } else if (at < text.size() && !number(2, offset_rest)) {
      return std::nullopt;
    }
    if (offset_hours > 23 || offset_rest > 59) return std::nullopt;
    offset_minutes = sign * (offset_hours * 60 + offset_rest);
  } else {
    return std::nullopt;  // no time zone: the instant is unknown
  }
  if (at != text.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  const std::int64_t days =
      detail::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t ms =
      (((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis;
  // A system_clock counts nanoseconds in 64 bits: it holds the years 1678 to 2261 only.
  constexpr std::int64_t kLimitMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::duration::max())
                                        .count();
  if (ms >= kLimitMs || ms <= -kLimitMs) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(ms)));
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

template <typename Item>
Item build_from(const json& object);
template <>
Contact build_from<Contact>(const json& object) {
  return contact_from_json(object);
}
template <>
Event build_from<Event>(const json& object) {
  return event_from_json(object);
}

}  // namespace

namespace {

// The item `build` returns, or nullopt with why in `errors`: an ItemError or the SDK's
// InvalidInputError as its field and problem, anything else as a problem of the whole item.
template <typename Build>
auto caught(Build&& build, FieldErrors& errors) -> std::optional<decltype(build())> {
  try {
    return build();
  } catch (const ItemError& error) {
    errors[error.field()].push_back(error.problem());
  } catch (const InvalidInputError& error) {
    // what() reads "instasent: invalid input: FIELD PROBLEM".
    std::string problem = error.what();
    const std::string prefix = "instasent: invalid input: " + error.field() + " ";
    if (problem.rfind(prefix, 0) == 0) problem.erase(0, prefix.size());
    errors[error.field()].push_back(printable(problem, 200));
  } catch (const std::exception& error) {
    errors[""].push_back("cannot be built into an item: " + printable(error.what(), 200));
  }
  return std::nullopt;
}

}  // namespace

template <typename Item>
std::optional<Item> build_item(const json& object, FieldErrors& errors) {
  return caught([&] { return build_from<Item>(object); }, errors);
}

template <typename Item>
std::optional<Item> build_item(const Body& body, FieldErrors& errors) {
  if constexpr (std::is_same_v<Item, Contact>) {
    return caught([&] { return contact_from_body(body); }, errors);
  } else {
    return caught([&] { return event_from_body(body); }, errors);
  }
}

template std::optional<Contact> build_item<Contact>(const json&, FieldErrors&);
template std::optional<Event> build_item<Event>(const json&, FieldErrors&);
template std::optional<Contact> build_item<Contact>(const Body&, FieldErrors&);
template std::optional<Event> build_item<Event>(const Body&, FieldErrors&);

}  // namespace instasent::cli
