// SPDX-License-Identifier: Apache-2.0
#include "json_body.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "json_text.hpp"

namespace instasent::tools {

namespace {

// The digits an integer needs before it can overflow a double (about 1.8e308).
constexpr std::size_t kDigitsThatMayOverflow = 309;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Four hex digits at `at`, or -1.
long hex4(std::string_view text, std::size_t at) {
  if (text.size() - at < 4) return -1;
  long value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const int digit = hex_digit(text[at + i]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// The content of a string with escapes (between its quotes, escapes already known to be
// well formed), decoded; false for a lone or misordered UTF-16 surrogate, as nlohmann refuses.
bool decode_escapes(std::string_view content, std::string& out) {
  out.reserve(content.size());
  for (std::size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    const char kind = content[++i];
    switch (kind) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        auto code_point = static_cast<std::uint32_t>(hex4(content, i + 1));
        i += 4;
        if (code_point >= 0xDC00 && code_point <= 0xDFFF) return false;  // a low one first
        if (code_point >= 0xD800 && code_point <= 0xDBFF) {
          // A high surrogate must be followed by an escaped low one.
          if (content.size() - i < 7 || content[i + 1] != '\\' || content[i + 2] != 'u') {
            return false;
          }
          const long low = hex4(content, i + 3);
          if (low < 0xDC00 || low > 0xDFFF) return false;
          code_point =
              0x10000 + ((code_point - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00);
          i += 6;
        }
        append_utf8(out, code_point);
        break;
      }
      default:  // '"', '\\', '/'
        out.push_back(kind);
    }
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::size_t max_depth, std::vector<BodyValue>& values,
         std::deque<std::string>& decoded)
      : text_(text), max_depth_(max_depth), values_(values), decoded_(decoded) {}

  bool document() {
    // nlohmann skips a byte order mark, and refuses a text that starts with a part of one.
    if (!text_.empty() && static_cast<unsigned char>(text_[0]) == 0xEF) {
      if (text_.size() < 3 || static_cast<unsigned char>(text_[1]) != 0xBB ||
          static_cast<unsigned char>(text_[2]) != 0xBF) {
        return false;
      }
      at_ = 3;
    }
    if (!value({}, 0)) return false;
    skip_whitespace();
    // nlohmann's reader takes a NUL byte where a token would start for the end of the text, and
    // ignores whatever follows it.
    return at_ == text_.size() || text_[at_] == '\0';
  }

 private:
  void skip_whitespace() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++at_;
    }
  }

  bool value(std::string_view key, std::size_t depth) {
    skip_whitespace();
    if (at_ == text_.size()) return false;
    const auto index = static_cast<std::uint32_t>(values_.size());
    values_.push_back(BodyValue{JsonKind::null, false, 0, key, {}, {}});
    const std::size_t start = at_;
    bool ok = false;
    switch (text_[at_]) {
      case '{':
        ok = depth < max_depth_ && object(index, depth + 1);
        break;
      case '[':
        ok = depth < max_depth_ && array(index, depth + 1);
        break;
      case '"': {
        std::string_view text;
        ok = string(text);
        values_[index].kind = JsonKind::string;
        values_[index].text = text;
        break;
      }
      case 't':
        ok = literal("true");
        values_[index].kind = JsonKind::boolean;
        values_[index].truth = true;
        break;
      case 'f':
        ok = literal("false");
        values_[index].kind = JsonKind::boolean;
        break;
      case 'n':
        ok = literal("null");
        break;
      default:
        ok = number();
        values_[index].kind = JsonKind::number;
    }
    if (!ok) return false;
    values_[index].end = static_cast<std::uint32_t>(values_.size());
    values_[index].raw = text_.substr(start, at_ - start);
    return true;
  }

  bool object(std::uint32_t index, std::size_t depth) {
    values_[index].kind = JsonKind::object;
    ++at_;  // {
    skip_whitespace();
    if (at_ < text_.size() && text_[at_] == '}') {
      ++at_;
      return true;
    }
    while (true) {
      skip_whitespace();
      std::string_view key;
      if (at_ == text_.size() || text_[at_] != '"' || !string(key)) return false;
      skip_whitespace();
      if (at_ == text_.size() || text_[at_] != ':') return false;
      ++at_;
      if (!value(key, depth)) return false;
      skip_whitespace();
      if (at_ == text_.size()) return false;
      const char c = text_[at_++];
      if (c == '}') return true;
      if (c != ',') return false;
    }
  }

  bool array(std::uint32_t index, std::size_t depth) {
    values_[index].kind = JsonKind::array;
    ++at_;  // [
    skip_whitespace();
    if (at_ < text_.size() && text_[at_] == ']') {
      ++at_;
      return true;
    }
    while (true) {
      if (!value({}, depth)) return false;
      skip_whitespace();
      if (at_ == text_.size()) return false;
      const char c = text_[at_++];
      if (c == ']') return true;
      if (c != ',') return false;
    }
  }

