// SPDX-License-Identifier: Apache-2.0
// The Ingest API's rules for request bodies and items, as the emulator enforces them.
#include "validation.hpp"

#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

namespace instasent::emulator {
namespace {

using Json = nlohmann::json;

constexpr const char* kUserId = "_user_id";
constexpr const char* kEventId = "_event_id";
constexpr const char* kEventType = "_event_type";
constexpr const char* kEventDate = "_event_date";
constexpr const char* kEventParameters = "_event_parameters";
constexpr const char* kUserData = "_user_data";
constexpr const char* kEmail = "_email";
constexpr const char* kPhoneMobile = "_phone_mobile";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_scalar(const BodyValue& value) {
  return value.kind != JsonKind::array && value.kind != JsonKind::object;
}

// A value a contact attribute may take: a scalar, or an array of scalars.
bool is_valid_value(const Body& body, std::uint32_t index) {
  const BodyValue& value = body[index];
  if (is_scalar(value)) return true;
  if (value.kind != JsonKind::array) return false;
  for (const std::uint32_t element : body.children(index)) {
    if (!is_scalar(body[element])) return false;
  }
  return true;
}

// The message for a field that must be a non-empty string, or nullptr when it is one.
// `value` is nullptr when the field is missing.
const char* required_string_error(const BodyValue* value) {
  if (value == nullptr) return "Required";
  if (value->kind != JsonKind::string) return "Must be a string";
  if (value->text.empty()) return "Must not be empty";
  return nullptr;
}

const Json* find_member(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool looks_like_email(std::string_view text) {
  const std::size_t at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;  // spaces and control characters
  }
  const std::string_view local = text.substr(0, at);
  const std::string_view domain = text.substr(at + 1);
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (domain.empty() || domain.front() == '.' || domain.back() == '.') return false;
  if (domain.find('.') == std::string_view::npos) return false;
  if (domain.find("..") != std::string_view::npos) return false;
  return true;
}

bool looks_like_phone(std::string_view text) {
  if (text.size() < 9 || text.size() > 16 || text.front() != '+') return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (!is_digit(text[i])) return false;
  }
  return true;
}

// A nlohmann::json value read as a request body would be: from its text.
class JsonAsBody {
 public:
  explicit JsonAsBody(const Json& value) : text_(value.dump()) {
    body_.parse(text_, std::numeric_limits<std::size_t>::max());
  }
  const Body& body() const { return body_; }

