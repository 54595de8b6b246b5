// SPDX-License-Identifier: Apache-2.0
// Unit tests for parse_batch_items and BatchResult.
//
// The spine of these tests: an item is reported `accepted` only when the server's answer says so
// for exactly that item. Anything ambiguous must come out `unknown`, never `accepted`.

#include "instasent/batch_result.hpp"
#include "batch_reader.hpp"
#include "instasent/limits.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace instasent {
namespace {

using detail::BatchKind;
using detail::parse_batch_items;
using nlohmann::json;
using S = ItemStatus;

const char* Name(ItemStatus s) {
  switch (s) {
    case S::accepted:
      return "accepted";
    case S::rejected:
      return "rejected";
    case S::unknown:
      return "unknown";
    case S::not_sent:
      return "not_sent";
  }
  return "?";
}

// Parses with exceptions off, as a client reading a body off the wire would.
json Body(const std::string& text) { return json::parse(text, nullptr, false); }

// Checks the parts of every result that never depend on the body: one result per input, in
// input order, with index = first_index + i and id = ids[i]. Then checks the statuses.
void ExpectStatuses(const std::vector<ItemResult>& items, const std::vector<std::string>& ids,
                    std::size_t first_index, const std::vector<ItemStatus>& expected) {
  ASSERT_EQ(items.size(), ids.size());
  ASSERT_EQ(expected.size(), ids.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].index, first_index + i) << "item " << i;
    EXPECT_EQ(items[i].id, ids[i]) << "item " << i;
    EXPECT_EQ(items[i].status, expected[i])
        << "item " << i << " is " << Name(items[i].status) << ", expected " << Name(expected[i]);
  }
}

// parse_batch_items() of `body`, which must not throw.
std::vector<ItemResult> Parse(const json& body, BatchKind kind, const std::vector<std::string>& ids,
                              std::size_t first_index = 0) {
  std::vector<ItemResult> items;
  EXPECT_NO_THROW(items = parse_batch_items(body, kind, ids, first_index));
  return items;
}

// Parses `body` (never throwing) and checks the results; returns them for further checks.
std::vector<ItemResult> ParseAndExpect(const json& body, BatchKind kind,
                                       const std::vector<std::string>& ids, std::size_t first_index,
                                       const std::vector<ItemStatus>& expected) {
  std::vector<ItemResult> items = Parse(body, kind, ids, first_index);
  ExpectStatuses(items, ids, first_index, expected);
  return items;
}

// Parses the contacts body `body` for the inputs "A" and "B" (never throwing). The input at
// `unaccounted` must come out unknown; the other one, reported unambiguously, accepted or unknown:
// distrusting the whole malformed body is also safe. What is not allowed is any other status.
void ExpectOneUnknownOtherAcceptedOrUnknown(const json& body, std::size_t unaccounted) {
  const std::vector<ItemResult> items = Parse(body, BatchKind::contacts, {"A", "B"});
  ASSERT_EQ(items.size(), 2U);
  const ItemStatus reported = items[1 - unaccounted].status;
  EXPECT_EQ(items[unaccounted].status, S::unknown) << Name(items[unaccounted].status);
  EXPECT_TRUE(reported == S::accepted || reported == S::unknown) << Name(reported);
}

void ExpectAllUnknown(const json& body, BatchKind kind, const std::vector<std::string>& ids,
                      std::size_t first_index = 0) {
  ParseAndExpect(body, kind, ids, first_index, std::vector<ItemStatus>(ids.size(), S::unknown));
}

// ---- documented shape, contacts --------------------------------------------------------------

TEST(ParseBatchItemsTest, DocumentedShapeAllSuccessContacts) {
  const json body = Body(R"({"entity": {"successful": 2, "failed": 0, "items": [
      {"status": "success", "_user_id": "USER-1"},
      {"status": "success", "_user_id": "USER-2"}]}})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"USER-1", "USER-2"}, 0,
                              {S::accepted, S::accepted});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_TRUE(items[0].errors.empty());
  EXPECT_TRUE(items[1].errors.empty());
}

