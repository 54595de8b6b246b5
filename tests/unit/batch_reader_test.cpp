// SPDX-License-Identifier: Apache-2.0
// The fast reader must agree with parse_batch_items on every body it accepts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "batch_reader.hpp"
#include "instasent/batch_result.hpp"
#include "support/printers.hpp"

namespace instasent::detail {
namespace {

const std::vector<std::string> kIds = {"U1", "U2", "U3"};

// Results of the fast reader, or nullopt when it declines the body.
std::optional<std::vector<ItemResult>> fast(const std::string& body, BatchKind kind,
                                            const std::vector<std::string>& ids = kIds) {
  const std::vector<std::string_view> views(ids.begin(), ids.end());
  std::vector<ItemResult> out;
  if (!read_plain_documented_answer(body, kind, views, 7, out)) {
    EXPECT_TRUE(out.empty());
    return std::nullopt;
  }
  return out;
}

std::vector<ItemResult> full(const std::string& body, BatchKind kind,
                             const std::vector<std::string>& ids = kIds) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  return parse_batch_items(parsed.is_discarded() ? nlohmann::json() : parsed, kind, ids, 7);
}

void expect_same(const std::vector<ItemResult>& a, const std::vector<ItemResult>& b,
                 const std::string& body) {
  ASSERT_EQ(a.size(), b.size()) << body;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index) << body;
    EXPECT_EQ(a[i].id, b[i].id) << body;
    EXPECT_EQ(a[i].status, b[i].status) << "item " << i << " of " << body;
    EXPECT_EQ(a[i].errors, b[i].errors) << body;
  }
}

// Checks agreement on `body`; returns whether the fast reader took it.
bool check(const std::string& body, BatchKind kind = BatchKind::contacts,
           const std::vector<std::string>& ids = kIds) {
  const auto quick = fast(body, kind, ids);
  if (quick) expect_same(*quick, full(body, kind, ids), body);
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
  // Two statuses in one item: the full reader keeps the last, whichever it is.
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"success","status":"pending"},{},{}]}})"));
  EXPECT_FALSE(check(R"({"entity":{"items":[{"status":"pending","status":"success"},{},{}]}})"));
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

// --- Generated answers --------------------------------------------------------------------------
//
// Answer bodies written by hand from a seeded generator, so that whitespace, key order, escapes
// and duplicate keys vary (a JSON library's dump would normalise them all): 0 to 300 items,
// accepted and rejected mixes, ids that need escaping or are not ASCII, extra fields, items out
// of order, missing, or about another id. The fast reader may decline any of them; whatever it
// answers must be what parse_batch_items answers.

// How far a generated answer strays from what a server normally sends.
enum class Shape {
  // The answer to a batch that went through: the documented shape, every item "success" naming
  // its own plain ASCII id, in order. The fast reader exists for these: it must take every one.
  plain,
  // Text the fast reader can scan (ASCII, no escapes, no exponents) saying odd things: other
  // statuses, rejections, ids missing or wrong, two statuses, items out of order or missing.
  odd,
  // Anything: escapes, UTF-8, exponents, other shapes, bodies cut short.
  wild,
};

struct GeneratedAnswer {
  Shape shape = Shape::plain;
  BatchKind kind = BatchKind::contacts;
  std::vector<std::string> ids;  // the batch's ids
  std::string body;
};

class AnswerGenerator {
 public:
  explicit AnswerGenerator(std::uint64_t seed) : random_(seed) {}

