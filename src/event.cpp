// SPDX-License-Identifier: Apache-2.0
#include "instasent/event.hpp"

#include <cstdint>
#include <cstdio>

#include "civil_time.hpp"
#include "ids.hpp"
#include "instasent/error.hpp"
#include "json_text.hpp"
#include "members.hpp"

namespace instasent {

namespace {

using std::chrono::system_clock;

}  // namespace

std::string format_iso8601(system_clock::time_point t) {
  const std::int64_t ms =
      std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::int64_t days = detail::floor_div(ms, 86'400'000);
  const std::int64_t ms_of_day = ms - days * 86'400'000;
  const detail::CivilDate date = detail::civil_from_days(days);
  char buffer[48];
  const int n = std::snprintf(
      buffer, sizeof buffer, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
      static_cast<long long>(date.year), date.month, date.day,
      static_cast<int>(ms_of_day / 3'600'000), static_cast<int>(ms_of_day / 60'000 % 60),
      static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return std::string(buffer, static_cast<std::size_t>(n));
}

bool within_automation_window(system_clock::time_point event_date, system_clock::time_point now) {
  const auto distance = event_date > now ? event_date - now : now - event_date;
  return distance <= kAutomationWindow;
}

Event::Event(std::string user_id, std::string event_id, std::string event_type)
    : user_id_(std::move(user_id)),
      event_id_(std::move(event_id)),
      event_type_(std::move(event_type)) {
  detail::check_id(user_id_, "_user_id");
  detail::check_id(event_id_, "_event_id");
  detail::check_id(event_type_, "_event_type");
}

Event::Event(std::string user_id, std::string event_type)
    : user_id_(std::move(user_id)), event_type_(std::move(event_type)) {
  detail::check_id(user_id_, "_user_id");
  detail::check_id(event_type_, "_event_type");
}

Event& Event::event_id(std::string id) {
  detail::check_id(id, "_event_id");
  event_id_ = std::move(id);
  return *this;
}

Event& Event::date(system_clock::time_point when) {
  date_ = when;
  return *this;
}

Event& Event::parameter(std::string_view key, const Value& value) {
  const auto label = [&] { return "parameter '" + detail::printable_name(key) + "'"; };
  if (key.empty()) throw InvalidInputError("parameter name", "must not be empty");
  if (!detail::is_valid_utf8(key)) throw InvalidInputError(label(), "name is not valid UTF-8");
  if (value.problem() != Value::Problem::none) {
    throw InvalidInputError(label(), detail::describe(value.problem()));
  }
  detail::set_member(parameters_, 0, keys_, key, detail::KeyText::any,
                     [&value](std::string& out) { out.append(value.json()); });
  return *this;
}

Event& Event::user_data(Contact contact) {
  if (contact.user_id() != user_id_) {
    throw InvalidInputError("_user_data._user_id", "must equal the event's _user_id");
  }
  user_data_ = std::move(contact);
  return *this;
}

bool Event::within_automation_window(system_clock::time_point now) const {
  return !date_ || instasent::within_automation_window(*date_, now);
}

void Event::append_json(std::string& out) const {
  // Room for the whole object unless ids need escapes or there is user data: a queued event's
  // JSON then takes its own size, not the next power of two.
  std::size_t room = 48 + user_id_.size() + event_id_.size() + event_type_.size();
  if (date_) room += 48;
  if (!parameters_.empty()) room += 24 + parameters_.size();
  out.reserve(out.size() + room);
  out.append("{\"_user_id\":");
  detail::append_json_string(out, user_id_);
  out.append(",\"_event_id\":");
  detail::append_json_string(out, event_id_);
  out.append(",\"_event_type\":");
  detail::append_json_string(out, event_type_);
  if (date_) {
    out.append(",\"_event_date\":\"");
    out.append(format_iso8601(*date_));
    out.push_back('"');
  }
  if (!parameters_.empty()) {
    out.append(",\"_event_parameters\":{");
    out.append(parameters_, 1, std::string::npos);  // without the first member's ','
    out.push_back('}');
  }
  if (user_data_) {
    // The documented shape: the contact's attributes, without `_user_id` (the event's names it).
    out.append(",\"_user_data\":");
    user_data_->append_attributes_json(out);
  }
  out.push_back('}');
}

std::string Event::to_json() const {
  std::string out;
  append_json(out);
  return out;
}

}  // namespace instasent