TEST(ParseBatchItemsTest, DocumentedShapePartialContacts) {
  const json body = Body(R"({"entity": {"successful": 2, "failed": 1, "items": [
      {"status": "success", "_user_id": "USER-1"},
      {"status": "success", "_user_id": "USER-2"},
      {"status": "error", "_user_id": "USER-3", "errors": {"_email": ["Invalid format"]}}]}})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"USER-1", "USER-2", "USER-3"}, 0,
                              {S::accepted, S::accepted, S::rejected});
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[2].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_TRUE(items[0].errors.empty());
}

TEST(ParseBatchItemsTest, DocumentedShapeSeveralErrorsPerItem) {
  const json body = Body(R"({"entity": {"successful": 0, "failed": 1, "items": [
      {"status": "error", "_user_id": "A",
       "errors": {"_email": ["Invalid format", "Too long"], "_phone_mobile": ["Invalid"]}}]}})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A"}, 0, {S::rejected});
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"_email", {"Invalid format", "Too long"}},
                                          {"_phone_mobile", {"Invalid"}}}));
}

// At most kMaxErrorFields fields are kept; the messages of the others are counted under "".
TEST(ParseBatchItemsTest, KeepsAtMostTheLimitOfErrorFields) {
  json errors = json::object();
  for (std::size_t i = 0; i < kMaxErrorFields + 5; ++i) {
    errors["field" + std::to_string(1000 + i)] = json::array({"bad", "worse"});
  }
  const json body = {
      {"entity",
       {{"items", json::array({{{"status", "error"}, {"_user_id", "A"}, {"errors", errors}}})}}}};
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A"}, 0, {S::rejected});
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].errors.size(), kMaxErrorFields + 1);
  EXPECT_EQ(items[0].errors.at(""), std::vector<std::string>{"(10 more errors not kept)"});
  EXPECT_EQ(items[0].errors.count("field1000"), 1u);
  EXPECT_EQ(items[0].errors.count("field" + std::to_string(1000 + kMaxErrorFields)), 0u);
}

TEST(ParseBatchItemsTest, Documented422ShapeAllErrorContacts) {
  const json body = Body(R"({"entity": {"successful": 0, "failed": 2, "items": [
      {"status": "error", "_user_id": "A", "errors": {"_email": ["Invalid format"]}},
      {"status": "error", "_user_id": "B", "errors": {"_phone_mobile": ["Invalid format"]}}]}})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::rejected, S::rejected});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
  EXPECT_EQ(items[1].errors, (FieldErrors{{"_phone_mobile", {"Invalid format"}}}));
}

// ---- documented shape, events ----------------------------------------------------------------

TEST(ParseBatchItemsTest, DocumentedShapeAllSuccessEvents) {
  const json body = Body(R"({"entity": {"successful": 2, "failed": 0, "items": [
      {"status": "success", "_user_id": "U", "_event_id": "E1"},
      {"status": "success", "_user_id": "U", "_event_id": "E2"}]}})");
  ParseAndExpect(body, BatchKind::events, {"E1", "E2"}, 0, {S::accepted, S::accepted});
}

TEST(ParseBatchItemsTest, DocumentedShapePartialEvents) {
  const json body = Body(R"({"entity": {"successful": 1, "failed": 1, "items": [
      {"status": "error", "_user_id": "U", "_event_id": "E1",
       "errors": {"_event_type": ["Unknown event type"]}},
      {"status": "success", "_user_id": "U", "_event_id": "E2"}]}})");
  auto items = ParseAndExpect(body, BatchKind::events, {"E1", "E2"}, 0, {S::rejected, S::accepted});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"_event_type", {"Unknown event type"}}}));
}

