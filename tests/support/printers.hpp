// SPDX-License-Identifier: Apache-2.0
// How GoogleTest prints the SDK's enumerations in failure messages: by their names.
#pragma once

#include <ostream>

#include "instasent/batch_result.hpp"
#include "instasent/error.hpp"
#include "instasent/ingestor.hpp"
#include "instasent/value.hpp"

namespace instasent {

inline void PrintTo(ItemStatus value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(ErrorKind value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(TransportFailure value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(AddStatus value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(Operation value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(FinalState value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(DropReason value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(Value::Problem value, std::ostream* os) { *os << to_string(value); }

}  // namespace instasent
