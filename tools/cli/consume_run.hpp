// SPDX-License-Identifier: Apache-2.0
// One `consume` from start to summary, for run_consume (consume.hpp). consume.cpp sets up the
// Kafka clients and the Ingestor, runs the poll loop and finishes; consume_partitions.cpp keeps
// each partition's messages from read to committed: rebalances, outcomes, dead letters, commits
// and backpressure; consume_report.cpp says what happens: progress, lag and summary.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "consume.hpp"
#include "instasent/client.hpp"
#include "instasent/ingestor.hpp"
#include "kafka_messages.hpp"
#include "offset_tracker.hpp"
#include "progress.hpp"
#include "rejects.hpp"

namespace instasent::cli {

/// A topic and partition.
struct PartitionKey {
  std::string topic;
  std::int32_t partition = 0;

  bool operator<(const PartitionKey& other) const {
    return partition != other.partition ? partition < other.partition : topic < other.topic;
  }
  std::string name() const { return topic + "[" + std::to_string(partition) + "]"; }
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* handle) const noexcept { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_message_t* message) const noexcept { rd_kafka_message_destroy(message); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaMessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;

/// Whether the assignors of `strategies` (librdkafka's partition.assignment.strategy, names
/// separated by commas) rebalance incrementally: cooperative-sticky. librdkafka refuses assignors
/// of both protocols together, so one of them tells.
bool cooperative_strategy(std::string_view strategies);

/// Whether the group of `consumer` rebalances incrementally, as librdkafka says
/// (rd_kafka_rebalance_protocol). When it cannot say, `otherwise`: it says "NONE" before the
/// member joins, and nothing at all (NULL) once the group handle is gone, as in the revoke that
/// rd_kafka_consumer_close serves after the group has terminated.
bool cooperative_rebalance(rd_kafka_t* consumer, bool otherwise);

class ConsumeRun {
 public:
  explicit ConsumeRun(const ConsumeOptions& options);
  ~ConsumeRun();
  ConsumeRun(const ConsumeRun&) = delete;
  ConsumeRun& operator=(const ConsumeRun&) = delete;

  ConsumeSummary run(const std::function<ClientOptions()>& client_options);

  // librdkafka's callbacks (consume_partitions.cpp), through C trampolines.
  void on_rebalance(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions);
  void on_commit(rd_kafka_resp_err_t error, const rd_kafka_topic_partition_list_t* offsets);
  void on_dead_letter_report(const rd_kafka_message_t& message);
  void on_log(int level, const char* facility, const char* text, bool producer);

 private:
  using Clock = std::chrono::steady_clock;

  // One assigned partition. `epoch` tells it from an earlier assignment of the same partition,
  // whose late outcomes must not count.
  struct Partition {
    std::uint64_t epoch = 0;
    OffsetTracker tracker;
    std::optional<std::int64_t> committed;            // confirmed by the group coordinator
    std::uint64_t committed_count = 0;                // tracker.confirmed() at that offset
    std::map<std::int64_t, std::uint64_t> requested;  // commits asked: offset -> count
    bool revoking = false;
  };
  // A message handed to the Ingestor or to the dead-letter producer, not yet final.
  struct InFlight {
    PartitionKey partition;
    std::uint64_t epoch = 0;
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::string item_json;
  };
  struct Stops {
    std::string access_denied;  // 401/404: exit 3
    std::string gave_up;        // retries exhausted, dead letters refused, Kafka failed: exit 4
    std::string fatal;          // the rejects file cannot be written: exit 2
    bool any() const { return !access_denied.empty() || !gave_up.empty() || !fatal.empty(); }
  };

  // consume.cpp (and consume_report.cpp for the output)
  void check_options() const;
  KafkaConf base_conf(bool producer,
                      const std::vector<std::pair<std::string, std::string>>& defaults);
  void create_consumer();
  void create_dead_letter_producer();
  IngestorOptions ingestor_options();
  void poll_loop();
  void handle(const rd_kafka_message_t& message);
  void offer(std::uint64_t tag, std::variant<std::monostate, Contact, Event> item);
  void offer_held();
  void kafka_error(const rd_kafka_message_t& message);
  bool idle_done();
  bool group_done();
  void finish();
  void show_progress(Clock::time_point now);
  std::int64_t lag(bool ask_group);
  ConsumeSummary summary();
  void print_report(const ConsumeSummary& summary);
  void report(const std::string& message);  // a bad message, up to max_reported

  // consume_partitions.cpp
  void assign(rd_kafka_topic_partition_list_t* partitions);
  void revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  void wait_for_final(const std::function<bool()>& done, Clock::time_point deadline);
  void commit(bool sync, const rd_kafka_topic_partition_list_t* only = nullptr);
  void confirm_commit(const PartitionKey& key, std::int64_t offset);
  static bool rebalancing(rd_kafka_resp_err_t error) noexcept;
  void on_outcome(const ItemOutcome& outcome);
  void dead_letter(InFlight message, const FieldErrors& errors);  // with mutex_ held
  void finished(const InFlight& message, bool confirmed);         // with mutex_ held
  void backpressure();
  void set_paused(bool paused);
  void stop_for(std::string Stops::*reason, const std::string& message);  // with mutex_ held

  const ConsumeOptions& options_;
  Clock::time_point started_;
  Console console_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // an outcome or a dead letter's report came
  std::map<PartitionKey, Partition> partitions_;
  std::map<std::uint64_t, InFlight> in_flight_;  // by tag
  // Tags of messages the Ingestor's full queue refused: offered again, in order, before any
  // other.
  std::deque<std::uint64_t> held_;
  std::uint64_t next_tag_ = 0;
  std::uint64_t next_epoch_ = 0;
  std::unique_ptr<RejectsWriter> rejects_file_;
  ConsumeSummary counts_;
  int reported_ = 0;
  Stops stops_;
  std::atomic<bool> stop_{false};

  // The poll thread's own.
  bool cooperative_ = false;  // the group's rebalance protocol, from the settings until it says
  bool paused_ = false;
  bool joined_ = false;  // the group has answered with an assignment (even an empty one)
  Clock::time_point last_activity_;
  Clock::time_point next_commit_;
  Clock::time_point next_progress_;
  Clock::time_point next_group_check_;
  RateMeter meter_;
  bool commits_held_ = false;  // the group is rebalancing: no periodic commits
  Clock::time_point commits_held_since_;
  std::string last_commit_error_;
  std::string last_kafka_error_;
  Clock::time_point last_kafka_error_time_;

  std::optional<Client> client_;
  KafkaHandle producer_;  // the dead-letter topic's; none without one
  KafkaHandle consumer_;
  std::optional<Ingestor> ingestor_;  // last: closed first when the run is destroyed
};

}  // namespace instasent::cli