TEST(ParseBatchItemsTest, Documented422ShapeAllErrorEvents) {
  const json body = Body(R"({"entity": {"successful": 0, "failed": 2, "items": [
      {"status": "error", "_user_id": "U", "_event_id": "E1", "errors": {"_user_id": ["Missing"]}},
      {"status": "error", "_user_id": "U", "_event_id": "E2",
       "errors": {"_event_date": ["Unparsable"]}}]}})");
  auto items = ParseAndExpect(body, BatchKind::events, {"E1", "E2"}, 0, {S::rejected, S::rejected});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[1].errors, (FieldErrors{{"_event_date", {"Unparsable"}}}));
}

TEST(ParseBatchItemsTest, EventsAreMatchedByEventIdNotUserId) {
  // The user ids differ from the event ids passed in; only `_event_id` identifies an event.
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "SOMEONE", "_event_id": "E1"}]}})");
  ParseAndExpect(body, BatchKind::events, {"E1"}, 0, {S::accepted});
  // And an event answer whose _user_id happens to equal the input id but whose _event_id
  // differs is not a match.
  const json mismatched = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "E1", "_event_id": "OTHER"}]}})");
  ParseAndExpect(mismatched, BatchKind::events, {"E1"}, 0, {S::unknown});
}

// ---- connectors' shape -----------------------------------------------------------------------

TEST(ParseBatchItemsTest, ConnectorsShapeContacts) {
  const json body = Body(R"({"success":true,"entitiesSuccess":1,)"
                         R"("accepted":[{"position":0,"item":{"_user_id":"A"}}],)"
                         R"("errors":[{"position":1,"item":{"_user_id":"B"},)"
                         R"("error":{"_email":["Invalid format"]}}]})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::accepted, S::rejected});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_TRUE(items[0].errors.empty());
  EXPECT_EQ(items[1].errors, (FieldErrors{{"_email", {"Invalid format"}}}));
}

TEST(ParseBatchItemsTest, ConnectorsShapeFullResponse) {
  const json body = Body(R"({"success": true, "status": 202, "entitiesSuccess": 1,
      "entitiesFailures": 1, "entitiesLimit": 100, "dryRun": false,
      "accepted": [{"position": 1, "item": {"_user_id": "B"}}],
      "errors": [{"position": 0, "item": {"_user_id": "A"}, "error": {"_email": ["Bad"]}}]})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::rejected, S::accepted});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"_email", {"Bad"}}}));
}

TEST(ParseBatchItemsTest, ConnectorsShapeEvents) {
  const json body = Body(R"({"success": true,
      "accepted": [{"position": 0, "item": {"_user_id": "U", "_event_id": "E1"}}],
      "errors": [{"position": 1, "item": {"_user_id": "U", "_event_id": "E2"},
                  "error": {"_event_date": ["Unparsable"]}}]})");
  auto items = ParseAndExpect(body, BatchKind::events, {"E1", "E2"}, 0, {S::accepted, S::rejected});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[1].errors, (FieldErrors{{"_event_date", {"Unparsable"}}}));
}

TEST(ParseBatchItemsTest, ConnectorsShapeErrorAsPlainString) {
  const json body = Body(R"({"success": false, "accepted": [],
      "errors": [{"position": 0, "item": {"_user_id": "A"}, "error": "Contact is blocked"}]})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A"}, 0, {S::rejected});
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"", {"Contact is blocked"}}}));
}

TEST(ParseBatchItemsTest, ConnectorsShapeErrorAsFieldToString) {
  const json body = Body(R"({"success": false, "accepted": [],
      "errors": [{"position": 0, "item": {"_user_id": "A"},
                  "error": {"_email": "Invalid format", "_phone_mobile": "Invalid"}}]})");
  auto items = ParseAndExpect(body, BatchKind::contacts, {"A"}, 0, {S::rejected});
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].errors,
            (FieldErrors{{"_email", {"Invalid format"}}, {"_phone_mobile", {"Invalid"}}}));
}

