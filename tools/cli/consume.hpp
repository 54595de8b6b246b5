// SPDX-License-Identifier: Apache-2.0
// `instasent consume contacts|events`: a member of a Kafka consumer group that streams its
// partitions' messages into Instasent through the Ingestor, and commits each partition's offset
// only past messages with their final state (docs/kafka.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/options.hpp"
#include "items.hpp"
#include "line_source.hpp"

namespace instasent::cli {

struct ConsumeOptions {
  ItemKind kind = ItemKind::events;
  std::string brokers;              ///< bootstrap.servers: HOST:PORT[,...]
  std::vector<std::string> topics;  ///< Subscribed to.
  std::string group;                ///< group.id
  /// librdkafka settings, "KEY=VALUE" each (-X), given to the consumer and to the dead-letter
  /// producer.
  std::vector<std::string> kafka_settings;
  std::string rejects_topic;  ///< The dead-letter topic; empty: none.
  std::string rejects_path;   ///< Or a rejects file; empty: none.
  int max_in_flight = 4;
  int max_attempts = 0;  ///< Per item; 0 keeps the Ingestor's default.
  /// Messages handed on and not final, at most: beyond it the partitions are paused.
  std::size_t max_pending = 5'000;
  std::chrono::milliseconds commit_interval{1'000};
  std::chrono::milliseconds revoke_timeout{10'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::optional<std::chrono::milliseconds> exit_when_idle;
  std::chrono::milliseconds progress_interval{5'000};  ///< When stderr is not a terminal.
  bool quiet = false;
  bool json_summary = false;
  int verbose = 0;  ///< librdkafka's log: errors only; -v warnings and notices; -vv more.
  int max_reported = 20;
  std::size_t max_value_bytes = LineSource::kDefaultMaxLineBytes;
};

/// What a `consume` did, as printed at the end.
struct ConsumeSummary {
  std::uint64_t read = 0;           ///< Messages read.
  std::uint64_t delivered = 0;      ///< Accepted by the server.
  std::uint64_t rejected = 0;       ///< Refused by the server, with errors.
  std::uint64_t unreadable = 0;     ///< Could not be mapped to an item (not sent).
  std::uint64_t dropped = 0;        ///< Sent but not final: gave up, or still in flight at the end.
  std::uint64_t dead_lettered = 0;  ///< Rejected or unreadable, and confirmed written.
  std::uint64_t committed = 0;      ///< Messages committed past by this instance.
  std::int64_t lag = 0;      ///< Messages after the committed offsets of the partitions held last.
  std::uint64_t pauses = 0;  ///< Times the partitions were paused for backpressure.
  std::uint64_t assignments = 0;  ///< Partitions assigned to this instance, over all rebalances.
  std::uint64_t revocations = 0;  ///< Partitions revoked from it.
  double seconds = 0;
  double rate_limit_wait_seconds = 0;
  double retry_wait_seconds = 0;
  int exit_code = 0;

  nlohmann::json to_json() const;
};

/// Runs the consumer until a signal, `exit_when_idle` or a reason to stop, and returns its
/// summary (with the exit code). `client_options` may throw `UsageError`; so does a bad option
/// or librdkafka setting, before anything is read.
ConsumeSummary run_consume(const ConsumeOptions& options,
                           const std::function<ClientOptions()>& client_options);

}  // namespace instasent::cli