  GeneratedAnswer next() {
    GeneratedAnswer answer;
    const double roll = fraction();
    shape_ = roll < 0.35 ? Shape::plain : roll < 0.75 ? Shape::odd : Shape::wild;
    ascii_ = shape_ != Shape::wild;
    spaced_ = chance(0.5);
    answer.shape = shape_;
    answer.kind = chance(0.5) ? BatchKind::events : BatchKind::contacts;
    const std::size_t count = item_count();
    // How often an item strays: about once per odd answer, often in wild ones.
    oddity_ = shape_ == Shape::plain ? 0.0
              : shape_ == Shape::odd ? std::min(0.5, 1.5 / static_cast<double>(count + 1))
                                     : 0.3;
    for (std::size_t i = 0; i < count; ++i) answer.ids.push_back(id(i));
    answer.body = body(answer.kind, answer.ids);
    if (shape_ == Shape::wild && chance(0.05)) {
      answer.body.resize(below(answer.body.size() + 1));  // cut short
    }
    return answer;
  }

 private:
  double fraction() { return std::uniform_real_distribution<double>(0, 1)(random_); }
  bool chance(double p) { return fraction() < p; }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : random_() % n; }
  template <typename T>
  const T& one_of(const std::vector<T>& choices) {
    return choices[below(choices.size())];
  }

  // Mostly small batches, some up to the API's 100 items and a few past it.
  std::size_t item_count() {
    const double roll = fraction();
    if (roll < 0.5) return below(11);
    if (roll < 0.9) return below(101);
    return below(301);
  }

  std::string id(std::size_t i) {
    const std::string number = std::to_string(i) + "-" + std::to_string(below(1000));
    if (ascii_ || chance(0.6)) {
      return one_of<std::string>({"U", "user_", "E", "evt-", "a.b@c:", "x y "}) + number;
    }
    return one_of<std::string>({"quote\"", "back\\slash", "tab\t", "nl\n", "slash/", "ctl\x01",
                                "Zo\xC3\xAB", "\xE7\x94\xA8\xE6\x88\xB7", "\xF0\x9F\x98\x80",
                                "mix\"\\\xC3\xA9/", "bad\xFF"}) +
           number;
  }

  // Optional whitespace between tokens.
  std::string space() {
    if (!spaced_ || chance(0.5)) return "";
    return one_of<std::string>({" ", "\n", "\t", "\r\n", "  \n\t "});
  }

  // `text` as a JSON string. What must be escaped is, in either form; in wild answers other
  // characters sometimes are too (\u0055 for U, \ud83d\ude00 for an emoji).
  std::string quoted(const std::string& text) {
    std::string out = "\"";
    const bool free_escapes = !ascii_ && chance(0.2);
    for (std::size_t i = 0; i < text.size();) {
      const auto c = static_cast<unsigned char>(text[i]);
      const std::size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n' && chance(0.5)) {
        out += "\\n";
      } else if (c == '/' && free_escapes) {
        out += "\\/";
      } else if (c < 0x20 || (free_escapes && chance(0.3))) {
        out += unicode_escape(text.substr(i, length));
      } else {
        out.append(text, i, length);
      }
      i += length;
    }
    return out + "\"";
  }

  // One UTF-8 character as \uXXXX (a surrogate pair past the BMP).
  static std::string unicode_escape(const std::string& utf8) {
    const auto byte = [&](std::size_t i) {
      return i < utf8.size() ? static_cast<unsigned char>(utf8[i]) & 0x3Fu : 0u;
    };
    const auto lead = static_cast<unsigned char>(utf8[0]);
    std::uint32_t code = lead;
    if (lead >= 0xF0) {
      code = ((lead & 0x07u) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3);
    } else if (lead >= 0xE0) {
      code = ((lead & 0x0Fu) << 12) | (byte(1) << 6) | byte(2);
    } else if (lead >= 0xC0) {
      code = ((lead & 0x1Fu) << 6) | byte(1);
    }
    const auto hex = [](std::uint32_t unit) {
      char text[8];
      std::snprintf(text, sizeof text, "\\u%04x", static_cast<unsigned>(unit & 0xFFFFu));
      return std::string(text);
    };
    if (code < 0x10000) return hex(code);
    code -= 0x10000;
    return hex(0xD800 + (code >> 10)) + hex(0xDC00 + (code & 0x3FF));
  }

  // A value for a field nobody reads: numbers in several forms (with an exponent only in wild
  // answers), strings, literals, nested arrays and objects.
  std::string value(int depth) {
    switch (below(depth < 3 ? 7 : 5)) {
      case 0:
        return one_of<std::string>({"0", "-1.5", "42", "12345678901234567890", "-0", "3.25"});
      case 1:
        return ascii_ ? one_of<std::string>({"7", "0.5"})
                      : one_of<std::string>({"1e5", "2E-3", "-1.0e+2"});
      case 2:
        return quoted(ascii_ ? "text " + std::to_string(below(100)) : id(below(50)));
      case 3:
        return one_of<std::string>({"true", "false", "null"});
      case 4:
        return quoted("");
      case 5: {
        std::string out = "[" + space();
        for (std::size_t n = below(4), i = 0; i < n; ++i) {
          out += (i > 0 ? "," + space() : "") + value(depth + 1) + space();
        }
        return out + "]";
      }
      default: {
        std::vector<std::pair<std::string, std::string>> members;
        for (std::size_t n = below(4), i = 0; i < n; ++i) {
          members.emplace_back("k" + std::to_string(i), value(depth + 1));
        }
        return object(std::move(members));
      }
    }
  }

  // An object of `members` (name, JSON text) in a random order.
  std::string object(std::vector<std::pair<std::string, std::string>> members) {
    std::shuffle(members.begin(), members.end(), random_);
    std::string out = "{" + space();
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out += "," + space();
      out += quoted(members[i].first) + space() + ":" + space() + members[i].second + space();
    }
    return out + "}";
  }

  std::string errors() {
    return one_of<std::string>({R"({"_email":["is not valid"]})", R"({"":"refused"})",
                                R"(["one","two"])", R"("plain text")", "null",
                                R"({"_first_name":["too long","not text"],"x":"y"})"});
  }

  // A status member's value: "success", or a rejection, another string, or not a string.
  std::string status() {
    if (!chance(oddity_)) return quoted("success");
    return one_of<std::string>({R"("error")", R"("pending")", R"("SUCCESS")", R"("")", "1", "null",
                                "true", R"(["success"])", R"({"s":"success"})"});
  }

  // The answer item for input `i`: its status and id (each perhaps missing, wrong or twice),
  // and fields nobody reads.
  std::string item(BatchKind kind, const std::vector<std::string>& ids, std::size_t i) {
    const std::string id_key = kind == BatchKind::events ? "_event_id" : "_user_id";
    std::vector<std::pair<std::string, std::string>> members;
    const std::string own_status = status();
    if (!chance(oddity_ * 0.2)) members.emplace_back("status", own_status);
    if (chance(oddity_ * 0.3)) members.emplace_back("status", status());  // a second one
    if (own_status == R"("error")" && chance(0.8)) members.emplace_back("errors", errors());
    if (!chance(oddity_)) {
      members.emplace_back(id_key, quoted(ids[i]));
    } else if (chance(0.5)) {  // another item's id, or one a letter longer
      members.emplace_back(id_key, quoted(chance(0.5) ? ids[below(ids.size())] : ids[i] + "x"));
    } else if (chance(0.5)) {  // not a string
      members.emplace_back(id_key, one_of<std::string>({"7", "null", R"(["x"])"}));
    }                                                                         // else none
    if (chance(oddity_ * 0.2)) members.emplace_back(id_key, quoted(ids[i]));  // a second one
    if (kind == BatchKind::events && chance(0.5)) members.emplace_back("_user_id", quoted("U1"));
    for (std::size_t n = below(3), k = 0; k < n; ++k) {
      members.emplace_back(one_of<std::string>({"extra", "n", "_user_data", "meta"}), value(1));
    }
    if (!ascii_ && chance(0.02)) members.emplace_back("k\xC3\xA9y", value(1));
    return object(std::move(members));
  }

  std::string body(BatchKind kind, const std::vector<std::string>& ids) {
    std::vector<std::string> items;
    for (std::size_t i = 0; i < ids.size(); ++i) items.push_back(item(kind, ids, i));
    if (shape_ != Shape::plain && !items.empty()) {
      const double roll = fraction();
      if (roll < 0.08) {
        std::swap(items[below(items.size())], items[below(items.size())]);  // out of order
      } else if (roll < 0.14) {
        items.erase(items.begin() + static_cast<long>(below(items.size())));  // one missing
      } else if (roll < 0.18) {
        items.push_back(items[below(items.size())]);  // one too many
      } else if (roll < 0.20) {
        items[below(items.size())] = one_of<std::string>({"null", "1", "[]", R"("success")"});
      }
    }
    std::string list = "[" + space();
    for (std::size_t i = 0; i < items.size(); ++i) {
      list += (i > 0 ? "," + space() : "") + items[i] + space();
    }
    list += "]";
    std::vector<std::pair<std::string, std::string>> entity = {
        {"successful", std::to_string(ids.size())}, {"failed", "0"}, {"items", list}};
    std::vector<std::pair<std::string, std::string>> top;
    if (chance(0.3)) top.emplace_back("meta", value(1));
    if (shape_ != Shape::plain) {
      const double roll = fraction();
      if (roll < 0.03) {
        entity.emplace_back("items", list);  // a second list
      } else if (roll < 0.06) {
        top.emplace_back("entity", object(entity));  // a second entity
      } else if (roll < 0.10) {
        // The connectors' shape, every position accepted.
        std::string accepted = "[";
        for (std::size_t i = 0; i < ids.size(); ++i) {
          accepted += (i > 0 ? "," : "") + std::string(R"({"position":)") + std::to_string(i) +
                      R"(,"item":{"_user_id":)" + quoted(ids[i]) + "}}";
        }
        return object({{"accepted", accepted + "]"}, {"errors", "[]"}});
      }
    }
    top.emplace_back("entity", object(std::move(entity)));
    return space() + object(std::move(top)) + space();
  }

  std::mt19937_64 random_;
  Shape shape_ = Shape::plain;
  bool ascii_ = true;    // no escapes, no UTF-8, no exponents
  bool spaced_ = false;  // whitespace between tokens
  double oddity_ = 0;    // how often an item strays
};

