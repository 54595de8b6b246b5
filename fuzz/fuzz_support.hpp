// SPDX-License-Identifier: Apache-2.0
// What the libFuzzer harnesses share: the input as text, and a check that stops the run with a
// crash (which libFuzzer records with its input) when a promise is broken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace instasent::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

/// Aborts with `what` when `ok` is false: a broken promise is a crash the fuzzer keeps.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

/// True when `text` holds no byte a terminal would act on (C0 controls and DEL).
inline bool printable(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
  }
  return true;
}

}  // namespace instasent::fuzz