// ---- first_index -----------------------------------------------------------------------------

TEST(ParseBatchItemsTest, FirstIndexOffsetsDocumentedShape) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "C100"},
      {"status": "error", "_user_id": "C101", "errors": {"_email": ["Invalid format"]}}]}})");
  ParseAndExpect(body, BatchKind::contacts, {"C100", "C101"}, 100, {S::accepted, S::rejected});
}

TEST(ParseBatchItemsTest, FirstIndexOffsetsConnectorsShape) {
  // Positions are 0-based within the request; index is first_index + position.
  const json body = Body(R"({"accepted": [{"position": 1, "item": {"_user_id": "C101"}}],
      "errors": [{"position": 0, "item": {"_user_id": "C100"}, "error": "blocked"}]})");
  auto items =
      ParseAndExpect(body, BatchKind::contacts, {"C100", "C101"}, 100, {S::rejected, S::accepted});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].index, 100U);
  EXPECT_EQ(items[0].errors, (FieldErrors{{"", {"blocked"}}}));
}

TEST(ParseBatchItemsTest, FirstIndexOffsetsUnknownItemsToo) {
  ExpectAllUnknown(Body("{}"), BatchKind::events, {"E1", "E2", "E3"}, 37);
}

// ---- item count and id mismatches ------------------------------------------------------------

TEST(ParseBatchItemsTest, FewerItemsThanInputMakesEveryItemUnknown) {
  const json body = Body(R"({"entity": {"items": [{"status": "success", "_user_id": "A"}]}})");
  ExpectAllUnknown(body, BatchKind::contacts, {"A", "B"});
}

TEST(ParseBatchItemsTest, MoreItemsThanInputMakesEveryItemUnknown) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "A"},
      {"status": "success", "_user_id": "B"},
      {"status": "success", "_user_id": "C"}]}})");
  ExpectAllUnknown(body, BatchKind::contacts, {"A", "B"});
}

TEST(ParseBatchItemsTest, ItemCountMismatchForEvents) {
  const json fewer = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "U", "_event_id": "E1"}]}})");
  ExpectAllUnknown(fewer, BatchKind::events, {"E1", "E2"});
  const json more = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "U", "_event_id": "E1"},
      {"status": "success", "_user_id": "U", "_event_id": "E2"}]}})");
  ExpectAllUnknown(more, BatchKind::events, {"E1"});
}

TEST(ParseBatchItemsTest, EmptyItemsForNonEmptyInputIsAllUnknown) {
  ExpectAllUnknown(Body(R"({"entity": {"successful": 0, "failed": 0, "items": []}})"),
                   BatchKind::contacts, {"A"});
}

TEST(ParseBatchItemsTest, ContactWithADifferentUserIdIsUnknown) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "A"},
      {"status": "success", "_user_id": "NOT-B"},
      {"status": "error", "_user_id": "NOT-C", "errors": {"_email": ["Invalid format"]}}]}})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B", "C"}, 0,
                 {S::accepted, S::unknown, S::unknown});
}

TEST(ParseBatchItemsTest, SwappedItemsAreUnknown) {
  // The right ids, in the wrong order: the body does not say which outcome is whose.
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "B"},
      {"status": "error", "_user_id": "A", "errors": {"_email": ["Invalid format"]}}]}})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::unknown, S::unknown});
}

TEST(ParseBatchItemsTest, EventWithADifferentEventIdIsUnknown) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "U", "_event_id": "E1"},
      {"status": "success", "_user_id": "U", "_event_id": "E-OTHER"}]}})");
  ParseAndExpect(body, BatchKind::events, {"E1", "E2"}, 0, {S::accepted, S::unknown});
}

TEST(ParseBatchItemsTest, IdComparisonIsExact) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "a"},
      {"status": "success", "_user_id": "B "},
      {"status": "success", "_user_id": 3}]}})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B", "3"}, 0,
                 {S::unknown, S::unknown, S::unknown});
}

