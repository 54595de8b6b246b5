// SPDX-License-Identifier: Apache-2.0
// FNV-1a hashes: 64 bits to recognise an input file again, 128 bits for the `_event_id`s the tool
// derives from an event's content (wide enough that a billion events do not collide).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace instasent::cli {

class Fnv1a64 {
 public:
  void update(std::string_view bytes) noexcept {
    for (const char c : bytes) {
      state_ ^= static_cast<unsigned char>(c);
      state_ *= 0x100000001b3ULL;
    }
  }
  std::uint64_t value() const noexcept { return state_; }
  /// 16 lowercase hex digits.
  std::string hex() const;

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

/// The 128-bit FNV-1a hash of `bytes`, formatted as a UUID (version 8, "custom"), e.g.
/// "3f2a...-...-8...-...".
std::string fnv1a128_uuid(std::string_view bytes);

}  // namespace instasent::cli
