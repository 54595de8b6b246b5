// SPDX-License-Identifier: Apache-2.0
// map_message: a Kafka message's value is read as an NDJSON line of an import, its key is the
// _user_id, and an event without _event_id gets one derived from where the message is.
#include "kafka_messages.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace instasent::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMax = 1 << 20;

KafkaMessage message(std::optional<std::string_view> key, std::optional<std::string_view> value,
                     std::int64_t offset = 42) {
  KafkaMessage m;
  m.topic = "events";
  m.partition = 3;
  m.offset = offset;
  m.key = key;
  m.value = value;
  return m;
}

TEST(KafkaMessages, AnEventWithoutIdGetsOneFromItsPlaceAndItsUserFromTheKey) {
  const MappedMessage mapped =
      map_message(ItemKind::events, message("U1", R"({"_event_type":"purchase"})"), kMax);
  ASSERT_TRUE(mapped.readable()) << mapped.item_json;
  const Event& event = std::get<Event>(mapped.item);
  EXPECT_EQ(event.user_id(), "U1");
  EXPECT_EQ(event.event_id(), "kafka-events-3-42");
  const json item = json::parse(mapped.item_json);
  EXPECT_EQ(item["_event_id"], "kafka-events-3-42") << "the dead letter shows it as sent";
  EXPECT_EQ(item["_user_id"], "U1");
}

TEST(KafkaMessages, AnEventIdGivenIsKept) {
  const MappedMessage mapped = map_message(
      ItemKind::events,
      message(std::nullopt, R"({"_user_id":"U1","_event_type":"purchase","_event_id":"e-1"})"),
      kMax);
  ASSERT_TRUE(mapped.readable());
  EXPECT_EQ(std::get<Event>(mapped.item).event_id(), "e-1");
}

TEST(KafkaMessages, TheSameMessageGetsTheSameIdAndAnotherOffsetAnother) {
  EXPECT_EQ(kafka_event_id("t", 0, 7), kafka_event_id("t", 0, 7));
  EXPECT_NE(kafka_event_id("t", 0, 7), kafka_event_id("t", 0, 8));
  EXPECT_NE(kafka_event_id("t", 1, 7), kafka_event_id("t", 0, 7));
  EXPECT_EQ(kafka_event_id("a-1", 2, 5), "kafka-a-1-2-5");
}

TEST(KafkaMessages, AKeyThatIsNotTheValuesUserIsRefused) {
  const MappedMessage mapped =
      map_message(ItemKind::contacts, message("U1", R"({"_user_id":"U2-secret-value"})"), kMax);
  EXPECT_FALSE(mapped.readable());
  ASSERT_EQ(mapped.errors.count("_user_id"), 1u);
  EXPECT_EQ(mapped.errors.at("_user_id").front(), "does not match the message key");
  EXPECT_EQ(mapped.errors.at("_user_id").front().find("U2-secret-value"), std::string::npos);
  EXPECT_EQ(json::parse(mapped.item_json)["_user_id"], "U2-secret-value") << "kept for fixing";
}

TEST(KafkaMessages, AKeyThatMatchesOrNoKeyAtAll) {
  EXPECT_TRUE(
      map_message(ItemKind::contacts, message("U1", R"({"_user_id":"U1"})"), kMax).readable());
  EXPECT_TRUE(map_message(ItemKind::contacts, message(std::nullopt, R"({"_user_id":"U1"})"), kMax)
                  .readable());
  EXPECT_TRUE(map_message(ItemKind::contacts, message("", R"({"_user_id":"U1"})"), kMax).readable())
      << "an empty key is no key";
  const MappedMessage none =
      map_message(ItemKind::contacts, message(std::nullopt, R"({"_email":"a@example.com"})"), kMax);
  EXPECT_FALSE(none.readable()) << "no key and no _user_id";
  EXPECT_EQ(none.errors.count("_user_id"), 1u);
}

TEST(KafkaMessages, UnreadableValuesSayWhyWithoutQuotingThem) {
  struct Case {
    std::optional<std::string_view> value;
    const char* problem;
    const char* item_json;
  };
  const Case cases[] = {
      {std::nullopt, "has no value (a tombstone): there is no item to send", "null"},
      {"{broken-secret", "is not valid JSON", "\"{broken-secret\""},
      {"[1,2]", "is not a JSON object", "\"[1,2]\""},
      {"\xff\xfe", "is not valid UTF-8", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
  };
  for (const Case& c : cases) {
    const MappedMessage mapped = map_message(ItemKind::contacts, message("U1", c.value), kMax);
    EXPECT_FALSE(mapped.readable());
    ASSERT_EQ(mapped.errors.count(""), 1u);
    const std::string& problem = mapped.errors.at("").front();
    EXPECT_EQ(problem.rfind(c.problem, 0), 0u) << problem;
    EXPECT_EQ(problem.find("secret"), std::string::npos) << problem;
    EXPECT_EQ(mapped.item_json, c.item_json);
  }
}

TEST(KafkaMessages, ATooLongValueIsNotCopied) {
  const std::string value(100, ' ');
  const MappedMessage mapped = map_message(ItemKind::contacts, message("U1", value), 50);
  EXPECT_FALSE(mapped.readable());
  EXPECT_EQ(mapped.errors.at("").front(), "is longer than 50 bytes");
  EXPECT_EQ(mapped.item_json, "null");
}

TEST(KafkaMessages, AnObjectTheBuildersRefuseNamesItsField) {
  const MappedMessage mapped = map_message(
      ItemKind::events, message("U1", R"({"_event_type":"purchase","surprise":1})"), kMax);
  EXPECT_FALSE(mapped.readable());
  EXPECT_EQ(mapped.errors.count("surprise"), 1u);
  EXPECT_EQ(json::parse(mapped.item_json)["surprise"], 1);
}

TEST(KafkaMessages, AKeyThatIsNotUtf8IsRefused) {
  const MappedMessage mapped =
      map_message(ItemKind::contacts, message("\xff", R"({"_email":"a@example.com"})"), kMax);
  EXPECT_FALSE(mapped.readable());
  EXPECT_EQ(mapped.errors.at("_user_id").front(),
            "is taken from the message key, which is not UTF-8");
}

}  // namespace
}  // namespace instasent::cli