TEST(ParseBatchItemsTest, ConnectorsShapeItemWithADifferentIdIsUnknown) {
  const json body = Body(R"({"accepted": [{"position": 0, "item": {"_user_id": "A"}},
                                          {"position": 1, "item": {"_user_id": "NOT-B"}}],
                             "errors": []})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::accepted, S::unknown});
}

// ---- statuses --------------------------------------------------------------------------------

TEST(ParseBatchItemsTest, StatusOtherThanSuccessOrErrorIsUnknown) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "A"},
      {"status": "pending", "_user_id": "B"},
      {"status": "SUCCESS", "_user_id": "C"},
      {"status": true, "_user_id": "D"},
      {"_user_id": "E"},
      {"status": "error", "_user_id": "F", "errors": {"_email": ["Invalid format"]}}]}})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B", "C", "D", "E", "F"}, 0,
                 {S::accepted, S::unknown, S::unknown, S::unknown, S::unknown, S::rejected});
}

TEST(ParseBatchItemsTest, ItemThatIsNotAnObjectIsUnknown) {
  const json body = Body(R"({"entity": {"items": [
      {"status": "success", "_user_id": "A"}, "success", null]}})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B", "C"}, 0,
                 {S::accepted, S::unknown, S::unknown});
}

// ---- connectors' shape: positions ------------------------------------------------------------

TEST(ParseBatchItemsTest, ConnectorsShapeMissingPositionIsUnknown) {
  const json body = Body(R"({"accepted": [{"position": 0, "item": {"_user_id": "A"}}],
      "errors": [{"position": 1, "item": {"_user_id": "B"}, "error": "bad"}]})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B", "C"}, 0,
                 {S::accepted, S::rejected, S::unknown});
}

TEST(ParseBatchItemsTest, ConnectorsShapeEntryWithoutPositionAccountsForNothing) {
  const json body = Body(R"({"accepted": [{"item": {"_user_id": "A"}},
                                          {"position": 1, "item": {"_user_id": "B"}}]})");
  // B is accounted for.
  ExpectOneUnknownOtherAcceptedOrUnknown(body, 0);
}

TEST(ParseBatchItemsTest, ConnectorsShapeDuplicateAcceptedPositionIsUnknown) {
  const json body = Body(R"({"accepted": [{"position": 0, "item": {"_user_id": "A"}},
                                          {"position": 0, "item": {"_user_id": "A"}},
                                          {"position": 1, "item": {"_user_id": "B"}}],
                             "errors": []})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::unknown, S::accepted});
}

TEST(ParseBatchItemsTest, ConnectorsShapeDuplicateErrorPositionIsUnknown) {
  const json body = Body(R"({"accepted": [{"position": 1, "item": {"_user_id": "B"}}],
      "errors": [{"position": 0, "item": {"_user_id": "A"}, "error": "one"},
                 {"position": 0, "item": {"_user_id": "A"}, "error": "two"}]})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::unknown, S::accepted});
}

TEST(ParseBatchItemsTest, ConnectorsShapePositionBothAcceptedAndErrorIsUnknown) {
  const json body = Body(R"({"accepted": [{"position": 0, "item": {"_user_id": "A"}},
                                          {"position": 1, "item": {"_user_id": "B"}}],
      "errors": [{"position": 0, "item": {"_user_id": "A"}, "error": {"_email": ["Bad"]}}]})");
  ParseAndExpect(body, BatchKind::contacts, {"A", "B"}, 0, {S::unknown, S::accepted});
}

TEST(ParseBatchItemsTest, ConnectorsShapeOutOfRangePositionNeverAccepts) {
  const json body = Body(R"({"accepted": [{"position": 0, "item": {"_user_id": "A"}},
                                          {"position": 2, "item": {"_user_id": "B"}}],
                             "errors": []})");
  // B's outcome was reported at a position that names no input: B is unaccounted for. A was
  // reported unambiguously.
  ExpectOneUnknownOtherAcceptedOrUnknown(body, 1);
}

