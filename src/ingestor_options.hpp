// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "instasent/ingestor.hpp"

namespace instasent::detail {

/// Throws InvalidInputError naming the first option that cannot work.
void check_options(const IngestorOptions& options);

}  // namespace instasent::detail
