// SPDX-License-Identifier: Apache-2.0
#include "hash.hpp"

#include <cstdio>

#include "strings.hpp"  // the SDK's UUID formatting

namespace instasent::cli {

namespace {

__extension__ using Uint128 = unsigned __int128;

constexpr Uint128 make128(std::uint64_t high, std::uint64_t low) {
  return (Uint128{high} << 64) | low;
}

// The FNV-1a 128-bit parameters: prime 2^88 + 2^8 + 0x3b.
constexpr Uint128 kOffsetBasis = make128(0x6c62272e07bb0142ULL, 0x62b821756295c58dULL);
constexpr Uint128 kPrime = make128(0x0000000001000000ULL, 0x000000000000013bULL);

}  // namespace

std::string Fnv1a64::hex() const {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(state_));
  return text;
}

std::string fnv1a128_uuid(std::string_view bytes) {
  Uint128 state = kOffsetBasis;
  for (const char c : bytes) {
    state ^= static_cast<unsigned char>(c);
    state *= kPrime;
  }
  auto high = static_cast<std::uint64_t>(state >> 64);
  auto low = static_cast<std::uint64_t>(state);
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000008000ULL;  // version 8
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // RFC 4122 variant
  return detail::format_uuid(high, low);
}

}  // namespace instasent::cli
