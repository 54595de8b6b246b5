// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "instasent/export.hpp"
#include "instasent/limits.hpp"

namespace instasent {

/// A JSON value for a custom attribute or an event parameter, encoded once when it is made.
///
/// Implicit from `nullptr` (JSON null: clears the attribute), `bool`, any integer,
/// `double`/`float`, and strings; a braced list makes an array: `{"a", "b"}`. `Value::object` makes
/// an object (event parameters only). Construction never throws on a bad value: invalid UTF-8, a
/// NaN/Inf, or arrays and objects nested deeper than `kMaxValueDepth` are remembered, and the
/// builder that receives the value rejects it naming the field.
class INSTASENT_EXPORT Value {
 public:
  enum class Kind { null, boolean, integer, floating, string, array, object };
  /// Why a value cannot be sent; `none` when it can.
  enum class Problem { none, invalid_utf8, not_finite, too_deep };

  Value() noexcept : kind_(Kind::null), json_("null") {}
  Value(std::nullptr_t) noexcept : Value() {}  // NOLINT(google-explicit-constructor)
  Value(bool b) : kind_(Kind::boolean), json_(b ? "true" : "false") {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             !std::is_same_v<T, char>,
                                         int> = 0>
  Value(T n) : kind_(Kind::integer) {  // NOLINT(google-explicit-constructor)
    if constexpr (std::is_signed_v<T>) {
      set_integer(static_cast<std::int64_t>(n));
    } else {
      set_unsigned(static_cast<std::uint64_t>(n));
    }
  }
  Value(double d);                                      // NOLINT(google-explicit-constructor)
  Value(float f) : Value(static_cast<double>(f)) {}     // NOLINT(google-explicit-constructor)
  Value(std::string_view s);                            // NOLINT(google-explicit-constructor)
  Value(const char* s) : Value(std::string_view(s)) {}  // NOLINT
  Value(const std::string& s) : Value(std::string_view(s)) {}  // NOLINT
  Value(std::initializer_list<Value> items);                   // NOLINT

  static Value array(const std::vector<Value>& items);
  static Value object(const std::vector<std::pair<std::string, Value>>& members);

  Kind kind() const noexcept { return kind_; }
  Problem problem() const noexcept { return problem_; }
  /// True when this is an array or object that contains an array or object.
  bool nested() const noexcept { return depth_ > 1; }
  /// How deeply arrays and objects nest in it: 0 for a scalar, 1 for a flat array or object.
  std::size_t depth() const noexcept { return depth_; }
  /// The encoded JSON text (meaningful only when `problem() == Problem::none`).
  const std::string& json() const noexcept { return json_; }

 private:
  void set_integer(std::int64_t n);
  void set_unsigned(std::uint64_t n);
  template <typename It>
  void encode_array(It first, It last);
  void take_member(const Value& member);

  Kind kind_;
  Problem problem_ = Problem::none;
  std::size_t depth_ = 0;
  std::string json_;
};

/// A short description of a problem, e.g. "is not valid UTF-8".
/// The problem's name, as spelled in the enumeration ("invalid_utf8").
INSTASENT_EXPORT const char* to_string(Value::Problem problem) noexcept;

}  // namespace instasent
