// SPDX-License-Identifier: Apache-2.0
// The fast reader must agree with parse_batch_items on every body it accepts.
#include <gtest/gtest.h>

#include <random>

#include "batch_reader.hpp"
#include "instasent/batch_result.hpp"

namespace instasent::detail {
namespace {

const std::vector<std::string> kIds = {"U1", "U2", "U3"};

// Results of the fast reader, or nullopt when it declines the body.
std::optional<std::vector<ItemResult>> fast(const std::string& body, BatchKind kind) {
  const std::vector<std::string_view> ids(kIds.begin(), kIds.end());
  std::vector<ItemResult> out;
  if (!read_plain_documented_answer(body, kind, ids, 7, out)) {
    EXPECT_TRUE(out.empty());
    return std::nullopt;
  }
  return out;
}

std::vector<ItemResult> full(const std::string& body, BatchKind kind) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  return parse_batch_items(parsed.is_discarded() ? nlohmann::json() : parsed, kind, kIds, 7);
}

void expect_same(const std::vector<ItemResult>& a, const std::vector<ItemResult>& b,
                 const std::string& body) {
  ASSERT_EQ(a.size(), b.size()) << body;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index) << body;
    EXPECT_EQ(a[i].id, b[i].id) << body;
    EXPECT_EQ(a[i].status, b[i].status) << body;
    EXPECT_EQ(a[i].errors, b[i].errors) << body;
  }
}

// Checks agreement on `body`; returns whether the fast reader took it.
bool check(const std::string& body, BatchKind kind = BatchKind::contacts) {
  const auto quick = fast(body, kind);
  if (quick) expect_same(*quick, full(body, kind), body);
  return quick.has_value();
}

const std::string kPlain =
    R"({"entity":{"successful":3,"failed":0,"items":[{"status":"success","_user_id":"U1"},)"
    R"({"_user_id":"U2","status":"success","extra":[1,{"x":null}]},)"
    R"({"status":"success"}]},"meta":{"n":-1.5,"t":true,"z":0}})";

TEST(FastBatchReader, TakesThePlainDocumentedAnswer) {
  EXPECT_TRUE(check(kPlain));
  const auto results = fast(kPlain, BatchKind::contacts);
  ASSERT_TRUE(results);
  for (const auto& item : *results) EXPECT_EQ(item.status, ItemStatus::accepted);
  EXPECT_EQ((*results)[2].index, 9u);
}

TEST(FastBatchReader, AgreesOnOddButReadableAnswers) {
  EXPECT_TRUE(check(R"( { "entity" : { "items" : [ {"status":"success","_user_id":"U9"},)"
                    R"({"status":"pending"},{"status":1} ] } } )"));
  EXPECT_TRUE(check(R"({"entity":{"items":[{"status":"success"}]}})"));  // count mismatch
  EXPECT_TRUE(check(R"({"entity":{"items":[{"status":"success","_user_id":7},{},{}]}})"));
  EXPECT_TRUE(check(R"({"entity":{"items":[{"status":"success","_event_id":"U1"},{},{}]}})",
                    BatchKind::events));
}

TEST(FastBatchReader, DeclinesWhatItDoesNotHandle) {
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"error","errors":{"a":["b"]}},{},{}]}})"));
  EXPECT_FALSE(check(R"({"accepted":[{"position":0}],"errors":[]})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"succ\u0065ss"},{},{}]}})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"success","_user_id":"Ü"},{},{}]}})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[]},"entity":{"items":[]}})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[1,2,3]}})"));
  EXPECT_FALSE(check(R"({"entity":{}})"));
  EXPECT_FALSE(check(R"([])"));
  EXPECT_FALSE(check(""));
  EXPECT_FALSE(check(kPlain + "x"));
  // Exponents may overflow a double, which the full reader refuses: left to it.
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"success"},{},{}]},"n":1e999})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"success"},{},{}]},"n":1e2})"));
}

TEST(FastBatchReader, AgreesOnEveryTruncationAndMutation) {
  for (std::size_t n = 0; n < kPlain.size(); ++n) check(kPlain.substr(0, n));
  int taken = 0;
  std::mt19937 random(12345);
  const std::string alphabet = "{}[]\",:0123456789-+.eE \\tfnrusaclU_\x80";
  for (int round = 0; round < 20000; ++round) {
    std::string body = kPlain;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = random() % body.size();
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          body[at] = c;
          break;
        case 1:
          body.insert(body.begin() + static_cast<long>(at), c);
          break;
        default:
          body.erase(at, 1);
          break;
      }
    }
    taken += check(body) ? 1 : 0;
    check(body, BatchKind::events);
  }
  EXPECT_GT(taken, 1000);  // the comparison ran on many bodies the fast reader took
}

}  // namespace
}  // namespace instasent::detail
