// SPDX-License-Identifier: Apache-2.0
// Checks shared by the unit tests of the builders (Contact, Event): the exact JSON a builder
// writes, and the InvalidInputError a refused value gives.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "instasent/error.hpp"

namespace instasent::testing {

inline const double kNaN = std::numeric_limits<double>::quiet_NaN();

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Expects `action` to throw an InvalidInputError whose field() contains `field_part`, whose
// message and field do not contain `secret` and, when given, whose item_index() is `item_index`.
inline void ExpectRejected(const std::function<void()>& action, const std::string& field_part,
                           const std::string& secret,
                           std::optional<int> item_index = std::nullopt) {
  try {
    action();
    ADD_FAILURE() << "expected InvalidInputError for field containing '" << field_part << "'";
  } catch (const InvalidInputError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_TRUE(Contains(e.field(), field_part))
        << "field() = '" << e.field() << "', expected it to name '" << field_part << "'";
    EXPECT_FALSE(Contains(e.what(), secret)) << "message leaks the value: " << e.what();
    EXPECT_FALSE(Contains(e.field(), secret)) << "field leaks the value: " << e.field();
    if (item_index) {
      EXPECT_EQ(e.item_index(), *item_index);
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidInputError, got another exception: " << e.what();
  }
}

// Expects `builder` to write exactly `expected`, which must also be valid JSON (parseable by
// nlohmann).
template <typename Builder>
void ExpectJson(const Builder& builder, const std::string& expected) {
  const std::string actual = builder.to_json();
  EXPECT_EQ(actual, expected);
  EXPECT_TRUE(nlohmann::json::accept(actual)) << "not valid JSON: " << actual;
  Builder copy = builder;
  EXPECT_EQ(std::move(copy).to_json(), expected) << "taken from a copy";
}

// "[" and "]" around what two calls of `builder`'s append_json() add to one string, with a comma
// between them.
template <typename Builder>
std::string AppendedTwice(const Builder& builder) {
  std::string out = "[";
  builder.append_json(out);
  out += ",";
  builder.append_json(out);
  out += "]";
  return out;
}

}  // namespace instasent::testing
