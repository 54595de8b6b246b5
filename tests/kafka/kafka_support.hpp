// SPDX-License-Identifier: Apache-2.0
// Helpers for the tests of `instasent consume`: librdkafka's mock cluster in a process of its own
// (kafka_mock_cluster), a producer to fill its topics, and readers of what the group committed
// and of what a topic holds.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_support.hpp"

namespace instasent::cli::testing {

/// librdkafka's mock cluster as a child process; its topics are "NAME:PARTITIONS".
class MockCluster {
 public:
  explicit MockCluster(const std::vector<std::string>& topics)
      : process_(topics, KAFKA_MOCK_CLUSTER_PATH) {
    const auto line = process_.read_stdout_line(10s);
    if (!line || line->empty()) throw std::runtime_error("the mock cluster printed no address");
    bootstraps_ = *line;
  }
  const std::string& bootstraps() const { return bootstraps_; }

 private:
  emulator::testing::EmulatorProcess process_;
  std::string bootstraps_;
};

struct KafkaDelete {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};

inline rd_kafka_t* new_client(rd_kafka_type_t type, const std::string& bootstraps,
                              const std::map<std::string, std::string>& settings = {}) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> all = settings;
  all["bootstrap.servers"] = bootstraps;
  all["log_level"] = "2";
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      throw std::runtime_error(error);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) throw std::runtime_error(error);
  return handle;
}

/// Produces messages to the mock cluster, and waits until it has them all.
class Producer {
 public:
  explicit Producer(const std::string& bootstraps)
      : handle_(new_client(RD_KAFKA_PRODUCER, bootstraps)) {}

  /// One message; no key or no value when nullopt.
  void send(const std::string& topic, std::int32_t partition, const std::optional<std::string>& key,
            const std::optional<std::string>& value) {
    // rd_kafka_produceva rather than the rd_kafka_producev macros, which use GNU extensions.
    rd_kafka_vu_t values[5] = {};
    values[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    values[0].u.cstr = topic.c_str();
    values[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    values[1].u.i32 = partition;
    values[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    values[2].u.i = RD_KAFKA_MSG_F_COPY;
    values[3].vtype = RD_KAFKA_VTYPE_KEY;
    values[3].u.mem = {key ? const_cast<char*>(key->data()) : nullptr, key ? key->size() : 0};
    values[4].vtype = RD_KAFKA_VTYPE_VALUE;
    values[4].u.mem = {value ? const_cast<char*>(value->data()) : nullptr,
                       value ? value->size() : 0};
    rd_kafka_error_t* produced = rd_kafka_produceva(handle_.get(), values, 5);
    const rd_kafka_resp_err_t error =
        produced == nullptr ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(produced);
    if (produced != nullptr) rd_kafka_error_destroy(produced);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(rd_kafka_err2str(error));
  }
  void flush() {
    if (rd_kafka_flush(handle_.get(), 30'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("the mock cluster did not take the messages");
    }
  }

 private:
  std::unique_ptr<rd_kafka_t, KafkaDelete> handle_;
};

/// The offsets `group` has committed for partitions 0..partitions-1 of `topic` (-1: none).
inline std::map<int, std::int64_t> committed_offsets(const std::string& bootstraps,
                                                     const std::string& group,
                                                     const std::string& topic, int partitions) {
  // A consumer of the group that never subscribes does not join it: it only asks.
  std::unique_ptr<rd_kafka_t, KafkaDelete> consumer(
      new_client(RD_KAFKA_CONSUMER, bootstraps, {{"group.id", group}}));
  std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDelete> list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  std::map<int, std::int64_t> offsets;
  if (rd_kafka_committed(consumer.get(), list.get(), 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot read the committed offsets");
  }
  for (int i = 0; i < list->cnt; ++i) offsets[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_consumer_close(consumer.get());
  return offsets;
}

/// The high watermark (the offset after the last message) of each partition of `topic`.
inline std::map<int, std::int64_t> end_offsets(const std::string& bootstraps,
                                               const std::string& topic, int partitions) {
  std::unique_ptr<rd_kafka_t, KafkaDelete> client(new_client(RD_KAFKA_PRODUCER, bootstraps));
  std::map<int, std::int64_t> offsets;
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(client.get(), topic.c_str(), p, &low, &high, 10'000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("cannot read the end offsets");
    }
    offsets[p] = high;
  }
  return offsets;
}

/// A message read back from a topic.
struct ReadMessage {
  int partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
};

/// The first `count` messages of `topic` (fewer if they do not come within `timeout`).
inline std::vector<ReadMessage> read_topic(const std::string& bootstraps, const std::string& topic,
                                           int partitions, std::size_t count,
                                           std::chrono::milliseconds timeout = 20s) {
  std::unique_ptr<rd_kafka_t, KafkaDelete> consumer(
      new_client(RD_KAFKA_CONSUMER, bootstraps,
                 {{"group.id", "test-reader"}, {"enable.auto.commit", "false"}}));
  std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDelete> list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer.get(), list.get());
  std::vector<ReadMessage> messages;
  const auto deadline = steady_clock::now() + timeout;
  while (messages.size() < count && steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ReadMessage read;
      read.partition = message->partition;
      read.offset = message->offset;
      if (message->key != nullptr) {
        read.key = std::string(static_cast<const char*>(message->key), message->key_len);
      }
      if (message->payload != nullptr) {
        read.value = std::string(static_cast<const char*>(message->payload), message->len);
      }
      messages.push_back(std::move(read));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer.get());
  return messages;
}

}  // namespace instasent::cli::testing
