// SPDX-License-Identifier: Apache-2.0
// instasent/http.hpp: header fields.
#include <gtest/gtest.h>

#include "instasent/http.hpp"

namespace instasent {
namespace {

TEST(HeadersTest, LooksUpCaseInsensitively) {
  Headers headers;
  headers.add("X-Request-Id", "r1");
  headers.add("x-request-id", "r2");
  EXPECT_EQ(headers.get("x-REQUEST-id"), "r1");
  EXPECT_FALSE(headers.get("X-Request").has_value());
}

}  // namespace
}  // namespace instasent