 private:
  std::string text_;
  Body body_;
};

// Reads exactly `count` decimal digits at `pos`.
bool read_digits(const std::string& text, std::size_t pos, std::size_t count, int& out) {
  if (pos > text.size() || text.size() - pos < count) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

bool is_leap_year(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to the given proleptic Gregorian date (year 0 to 9999). Not the SDK's
// src/civil_time.hpp, on purpose: the emulator reads the contract on its own (README.md).
std::int64_t days_from_civil(int year, int month, int day) {
  // Years start on March 1st so that the leap day ends one. The count starts at (-400)-03-01,
  // one 400-year era early, so that January and February of year 0 stay non-negative.
  const std::int64_t y = static_cast<std::int64_t>(year) + 400 - (month <= 2 ? 1 : 0);
  const std::int64_t shifted_month = month > 2 ? month - 3 : month + 9;  // March is 0
  const std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const std::int64_t days_since_origin = y * 365 + y / 4 - y / 100 + y / 400 + day_of_year;
  // 719468 days from 0000-03-01 to 1970-01-01, plus the extra era of 146097 days added above.
  return days_since_origin - 719468 - 146097;
}

}  // namespace

std::optional<std::string> check_batch(const Body& body) {
  if (body[0].kind != JsonKind::array) return "Body should be an array";
  const std::size_t count = body.count(0);
  if (count == 0) return "Body should contain at least one item";
  if (count > kMaxBatchItems) {
    return "Body should contain at most " + std::to_string(kMaxBatchItems) + " items";
  }
  std::size_t i = 0;
  for (const std::uint32_t item : body.children(0)) {
    if (body[item].kind != JsonKind::object) {
      return "Item " + std::to_string(i) + " should be an object";
    }
    ++i;
  }
  return std::nullopt;
}

std::optional<std::string> check_batch(const nlohmann::json& body) {
  return check_batch(JsonAsBody(body).body());
}

std::set<std::string> reserved_attribute_names(const nlohmann::json& attribute_specs) {
  std::set<std::string> names;
  // Accept the endpoint's whole answer ({"specs": [...]}) as well as the bare array.
  const Json* specs = &attribute_specs;
  if (attribute_specs.is_object()) {
    specs = find_member(attribute_specs, "specs");
    if (specs == nullptr) return names;
  }
  if (!specs->is_array()) return names;
  for (const Json& spec : *specs) {
    if (!spec.is_object()) continue;
    const Json* uid = find_member(spec, "uid");
    if (uid == nullptr || !uid->is_string()) continue;
    const auto& name = uid->get_ref<const std::string&>();
    if (!name.empty() && name.front() == '_') names.insert(name);
  }
  return names;
}

FieldErrors validate_contact(const Body& body, std::uint32_t contact,
                             const std::set<std::string>& reserved) {
  FieldErrors errors;
  if (body[contact].kind != JsonKind::object) {
    errors[kUserId] = {"Required"};
    return errors;
  }

  if (const char* message = required_string_error(body.find(contact, kUserId))) {
    errors[kUserId] = {message};
  }

  // Each name once, with its last value, as a nlohmann::json object holds it.
  thread_local std::vector<std::uint32_t> members;
  body.members(contact, members);
  for (const std::uint32_t member : members) {
    const BodyValue& value = body[member];
    const std::string_view key = value.key;
    if (key == kUserId) continue;
    const bool is_reserved = !key.empty() && key.front() == '_';
    if (is_reserved && reserved.count(std::string(key)) == 0) {
      errors[std::string(key)] = {"Unknown reserved attribute"};
    } else if (!is_valid_value(body, member)) {
      errors[std::string(key)] = {"Invalid value type"};
    } else if (value.kind == JsonKind::null) {
      // null clears the attribute.
    } else if (key == kEmail) {
      if (value.kind != JsonKind::string || !looks_like_email(value.text)) {
        errors[std::string(key)] = {"Invalid format"};
      }
    } else if (key == kPhoneMobile) {
      if (value.kind != JsonKind::string || !looks_like_phone(value.text)) {
        errors[std::string(key)] = {"Invalid format"};
      }
    }
  }
  return errors;
}

FieldErrors validate_contact(const nlohmann::json& contact, const std::set<std::string>& reserved) {
  return validate_contact(JsonAsBody(contact).body(), 0, reserved);
}

FieldErrors validate_event(const Body& body, std::uint32_t event,
                           const std::set<std::string>& reserved) {
  FieldErrors errors;
  const bool is_object = body[event].kind == JsonKind::object;
  const auto find = [&](std::uint32_t object, const char* key) {
    return is_object ? body.find(object, key) : nullptr;
  };

  for (const char* key : {kUserId, kEventId, kEventType}) {
    if (const char* message = required_string_error(find(event, key))) {
      errors[key] = {message};
    }
  }
  if (!is_object) return errors;

  // Optional fields: null counts as absent.
  const BodyValue* date = body.find(event, kEventDate);
  if (date != nullptr && date->kind != JsonKind::null) {
    if (date->kind != JsonKind::string || !parse_iso8601(std::string(date->text))) {
      errors[kEventDate] = {"Invalid date"};
    }
  }

  const BodyValue* parameters = body.find(event, kEventParameters);
  if (parameters != nullptr && parameters->kind != JsonKind::null &&
      parameters->kind != JsonKind::object) {
    errors[kEventParameters] = {"Must be an object"};
  }

  const BodyValue* user_data = body.find(event, kUserData);
  if (user_data != nullptr && user_data->kind != JsonKind::null) {
    if (user_data->kind != JsonKind::object) {
      errors[kUserData] = {"Must be an object"};
    } else {
      const BodyValue* event_user = body.find(event, kUserId);
      const bool event_user_valid = required_string_error(event_user) == nullptr;
      const auto user_data_index = static_cast<std::uint32_t>(user_data - &body[0]);
      const BodyValue* embedded_user = body.find(user_data_index, kUserId);

      FieldErrors embedded = validate_contact(body, user_data_index, reserved);
      if (embedded_user == nullptr) {
        // The contact takes the event's _user_id; when that is invalid it is reported once, at
        // the top level, not again for the embedded contact.
        embedded.erase(kUserId);
      } else if (embedded.count(kUserId) == 0 && event_user_valid &&
                 embedded_user->text != event_user->text) {
        embedded[kUserId] = {"Must match the event's _user_id"};
      }
      for (auto& [key, messages] : embedded) {
        errors[std::string(kUserData) + "." + key] = std::move(messages);
      }
    }
  }

  thread_local std::vector<std::uint32_t> members;
  body.members(event, members);
  for (const std::uint32_t member : members) {
    const std::string_view key = body[member].key;
    if (key != kUserId && key != kEventId && key != kEventType && key != kEventDate &&
        key != kEventParameters && key != kUserData) {
      errors[std::string(key)] = {"Unknown field"};
    }
  }
  return errors;
}

FieldErrors validate_event(const nlohmann::json& event, const std::set<std::string>& reserved) {
  return validate_event(JsonAsBody(event).body(), 0, reserved);
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !read_digits(text, 11, 2, hour) || text[13] != ':' ||
      !read_digits(text, 14, 2, minute) || text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }

  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && is_digit(text[pos])) {
      if (++digits > 9) return std::nullopt;
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }

