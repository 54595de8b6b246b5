// SPDX-License-Identifier: Apache-2.0
// The exit codes of the `instasent` tool (documented in docs/cli.md) and how SDK errors map to
// them.
#pragma once

#include <stdexcept>
#include <string>

#include "instasent/error.hpp"

namespace instasent::cli {

namespace exit_code {
inline constexpr int ok = 0;       ///< Everything was accepted.
inline constexpr int partial = 1;  ///< Some items were rejected or some lines were unreadable.
inline constexpr int usage = 2;    ///< Bad arguments, configuration or input file.
inline constexpr int access = 3;   ///< Unauthorized (401) or not found (404).
inline constexpr int gave_up = 4;  ///< Retries exhausted: transport failures or server errors.
inline constexpr int interrupted = 128;  ///< Plus the signal number: 130 SIGINT, 143 SIGTERM.
}  // namespace exit_code

/// A usage or configuration problem: the tool prints the message and exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The exit code for an SDK error of a single call (stream, get, delete, specs).
inline int exit_code_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_input:
      return exit_code::usage;
    case ErrorKind::unauthorized:
    case ErrorKind::not_found:
      return exit_code::access;
    case ErrorKind::bad_request:
      return exit_code::partial;
    case ErrorKind::rate_limited:
    case ErrorKind::server_error:
    case ErrorKind::transport:
    case ErrorKind::unreadable_response:
      return exit_code::gave_up;
  }
  return exit_code::gave_up;
}

}  // namespace instasent::cli
