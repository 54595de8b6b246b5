// SPDX-License-Identifier: Apache-2.0
// members.hpp: a builder's members, replaced in place by key.
#include <gtest/gtest.h>

#include "instasent/contact.hpp"
#include "instasent/event.hpp"
#include "instasent/value.hpp"

namespace instasent {
namespace {

TEST(Members, ReplacesOnlyTopLevelKeys) {
  // "b" exists inside the object value of "a": setting "b" adds a member, it does not touch "a".
  Event event("U", "E", "t");
  event.parameter("a", Value::object({{"b", 1}, {"c", "x,\"b\":"}}));
  event.parameter("b", 2);
  event.parameter("a", "replaced");
  EXPECT_EQ(event.to_json(), R"({"_user_id":"U","_event_id":"E","_event_type":"t",)"
                             R"("_event_parameters":{"a":"replaced","b":2}})");
}

TEST(Members, ReplacesValuesOfEveryShapeInPlace) {
  Contact contact("U");
  contact.attribute("s", "a,\"b\\").attribute("n", -1.5).attribute("l", {"x", "]", 3});
  contact.attribute("t", true);
  contact.attribute("s", 1).attribute("n", "two").attribute("l", nullptr);
  EXPECT_EQ(contact.to_json(), R"({"_user_id":"U","s":1,"n":"two","l":null,"t":true})");
}

}  // namespace
}  // namespace instasent
