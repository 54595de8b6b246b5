// SPDX-License-Identifier: Apache-2.0
// The emulator's settings: from built-in defaults, a JSON config file, then command-line flags.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults.hpp"
#include "rate_limiter.hpp"

namespace instasent::emulator {

struct Tenant {
  std::string project;
  std::string datasource;
  std::vector<std::string> tokens;  ///< Tokens allowed on this datasource.
};

enum class ResponseShape { documented, connectors };

/// The largest bucket (--rate-limit-burst, "rate_limit_burst").
inline constexpr long kMaxRateLimitBurst = 1'000'000;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: pick a free one (printed on the first line of stdout).
  /// Default: project `proj_demo`, datasource `ds_demo`, token `demo-token`.
  std::vector<Tenant> tenants;
  ResponseShape response_shape = ResponseShape::documented;
  long rate_limit_per_minute = 0;  ///< Per datasource and endpoint; 0 = off.
  RateLimitMode rate_limit_mode = RateLimitMode::window;
  long rate_limit_burst = 0;             ///< Bucket mode's size; 0 = rate_limit_per_minute.
  std::size_t max_body_bytes = 1 << 20;  ///< Larger bodies get 413.
  std::size_t max_connections = 1024;    ///< Served at once, each on its own thread.
  /// {"attributes": [...], "events": [...], "event_parameters": {"<type>": [...]}}.
  nlohmann::json specs;
  FaultSettings faults;
};

/// The built-in attribute, event and event-parameter specs.
nlohmann::json default_specs();

/// "window" or "bucket"; throws std::invalid_argument for anything else.
RateLimitMode parse_rate_limit_mode(const std::string& text);

/// Reads a config file over `config` (see README for the format); throws std::invalid_argument
/// naming the problem.
void apply_config_file(Config& config, const std::string& path);

}  // namespace instasent::emulator
