// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace instasent {

/// The SDK's version, as sent in `User-Agent: instasent-cpp/<version>`.
inline constexpr const char* kVersion = "0.1.0";

}  // namespace instasent
