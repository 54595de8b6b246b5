// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "instasent/export.hpp"
#include "instasent/value.hpp"

namespace instasent {

/// A contact to upsert: `_user_id` plus the reserved (`_`-prefixed) and custom attributes to set.
///
/// Attributes left out are kept by the server; an attribute set to `nullptr` (or `clear()`ed) is
/// cleared. Every setter validates at once and throws `InvalidInputError` naming the field: the
/// id must be non-empty and at most `kMaxIdBytes`, all text must be valid UTF-8, numbers finite,
/// custom keys must not start with `_`, reserved names must. Setting the same field twice keeps
/// the last value.
///
///     instasent::Contact("USER-123").first_name("Ada").email("ada@example.com")
///         .attribute("plan", "pro").attribute("tags", {"vip", "beta"});
class INSTASENT_EXPORT Contact {
 public:
  /// A contact with no attributes set yet. Throws `InvalidInputError` (field "_user_id") when
  /// `user_id` is empty, longer than `kMaxIdBytes` or not valid UTF-8.
  explicit Contact(std::string user_id);

  /// `_first_name`. Like every text setter, throws `InvalidInputError` when the text is not
  /// valid UTF-8.
  Contact& first_name(std::string_view value) { return set_reserved_text("_first_name", value); }
  /// `_last_name`.
  Contact& last_name(std::string_view value) { return set_reserved_text("_last_name", value); }
  /// `_email`. Its format is checked by the server, not here.
  Contact& email(std::string_view value) { return set_reserved_text("_email", value); }
  /// E.164, e.g. "+34600000000".
  Contact& phone_mobile(std::string_view value) {
    return set_reserved_text("_phone_mobile", value);
  }
  /// ISO 3166-1 alpha-2, e.g. "ES".
  Contact& country_code(std::string_view value) {
    return set_reserved_text("_country_code", value);
  }
  /// Sent as "1"/"0", the form Instasent's own connectors use for boolean reserved attributes.
  Contact& email_verified(bool value) { return reserved("_email_verified", value ? "1" : "0"); }
  /// `_phone_mobile_verified`, sent as "1"/"0" like `email_verified`.
  Contact& phone_mobile_verified(bool value) {
    return reserved("_phone_mobile_verified", value ? "1" : "0");
  }

  /// Any reserved attribute by name (must start with `_`; `_user_id` is set by the constructor).
  Contact& reserved(std::string_view name, const Value& value);
  /// A custom attribute: string, number, bool, null, or an array of those.
  Contact& attribute(std::string_view key, const Value& value);
  /// Clears a reserved or custom attribute on the server (sends it as null).
  Contact& clear(std::string_view key);

  /// The `_user_id` given to the constructor.
  const std::string& user_id() const noexcept { return user_id_; }
  /// The JSON object this contact serializes to.
  std::string to_json() const&;
  /// The same JSON, taken from the contact without a copy (the builder keeps its text ready to
  /// send). The contact is left with its user id and no attributes.
  std::string to_json() &&;
  /// Appends `to_json()` to `out` without a temporary.
  void append_json(std::string& out) const;
  /// Appends the attributes alone, as a JSON object without `_user_id`: the shape of an event's
  /// `_user_data`.
  void append_attributes_json(std::string& out) const;

 private:
  Contact& set_reserved_text(std::string_view name, std::string_view value);
  void set_encoded(std::string_view key, const std::string& json);
  void start_text();
  std::string_view members() const noexcept;

  std::string user_id_;
  // The JSON object without its closing '}': `{"_user_id":"..."`, then from `members_at_` on a
  // `,"key":value` per attribute set. Empty in a contact moved from, until a setter starts it
  // again (start_text).
  std::string text_;
  std::size_t members_at_ = 0;
  std::uint64_t keys_ = 0;  // a bit per key set, by its hash: most new keys need no search
};

}  // namespace instasent
