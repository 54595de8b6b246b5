// SPDX-License-Identifier: Apache-2.0
#include "json_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace instasent::detail {

namespace {

// Length of the UTF-8 sequence starting at text[i] if it is well formed, else 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

bool needs_escape(unsigned char c) noexcept { return c < 0x20 || c == '"' || c == '\\'; }

// Eight bytes at a time: most text is ASCII that needs no escape, and a word is checked in a few
// instructions instead of eight byte by byte.
constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

std::uint64_t load_word(const char* at) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, at, sizeof word);
  return word;
}

// The high bit of each byte of `word` that a JSON string cannot hold as it is: not ASCII, below
// 0x20, '"' or '\'. A byte is marked when it is one of those, and only then, below the first one
// marked (above it, a borrow may mark bytes that are not); zero when there are none.
std::uint64_t stop_bytes(std::uint64_t word) noexcept {
  const std::uint64_t quote = word ^ (kOnes * '"');
  const std::uint64_t backslash = word ^ (kOnes * '\\');
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word;
  return (word | below_space | ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash)) &
         kHighBits;
}

// How many bytes come before the first marked one, which is the lowest in memory order: on a
// little-endian machine, the lowest set bit. Elsewhere, the bytes are looked at one by one.
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kWordScan = true;
std::size_t bytes_before_stop(std::uint64_t stops) noexcept {
  return static_cast<std::size_t>(__builtin_ctzll(stops)) / 8;
}
#else
constexpr bool kWordScan = false;
std::size_t bytes_before_stop(std::uint64_t) noexcept { return 0; }
#endif

// How many bytes from the start of `text` are ASCII, to a multiple of 8 (the rest is for a byte
// by byte look).
std::size_t ascii_words(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i + 8 <= text.size() && (load_word(text.data() + i) & kHighBits) == 0) i += 8;
  return i;
}

// Where the first byte to escape is, or text.size().
std::size_t first_escape(std::string_view text) noexcept {
  std::size_t i = plain_ascii_length(text);
  while (i < text.size() && !needs_escape(static_cast<unsigned char>(text[i]))) ++i;
  return i;
}

}  // namespace

std::size_t plain_ascii_length(std::string_view text) noexcept {
  const std::size_t size = text.size();
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const std::uint64_t stops = stop_bytes(load_word(text.data() + i));
    if (stops == 0) continue;
    if (kWordScan) return i + bytes_before_stop(stops);
    break;
  }
  if (kWordScan && i < size && size >= 8) {
    // The last bytes, in the word that ends the text: those it shares with the words seen are
    // plain, so they mark nothing, and nothing above them falsely.
    const std::size_t seen = 8 - (size - i);
    const std::uint64_t stops = stop_bytes(load_word(text.data() + size - 8)) >> (8 * seen);
    return stops != 0 ? i + bytes_before_stop(stops) : size;
  }
  for (; i < size; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80 || needs_escape(c)) break;
  }
  return i;
}

bool is_valid_utf8(std::string_view text) noexcept {
  std::size_t i = ascii_words(text);
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t escape_at = first_escape(text);
  if (escape_at == text.size()) {  // the common case: one copy, no escapes
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t i = escape_at; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!needs_escape(c)) continue;
    out.append(text.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(text.data() + run_start, text.size() - run_start);
  out.push_back('"');
}

namespace {

// The code point of a well-formed sequence of `length` bytes.
std::uint32_t decode(std::string_view text, std::size_t i, std::size_t length) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(text[i + k]) & 0xFF; };
  switch (length) {
    case 1:
      return byte(0);
    case 2:
      return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3:
      return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
             (byte(3) & 0x3F);
  }
}

// Code points that change how a terminal shows what follows them.
bool is_unsafe_to_show(std::uint32_t c) noexcept {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
         (c >= 0x2028 && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace

std::string printable_name(std::string_view name, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(std::min(name.size(), max_bytes) + 3);
  std::size_t i = 0;
  while (i < name.size()) {
    const auto lead = static_cast<unsigned char>(name[i]);
    const std::size_t length = lead < 0x80 ? 1 : utf8_sequence_length(name, i);
    char piece[6];
    std::size_t piece_size = 0;
    const std::uint32_t c = length == 0 ? lead : decode(name, i, length);
    if (length == 0 || (c < 0x80 && is_unsafe_to_show(c))) {
      piece_size = 4;  // \xNN: a control character, or a byte that is not UTF-8
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = kHex[(c >> 4) & 0xF];
      piece[3] = kHex[c & 0xF];
    } else if (is_unsafe_to_show(c)) {
      piece_size = 6;  // \uNNNN
      piece[0] = '\\';
      piece[1] = 'u';
      piece[2] = kHex[(c >> 12) & 0xF];
      piece[3] = kHex[(c >> 8) & 0xF];
      piece[4] = kHex[(c >> 4) & 0xF];
      piece[5] = kHex[c & 0xF];
    }
    const std::size_t shown = piece_size != 0 ? piece_size : length;
    if (out.size() + shown > max_bytes) break;
    if (piece_size != 0) {
      out.append(piece, piece_size);
    } else {
      out.append(name.data() + i, length);
    }
    i += length == 0 ? 1 : length;
  }
  if (i < name.size()) out.append("...");
  return out;
}

bool json_nested_deeper_than(std::string_view text, std::size_t limit) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (in_string) {
      if (c == '\\') {
        ++at;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace instasent::detail