  // At the opening quote; `out` is the decoded string, in the body when it has no escape.
  bool string(std::string_view& out) {
    const std::size_t start = ++at_;
    bool escapes = false;
    unsigned char high_bits = 0;
    while (true) {
      if (at_ == text_.size()) return false;
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') break;
      if (c < 0x20) return false;  // control characters must be escaped
      if (c == '\\') {
        escapes = true;
        if (++at_ == text_.size()) return false;
        const char kind = text_[at_];
        if (kind == 'u') {
          if (hex4(text_, at_ + 1) < 0) return false;
          at_ += 4;
        } else if (std::strchr("\"\\/bfnrt", kind) == nullptr || kind == '\0') {
          return false;
        }
      }
      high_bits |= c;
      ++at_;
    }
    const std::string_view content = text_.substr(start, at_ - start);
    ++at_;  // "
    // Escapes are ASCII, so the raw content is well-formed UTF-8 exactly when the string is.
    if ((high_bits & 0x80) != 0 && !detail::is_valid_utf8(content)) return false;
    if (!escapes) {
      out = content;
      return true;
    }
    std::string& decoded = decoded_.emplace_back();
    if (!decode_escapes(content, decoded)) return false;
    out = decoded;
    return true;
  }

  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and finite as a double.
  bool number() {
    const std::size_t start = at_;
    const auto digits = [this] {
      const std::size_t first = at_;
      while (at_ < text_.size() && is_digit(text_[at_])) ++at_;
      return at_ - first;
    };
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    if (at_ == text_.size() || !is_digit(text_[at_])) return false;
    std::size_t integer_digits = 1;
    if (text_[at_] == '0') {
      ++at_;
    } else {
      integer_digits = digits();
    }
    bool exponent = false;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (digits() == 0) return false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (digits() == 0) return false;
      exponent = true;
    }
    // nlohmann refuses a number that overflows a double ("number overflow").
    if (exponent || integer_digits >= kDigitsThatMayOverflow) {
      const std::string copy(text_.substr(start, at_ - start));
      if (!std::isfinite(std::strtod(copy.c_str(), nullptr))) return false;
    }
    return true;
  }

  std::string_view text_;
  std::size_t max_depth_;
  std::vector<BodyValue>& values_;
  std::deque<std::string>& decoded_;
  std::size_t at_ = 0;
};

}  // namespace

bool Body::parse(std::string_view text, std::size_t max_depth) {
  values_.clear();
  decoded_.clear();
  values_.reserve(text.size() / 12 + 1);  // about one value in every 12 bytes of a batch
  return Parser(text, max_depth, values_, decoded_).document();
}

std::size_t Body::count(std::uint32_t container) const {
  std::size_t n = 0;
  for (const std::uint32_t child : children(container)) {
    static_cast<void>(child);
    ++n;
  }
  return n;
}

const BodyValue* Body::find(std::uint32_t object, std::string_view key) const {
  const BodyValue* found = nullptr;
  for (const std::uint32_t child : children(object)) {
    if (values_[child].key == key) found = &values_[child];
  }
  return found;
}

void Body::members(std::uint32_t object, std::vector<std::uint32_t>& out) const {
  out.clear();
  for (const std::uint32_t child : children(object)) out.push_back(child);
  constexpr std::size_t kFewMembers = 16;
  const auto same_key = [this](std::uint32_t a, std::uint32_t b) {
    return values_[a].key == values_[b].key;
  };
  if (out.size() <= kFewMembers) {
    // Keep a member only when no later one has its name.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      bool later = false;
      for (std::size_t j = i + 1; j < out.size() && !later; ++j) later = same_key(out[i], out[j]);
      if (!later) out[kept++] = out[i];
    }
    out.resize(kept);
    return;
  }
  // By name, then in the order written; the last of each name stays.
  std::stable_sort(out.begin(), out.end(), [this](std::uint32_t a, std::uint32_t b) {
    return values_[a].key < values_[b].key;
  });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i + 1 < out.size() && same_key(out[i], out[i + 1])) continue;
    out[kept++] = out[i];
  }
  out.resize(kept);
}

nlohmann::json Body::to_json(std::uint32_t index) const {
  const BodyValue& value = values_[index];
  switch (value.kind) {
    case JsonKind::null:
      return nullptr;
    case JsonKind::boolean:
      return value.truth;
    case JsonKind::number:
      // Integer, unsigned or floating point exactly as nlohmann reads it.
      return nlohmann::json::parse(value.raw);
    case JsonKind::string:
      return std::string(value.text);
    case JsonKind::array: {
      nlohmann::json array = nlohmann::json::array();
      for (const std::uint32_t child : children(index)) array.push_back(to_json(child));
      return array;
    }
    case JsonKind::object: {
      nlohmann::json object = nlohmann::json::object();
      // Written order: a later member of the same name replaces an earlier one.
      for (const std::uint32_t child : children(index)) {
        object[std::string(values_[child].key)] = to_json(child);
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace instasent::tools
