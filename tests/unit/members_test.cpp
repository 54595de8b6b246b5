// SPDX-License-Identifier: Apache-2.0
// members.hpp: a builder's members, replaced in place by key.
#include <gtest/gtest.h>

#include <string>

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

// A key is searched for only when its bit (of 64, by hash) was set by an earlier key: with more
// keys than bits, and keys that share a bit, every repeated key still replaces its member and
// every new one is added once.
TEST(Members, ManyKeysSharingBitsAreEachReplacedInPlace) {
  Contact contact("U");
  std::string expected = R"({"_user_id":"U")";
  for (int i = 0; i < 200; ++i) contact.attribute("k" + std::to_string(i), i);
  for (int i = 0; i < 200; i += 3) contact.attribute("k" + std::to_string(i), -i);
  for (int i = 0; i < 200; ++i) {
    expected += ",\"k" + std::to_string(i) + "\":" + std::to_string(i % 3 == 0 ? -i : i);
  }
  EXPECT_EQ(contact.to_json(), expected + "}");
  Event event("U", "E", "t");
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) event.parameter("p" + std::to_string(i), round);
  }
  const std::string json = event.to_json();
  EXPECT_EQ(json.find("\"p7\":0"), std::string::npos);
  EXPECT_NE(json.find("\"p7\":1"), std::string::npos);
  EXPECT_EQ(json.find("\"p7\":"), json.rfind("\"p7\":")) << "each key once";
}

}  // namespace
}  // namespace instasent