TEST(ParseBatchItemsTest, ConnectorsShapeInvalidPositionsAreUnknown) {
  const json body = Body(R"({"accepted": [{"position": -1, "item": {"_user_id": "A"}},
                                          {"position": "1", "item": {"_user_id": "B"}},
                                          {"position": 2.5, "item": {"_user_id": "C"}},
                                          {"position": null, "item": {"_user_id": "D"}}],
                             "errors": []})");
  const std::vector<ItemResult> items = Parse(body, BatchKind::contacts, {"A", "B", "C", "D"});
  ASSERT_EQ(items.size(), 4U);
  for (const ItemResult& item : items) {
    EXPECT_EQ(item.status, S::unknown) << item.id << " is " << Name(item.status);
  }
}

TEST(ParseBatchItemsTest, ConnectorsShapeHugePositionDoesNotOverflow) {
  const json body = Body(R"({"accepted": [{"position": 18446744073709551615,
                                           "item": {"_user_id": "A"}},
                                          {"position": 1, "item": {"_user_id": "B"}}]})");
  ExpectOneUnknownOtherAcceptedOrUnknown(body, 0);
}

TEST(ParseBatchItemsTest, ConnectorsShapeListsThatAreNotArraysAreUnknown) {
  ExpectAllUnknown(Body(R"({"accepted": "all", "errors": []})"), BatchKind::contacts, {"A"});
  ExpectAllUnknown(Body(R"({"accepted": [], "errors": {"0": "bad"}})"), BatchKind::contacts, {"A"});
}

// ---- unreadable bodies -----------------------------------------------------------------------

TEST(ParseBatchItemsTest, UnreadableBodiesMakeEveryItemUnknown) {
  const std::vector<std::string> ids = {"A", "B"};
  for (BatchKind kind : {BatchKind::contacts, BatchKind::events}) {
    SCOPED_TRACE(kind == BatchKind::contacts ? "contacts" : "events");
    ExpectAllUnknown(json(nullptr), kind, ids);
    ExpectAllUnknown(json("success"), kind, ids);
    ExpectAllUnknown(json(202), kind, ids);
    ExpectAllUnknown(json(true), kind, ids);
    ExpectAllUnknown(json::array(), kind, ids);
    ExpectAllUnknown(Body(R"([{"status":"success","_user_id":"A","_event_id":"A"},)"
                          R"({"status":"success","_user_id":"B","_event_id":"B"}])"),
                     kind, ids);
    ExpectAllUnknown(json::object(), kind, ids);
    ExpectAllUnknown(Body(R"({"message": "Accepted"})"), kind, ids);
    ExpectAllUnknown(Body(R"({"entity": null})"), kind, ids);
    ExpectAllUnknown(Body(R"({"entity": {}})"), kind, ids);
    ExpectAllUnknown(Body(R"({"entity": {"successful": 2, "failed": 0}})"), kind, ids);
    ExpectAllUnknown(Body(R"({"entity": {"items": "all"}})"), kind, ids);
    ExpectAllUnknown(Body(R"({"entity": []})"), kind, ids);
    ExpectAllUnknown(Body(R"({"success": true, "entitiesSuccess": 2})"), kind, ids);
  }
}

TEST(ParseBatchItemsTest, TruncatedJsonMakesEveryItemUnknown) {
  const json truncated = Body(R"({"entity": {"items": [{"status": "success", "_user_id": "A"})");
  ASSERT_TRUE(truncated.is_discarded());
  ExpectAllUnknown(truncated, BatchKind::contacts, {"A", "B"});
  ExpectAllUnknown(truncated, BatchKind::events, {"A", "B"});
  const json empty = Body("");
  ASSERT_TRUE(empty.is_discarded());
  ExpectAllUnknown(empty, BatchKind::contacts, {"A"});
}

