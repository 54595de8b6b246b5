// SPDX-License-Identifier: Apache-2.0
#include "instasent/version.hpp"

namespace instasent {

const char* version() noexcept { return kVersion; }

}  // namespace instasent
