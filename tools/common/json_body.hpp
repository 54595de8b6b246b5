// SPDX-License-Identifier: Apache-2.0
// JSON text read in one pass into a flat list of values that point into the text, so that the
// tools read it without building a nlohmann::json tree: the emulator's batch endpoints check and
// store items from a request body (the tree took a third of the emulator's time), and the CLI
// builds each NDJSON line's contact or event (the tree took 40 % of an import's). It accepts
// exactly what nlohmann::json::parse accepts, and holds what it would hold: body_test.cpp checks
// both against nlohmann. Tool-internal: the SDK's public headers never include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace instasent::tools {

enum class JsonKind : std::uint8_t { null, boolean, number, string, array, object };

/// One value of a Body.
struct BodyValue {
  JsonKind kind;
  bool truth;             ///< A boolean's value.
  std::uint32_t end;      ///< The index after this value and every value nested in it.
  std::string_view key;   ///< Its member name, decoded, when it is in an object.
  std::string_view text;  ///< A string's value, decoded.
  std::string_view raw;   ///< The value as written in the body, as JSON text.
};

class Body {
 public:
  /// The indices of the values directly in an array or object, in the order written.
  class Children {
   public:
    class Iterator {
     public:
      Iterator(const std::vector<BodyValue>& values, std::uint32_t at)
          : values_(&values), at_(at) {}
      std::uint32_t operator*() const { return at_; }
      Iterator& operator++() {
        at_ = (*values_)[at_].end;
        return *this;
      }
      bool operator!=(const Iterator& other) const { return at_ != other.at_; }

     private:
      const std::vector<BodyValue>* values_;
      std::uint32_t at_;
    };
    Children(const std::vector<BodyValue>& values, std::uint32_t container)
        : values_(values), container_(container) {}
    Iterator begin() const { return {values_, container_ + 1}; }
    Iterator end() const { return {values_, values_[container_].end}; }

   private:
    const std::vector<BodyValue>& values_;
    std::uint32_t container_;
  };

  /// Reads `text`, which must outlive this Body (or the next parse()), as JSON. False when
  /// nlohmann::json::parse would refuse it (RFC 8259; UTF-8 checked in strings; a number
  /// too large for a double; a leading UTF-8 byte order mark is skipped), or when it nests arrays
  /// and objects deeper than `max_depth`. The root value is index 0.
  bool parse(std::string_view text, std::size_t max_depth);

  const BodyValue& operator[](std::uint32_t index) const { return values_[index]; }
  Children children(std::uint32_t container) const { return {values_, container}; }
  /// How many values are directly in an array or object.
  std::size_t count(std::uint32_t container) const;

  /// The value of object `object`'s member `key`: the last one when the name is written twice,
  /// as nlohmann::json keeps it. Nullptr when there is none.
  const BodyValue* find(std::uint32_t object, std::string_view key) const;
  /// The members of object `object` as nlohmann::json keeps them: each name once, with the value
  /// written last for it. In no particular order.
  void members(std::uint32_t object, std::vector<std::uint32_t>& out) const;

  /// The value as nlohmann::json::parse would give it.
  nlohmann::json to_json(std::uint32_t index) const;

 private:
  std::vector<BodyValue> values_;
  std::deque<std::string> decoded_;  // strings with escapes, decoded (a deque never moves them)
};

}  // namespace instasent::tools