TEST(ParseBatchItemsTest, NoInputsGiveNoResults) {
  EXPECT_TRUE(Parse(json::object(), BatchKind::contacts, {}, 5).empty());
  EXPECT_TRUE(Parse(Body(R"({"entity": {"items": []}})"), BatchKind::events, {}).empty());
}

// ---- BatchResult -----------------------------------------------------------------------------

ItemResult Item(std::size_t index, const std::string& id, ItemStatus status,
                FieldErrors errors = {}) {
  ItemResult r;
  r.index = index;
  r.id = id;
  r.status = status;
  r.errors = std::move(errors);
  return r;
}

BatchResult Mixed() {
  return BatchResult({Item(0, "A", S::accepted), Item(1, "B", S::rejected, {{"_email", {"Bad"}}}),
                      Item(2, "C", S::unknown), Item(3, "D", S::not_sent, {{"", {"429"}}}),
                      Item(4, "E", S::rejected, {{"", {"blocked"}}}), Item(5, "F", S::accepted)},
                     {});
}

TEST(BatchResultTest, DefaultIsEmpty) {
  BatchResult r;
  EXPECT_EQ(r.size(), 0U);
  EXPECT_TRUE(r.items().empty());
  EXPECT_TRUE(r.requests().empty());
  EXPECT_EQ(r.count(S::accepted), 0U);
  EXPECT_TRUE(r.failed().empty());
}

TEST(BatchResultTest, CountsEachStatus) {
  const BatchResult r = Mixed();
  EXPECT_EQ(r.size(), 6U);
  EXPECT_EQ(r.count(S::accepted), 2U);
  EXPECT_EQ(r.count(S::rejected), 2U);
  EXPECT_EQ(r.count(S::unknown), 1U);
  EXPECT_EQ(r.count(S::not_sent), 1U);
}

TEST(BatchResultTest, FailedIsOnlyRejectedInInputOrder) {
  const std::vector<ItemResult> failed = Mixed().failed();
  ASSERT_EQ(failed.size(), 2U);
  EXPECT_EQ(failed[0].id, "B");
  EXPECT_EQ(failed[0].index, 1U);
  EXPECT_EQ(failed[0].errors, (FieldErrors{{"_email", {"Bad"}}}));
  EXPECT_EQ(failed[1].id, "E");
  EXPECT_EQ(failed[1].index, 4U);
}

TEST(BatchResultTest, WithStatus) {
  const BatchResult r = Mixed();
  const auto accepted = r.with_status(S::accepted);
  ASSERT_EQ(accepted.size(), 2U);
  EXPECT_EQ(accepted[0].id, "A");
  EXPECT_EQ(accepted[1].id, "F");
  const auto unknown = r.with_status(S::unknown);
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown[0].id, "C");
  const auto not_sent = r.with_status(S::not_sent);
  ASSERT_EQ(not_sent.size(), 1U);
  EXPECT_EQ(not_sent[0].id, "D");
  EXPECT_EQ(not_sent[0].errors, (FieldErrors{{"", {"429"}}}));
}

TEST(BatchResultTest, UnknownIsNeverAccepted) {
  const BatchResult r({Item(0, "A", S::accepted), Item(1, "B", S::unknown)}, {});
  EXPECT_FALSE(r.all_accepted());
  EXPECT_EQ(r.count(S::accepted), 1U);
  EXPECT_TRUE(r.failed().empty());  // unknown is not "rejected" either: it must be resent
  const auto unknown = r.with_status(S::unknown);
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown[0].id, "B");
}

TEST(BatchResultTest, AllAccepted) {
  EXPECT_TRUE(
      BatchResult({Item(0, "A", S::accepted), Item(1, "B", S::accepted)}, {}).all_accepted());
  EXPECT_FALSE(Mixed().all_accepted());
  EXPECT_FALSE(BatchResult({Item(0, "A", S::not_sent)}, {}).all_accepted());
  EXPECT_FALSE(BatchResult({Item(0, "A", S::rejected)}, {}).all_accepted());
  EXPECT_FALSE(BatchResult({Item(0, "A", S::unknown)}, {}).all_accepted());
}