  // The zone: Z, or ±HH:MM, or ±HHMM.
  if (pos >= text.size()) return std::nullopt;
  std::int64_t offset_seconds = 0;
  const char designator = text[pos];
  if (designator == 'Z' || designator == 'z') {
    ++pos;
  } else if (designator == '+' || designator == '-') {
    int offset_hours = 0, offset_minutes = 0;
    if (!read_digits(text, pos + 1, 2, offset_hours)) return std::nullopt;
    pos += 3;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!read_digits(text, pos, 2, offset_minutes)) return std::nullopt;
    pos += 2;
    if (offset_hours > 23 || offset_minutes > 59) return std::nullopt;
    offset_seconds = (std::int64_t{offset_hours} * 3600 + std::int64_t{offset_minutes} * 60) *
                     (designator == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  const std::int64_t seconds = days_from_civil(year, month, day) * 86400 +
                               std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second -
                               offset_seconds;

  // Refuse instants the clock cannot represent (with nanosecond ticks: years 1678 to 2261).
  using Duration = std::chrono::system_clock::duration;
  const std::int64_t max_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Duration::max()).count() - 1;
  const std::int64_t min_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Duration::min()).count() + 1;
  if (seconds > max_seconds || seconds < min_seconds) return std::nullopt;

  const Duration since_epoch =
      std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds)) +
      std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(nanos));
  return std::chrono::system_clock::time_point(since_epoch);
}

bool triggers_automations(std::chrono::system_clock::time_point when,
                          std::chrono::system_clock::time_point now) {
  using Clock = std::chrono::system_clock;
  const auto window = std::chrono::duration_cast<Clock::duration>(std::chrono::hours(1));
  // Compare without computing when - now, which can overflow for far-apart instants.
  if (when >= now) {
    if (now > Clock::time_point::max() - window) return true;
    return when <= now + window;
  }
  if (now < Clock::time_point::min() + window) return true;
  return when >= now - window;
}

}  // namespace instasent::emulator