TEST(FastBatchReader, AgreesWithTheFullReaderOnGeneratedAnswers) {
  AnswerGenerator generate(20261202);
  std::map<Shape, int> taken;
  int taken_not_all_accepted = 0;
  for (int round = 0; round < 3'000 && !HasFailure(); ++round) {
    const GeneratedAnswer answer = generate.next();
    const auto quick = fast(answer.body, answer.kind, answer.ids);
    if (answer.shape == Shape::plain) {
      // What the server normally sends: taken, every item accepted.
      ASSERT_TRUE(quick) << "declined a plain answer: " << answer.body;
      for (const ItemResult& item : *quick) {
        EXPECT_EQ(item.status, ItemStatus::accepted) << answer.body;
      }
    }
    if (!quick) continue;
    ++taken[answer.shape];
    const auto slow = full(answer.body, answer.kind, answer.ids);
    expect_same(*quick, slow, answer.body);
    taken_not_all_accepted += std::any_of(slow.begin(), slow.end(), [](const ItemResult& item) {
      return item.status != ItemStatus::accepted;
    });
  }
  if (HasFailure()) return;
  // The comparison ran on many bodies of each shape, many of them with items not accepted.
  EXPECT_GT(taken[Shape::plain], 900);
  EXPECT_GT(taken[Shape::odd], 300);
  EXPECT_GT(taken[Shape::wild], 5);
  EXPECT_GT(taken_not_all_accepted, 250);
}

}  // namespace
}  // namespace instasent::detail