TEST(BatchResultTest, IndexOperator) {
  const BatchResult r = Mixed();
  EXPECT_EQ(r[0].id, "A");
  EXPECT_EQ(r[2].status, S::unknown);
  EXPECT_EQ(r[5].id, "F");
  EXPECT_THROW((void)r[6], std::out_of_range);
}

TEST(BatchResultTest, KeepsRequests) {
  BatchRequest req;
  req.first_index = 0;
  req.item_count = 1;
  req.http_status = 202;
  req.request_id = "req-1";
  req.body = "{}";
  BatchResult r({Item(0, "A", S::accepted)}, {req});
  ASSERT_EQ(r.requests().size(), 1U);
  EXPECT_EQ(r.requests()[0].http_status, 202);
  EXPECT_EQ(r.requests()[0].parsed_body(), json::object());
  req.body = "{trunc";
  EXPECT_TRUE(req.parsed_body().is_null());
  EXPECT_EQ(r.requests()[0].request_id, "req-1");
  EXPECT_TRUE(r.all_accepted());
  EXPECT_FALSE(BatchResult({Item(0, "A", S::unknown)}, {req}).all_accepted());
  EXPECT_TRUE(BatchResult().requests().empty());
}

TEST(BatchResultTest, ParsedUnreadableBodyIsNotAllAccepted) {
  const std::vector<std::string> ids = {"A", "B"};
  const BatchResult r(
      parse_batch_items(Body("{\"entity\": {\"items\": ["), BatchKind::contacts, ids, 0), {});
  EXPECT_EQ(r.size(), 2U);
  EXPECT_FALSE(r.all_accepted());
  EXPECT_EQ(r.count(S::accepted), 0U);
  EXPECT_EQ(r.count(S::unknown), 2U);
  EXPECT_TRUE(r.failed().empty());
}

TEST(BatchResultTest, ParsedPartialAnswer) {
  const BatchResult r(parse_batch_items(Body(R"({"entity": {"items": [
          {"status": "success", "_user_id": "A"},
          {"status": "error", "_user_id": "B", "errors": {"_email": ["Invalid format"]}},
          {"status": "success", "_user_id": "WRONG"}]}})"),
                                        BatchKind::contacts, {"A", "B", "C"}, 10),
                      {});
  EXPECT_EQ(r.count(S::accepted), 1U);
  EXPECT_EQ(r.count(S::rejected), 1U);
  EXPECT_EQ(r.count(S::unknown), 1U);
  EXPECT_FALSE(r.all_accepted());
  ASSERT_EQ(r.failed().size(), 1U);
  EXPECT_EQ(r.failed()[0].index, 11U);
  EXPECT_EQ(r[2].index, 12U);
  EXPECT_EQ(r[2].status, S::unknown);
}

TEST(ItemStatusTest, ToString) {
  const ItemStatus all[] = {S::accepted, S::rejected, S::unknown, S::not_sent};
  std::vector<std::string> names;
  for (ItemStatus s : all) {
    const char* name = to_string(s);
    ASSERT_NE(name, nullptr);
    EXPECT_STRNE(name, "");
    names.emplace_back(name);
  }
  EXPECT_NE(names[0].find("accepted"), std::string::npos) << names[0];
  EXPECT_NE(names[1].find("rejected"), std::string::npos) << names[1];
  EXPECT_NE(names[2].find("unknown"), std::string::npos) << names[2];
  EXPECT_NE(names[3].find("not"), std::string::npos) << names[3];
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = i + 1; j < names.size(); ++j) {
      EXPECT_NE(names[i], names[j]);
    }
  }
}

}  // namespace
}  // namespace instasent
