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
  /// What kind of JSON value it is.
  enum class Kind {
    null,      ///< JSON null.
    boolean,   ///< true or false.
    integer,   ///< A number made from an integer.
    floating,  ///< A number made from a `double` or `float`.
    string,    ///< A string.
    array,     ///< An array.
    object     ///< An object.
  };
  /// Why a value cannot be sent; `none` when it can.
  enum class Problem {
    none,          ///< It can be sent.
    invalid_utf8,  ///< A string, or an object's key, is not valid UTF-8.
    not_finite,    ///< A number is NaN or infinite.
    too_deep       ///< Arrays and objects nest deeper than `kMaxValueDepth`.
  };

  /// JSON null.
  Value() noexcept : kind_(Kind::null), json_("null") {}
  /// JSON null: set to an attribute, it clears it.
  Value(std::nullptr_t) noexcept : Value() {}  // NOLINT(google-explicit-constructor)
  /// true or false.
  Value(bool b) : kind_(Kind::boolean), json_(b ? "true" : "false") {}  // NOLINT
  /// An integer, of any integral type but `bool` and `char`.
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
  /// A number; NaN and infinity give `Problem::not_finite`.
  Value(double d);  // NOLINT(google-explicit-constructor)
  /// As `Value(double)`.
  Value(float f) : Value(static_cast<double>(f)) {}  // NOLINT(google-explicit-constructor)
  /// A string; invalid UTF-8 gives `Problem::invalid_utf8`.
  Value(std::string_view s);  // NOLINT(google-explicit-constructor)
  /// As `Value(std::string_view)`; `s` must not be null.
  Value(const char* s) : Value(std::string_view(s)) {}  // NOLINT
  /// As `Value(std::string_view)`.
  Value(const std::string& s) : Value(std::string_view(s)) {}  // NOLINT
  /// An array of `items`, from a braced list: `{"a", "b"}`. The first problem of an item is
  /// the array's.
  Value(std::initializer_list<Value> items);  // NOLINT

  /// An array of `items`, as the braced list makes one.
  static Value array(const std::vector<Value>& items);
  /// An object of `members` in the order given (event parameters only; `Contact` refuses it).
  /// The first problem of a key or member is the object's.
  static Value object(const std::vector<std::pair<std::string, Value>>& members);

  /// What kind of JSON value it is.
  Kind kind() const noexcept { return kind_; }
  /// Why it cannot be sent; `Problem::none` when it can.
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

/// The problem's name, as spelled in the enumeration ("invalid_utf8").
INSTASENT_EXPORT const char* to_string(Value::Problem problem) noexcept;

}  // namespace instasent
