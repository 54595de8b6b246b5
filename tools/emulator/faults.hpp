// SPDX-License-Identifier: Apache-2.0
// Deterministic fault injection: what goes wrong with the next API request, from a scripted
// sequence first, then at random with the configured probabilities and seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace instasent::emulator {

enum class Fault {
  none,
  server_error,     ///< 500 {"message": ...}, before anything is processed.
  unavailable,      ///< 503 {"message": ...}, before anything is processed.
  rate_limited,     ///< 429 with an empty body, before anything is processed.
  drop_connection,  ///< The request is processed, then the connection closes mid-answer.
  slow,             ///< The answer comes after `slow_ms`.
  truncated_body,   ///< The request is processed; the answer's body is cut in half.
};

/// "none", "500", "503", "429", "drop", "slow", "truncate".
const char* to_string(Fault fault) noexcept;
std::optional<Fault> fault_from_string(const std::string& name);

struct FaultSettings {
  double server_error = 0;  ///< Probability of each fault per API request.
  double unavailable = 0;
  double rate_limited = 0;
  double drop_connection = 0;
  double slow = 0;
  double truncated_body = 0;
  int slow_ms = 1500;
  std::uint64_t seed = 1;
  std::deque<Fault> script;  ///< Used first, one per API request.

  nlohmann::json to_json() const;
  /// Reads the fields present in `j` over the current ones; throws std::invalid_argument naming
  /// the bad field.
  void update_from_json(const nlohmann::json& j);
};

class FaultInjector {
 public:
  explicit FaultInjector(FaultSettings settings = {});
  /// Replaces the settings and restarts the random sequence from their seed.
  void configure(FaultSettings settings);
  FaultSettings settings() const;
  Fault next();

 private:
  mutable std::mutex mutex_;
  FaultSettings settings_;
  std::mt19937_64 random_;
};

}  // namespace instasent::emulator
