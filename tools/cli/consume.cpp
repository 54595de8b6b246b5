// SPDX-License-Identifier: Apache-2.0
#include "consume.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "commands.hpp"
#include "connection.hpp"
#include "consume_run.hpp"
#include "exit_codes.hpp"
#include "instasent/limits.hpp"
#include "report.hpp"
#include "stop_signals.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Settings that `consume` owns: each has a flag of its own, or must stay as it is for the
// offsets to mean what docs/kafka.md says.
const char* owned_setting(const std::string& name) {
  if (name == "bootstrap.servers" || name == "metadata.broker.list") return "pass --brokers";
  if (name == "group.id") return "pass --group";
  if (name == "enable.auto.commit") {
    return "offsets are committed once their messages are final, never automatically";
  }
  return nullptr;
}

// A setting whose value is a secret: librdkafka's message about it is not shown, in case it
// quotes the value.
bool secret_setting(const std::string& name) {
  for (const char* part : {"password", "secret", "jaas", "key", "token", "credential"}) {
    if (name.find(part) != std::string::npos) return true;
  }
  return false;
}

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value, bool from_flag) {
  char error[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) ==
      RD_KAFKA_CONF_OK) {
    return;
  }
  const std::string what =
      secret_setting(name) ? "librdkafka refused its value" : printable(error, 300);
  throw UsageError((from_flag ? "-X " : "") + name + ": " + what);
}

std::pair<std::string, std::string> split_setting(const std::string& setting) {
  const auto equals = setting.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError("-X takes KEY=VALUE (a librdkafka setting), not '" +
                     printable(setting.substr(0, setting.find('=')), 60) + "'");
  }
  return {setting.substr(0, equals), setting.substr(equals + 1)};
}

extern "C" void rebalance_trampoline(rd_kafka_t*, rd_kafka_resp_err_t error,
                                     rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<ConsumeRun*>(opaque)->on_rebalance(error, partitions);
}

extern "C" void commit_trampoline(rd_kafka_t*, rd_kafka_resp_err_t error,
                                  rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  static_cast<ConsumeRun*>(opaque)->on_commit(error, offsets);
}

extern "C" void delivery_trampoline(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  static_cast<ConsumeRun*>(opaque)->on_dead_letter_report(*message);
}

extern "C" void log_trampoline(const rd_kafka_t* handle, int level, const char* facility,
                               const char* text) {
  if (void* opaque = rd_kafka_opaque(handle)) {
    static_cast<ConsumeRun*>(opaque)->on_log(level, facility, text,
                                             rd_kafka_type(handle) == RD_KAFKA_PRODUCER);
  }
}

}  // namespace

ConsumeRun::ConsumeRun(const ConsumeOptions& options)
    : options_(options), console_(isatty(STDERR_FILENO) != 0) {}

ConsumeRun::~ConsumeRun() {
  // The Ingestor's last outcomes may still dead-letter: it goes before the producer. A consumer
  // not closed by finish() (an exception) is destroyed without the rebalance callback, which
  // would reach the Ingestor.
  ingestor_.reset();
  if (consumer_) rd_kafka_destroy_flags(consumer_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  if (producer_) rd_kafka_flush(producer_.get(), 0);
}

ConsumeSummary ConsumeRun::run(const std::function<ClientOptions()>& client_options) {
  started_ = Clock::now();
  check_options();
  client_.emplace(make_client(client_options()));
  if (!options_.rejects_path.empty()) {
    rejects_file_ = std::make_unique<RejectsWriter>(options_.rejects_path, RejectsWriter::kAppend);
  }

  StopSignals signals;
  {
    // librdkafka's threads and the Ingestor's senders leave the signals to this one.
    StopSignalsBlocked blocked;
    create_dead_letter_producer();
    create_consumer();
    ingestor_.emplace(*client_, ingestor_options());
  }
  last_activity_ = next_progress_ = next_commit_ = Clock::now();
  poll_loop();
  finish();

  ConsumeSummary result = summary();
  console_.end_progress();
  print_report(result);
  return result;
}

void ConsumeRun::check_options() const {
  if (options_.brokers.empty()) throw UsageError("--brokers is required (HOST:PORT[,...])");
  if (options_.topics.empty()) throw UsageError("--topic is required");
  if (options_.group.empty()) throw UsageError("--group is required");
  if (!options_.rejects_topic.empty() && !options_.rejects_path.empty()) {
    throw UsageError("--rejects-topic and --rejects: give one place for the rejected messages");
  }
  for (const std::string& topic : options_.topics) {
    if (topic == options_.rejects_topic) {
      throw UsageError("--rejects-topic " + printable(topic, 100) +
                       " is also a --topic: the dead letters would be read again");
    }
  }
  for (const std::string& setting : options_.kafka_settings) {
    const std::string name = split_setting(setting).first;
    if (const char* why = owned_setting(name)) throw UsageError("-X " + name + ": " + why);
  }
}

// `defaults` (which -X may change), then the brokers, the client id and the -X settings.
KafkaConf ConsumeRun::base_conf(bool producer,
                                const std::vector<std::pair<std::string, std::string>>& defaults) {
  KafkaConf conf(rd_kafka_conf_new());
  for (const auto& [name, value] : defaults) set(conf.get(), name, value, false);
  set(conf.get(), "bootstrap.servers", options_.brokers, false);
  set(conf.get(), "client.id", producer ? "instasent-consume-rejects" : "instasent-consume", false);
  for (const std::string& setting : options_.kafka_settings) {
    const auto [name, value] = split_setting(setting);
    set(conf.get(), name, value, true);
  }
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_log_cb(conf.get(), log_trampoline);
  return conf;
}

void ConsumeRun::create_consumer() {
  KafkaConf conf = base_conf(false, {{"auto.offset.reset", "earliest"},
                                     {"partition.assignment.strategy", "cooperative-sticky"}});
  set(conf.get(), "group.id", options_.group, false);
  set(conf.get(), "enable.auto.commit", "false", false);
  set(conf.get(), "enable.auto.offset.store", "false", false);
  // The protocol until the group says (see on_rebalance): -X may choose other assignors.
  std::size_t size = 0;
  if (rd_kafka_conf_get(conf.get(), "partition.assignment.strategy", nullptr, &size) ==
          RD_KAFKA_CONF_OK &&
      size > 0) {
    std::string strategies(size, '\0');
    rd_kafka_conf_get(conf.get(), "partition.assignment.strategy", strategies.data(), &size);
    cooperative_ = cooperative_strategy(strategies);
  }
  rd_kafka_conf_set_rebalance_cb(conf.get(), rebalance_trampoline);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), commit_trampoline);
  char error[512];
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error, sizeof error));
  if (!consumer_) throw UsageError(std::string("cannot create the Kafka consumer: ") + error);
  conf.release();  // rd_kafka_new took it
  rd_kafka_poll_set_consumer(consumer_.get());
  PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const std::string& topic : options_.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (const rd_kafka_resp_err_t error_code = rd_kafka_subscribe(consumer_.get(), topics.get())) {
    throw UsageError(std::string("cannot subscribe to the topics: ") +
                     rd_kafka_err2str(error_code));
  }
}

void ConsumeRun::create_dead_letter_producer() {
  if (options_.rejects_topic.empty()) return;
  // Idempotent: a retried send never writes a dead letter twice, nor out of order.
  KafkaConf conf = base_conf(true, {{"enable.idempotence", "true"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), delivery_trampoline);
  char error[512];
  producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error));
  if (!producer_) {
    throw UsageError(std::string("cannot create the producer of --rejects-topic: ") + error);
  }
  conf.release();  // rd_kafka_new took it
}

IngestorOptions ConsumeRun::ingestor_options() {
  IngestorOptions ingestor;
  // max_pending keeps the queue from filling by count; a full queue (by bytes) refuses at once,
  // and the message waits in held_ with the partitions paused: the poll thread never blocks.
  ingestor.queue.max_items = options_.max_pending * 2 + kMaxBatchItems;
  ingestor.queue.overflow = OverflowPolicy::reject_new;
  ingestor.max_in_flight = options_.max_in_flight;
  if (options_.max_attempts > 0) ingestor.retry.max_attempts = options_.max_attempts;
  ingestor.shutdown_deadline = options_.shutdown_timeout;
  ingestor.on_outcome = [this](const ItemOutcome& outcome) { on_outcome(outcome); };
  return ingestor;
}

void ConsumeRun::poll_loop() {
  while (stop_signal() == 0 && !stop_) {
    if (producer_) rd_kafka_poll(producer_.get(), 0);  // dead letters' delivery reports
    offer_held();
    backpressure();
    KafkaMessagePtr message(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (message) {
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        kafka_error(*message);
      } else {
        handle(*message);
      }
    }
    const auto now = Clock::now();
    if (now >= next_commit_) {
      commit(/*sync=*/false);
      next_commit_ = now + options_.commit_interval;
    }
    show_progress(now);
    if (idle_done()) break;
  }
}

void ConsumeRun::handle(const rd_kafka_message_t& message) {
  last_activity_ = Clock::now();
  KafkaMessage view;
  view.topic = rd_kafka_topic_name(message.rkt);
  view.partition = message.partition;
  view.offset = message.offset;
  if (message.key != nullptr)
    view.key = std::string_view(static_cast<const char*>(message.key), message.key_len);
  if (message.payload != nullptr) {
    view.value = std::string_view(static_cast<const char*>(message.payload), message.len);
  }
  MappedMessage mapped = map_message(options_.kind, view, options_.max_value_bytes);

  std::unique_lock<std::mutex> lock(mutex_);
  PartitionKey key{std::string(view.topic), view.partition};
  const auto partition = partitions_.find(key);
  if (partition == partitions_.end() || partition->second.revoking) return;  // not ours now
  ++counts_.read;
  partition->second.tracker.read(view.offset);
  InFlight in_flight{std::move(key), partition->second.epoch, view.offset,
                     view.key ? std::optional<std::string>(*view.key) : std::nullopt,
                     std::move(mapped.item_json)};
  if (!mapped.readable()) {
    ++counts_.unreadable;
    report(in_flight.partition.name() + " offset " + std::to_string(view.offset) + ": " +
           describe_errors(mapped.errors));
    dead_letter(std::move(in_flight), mapped.errors);
    return;
  }
  const std::uint64_t tag = ++next_tag_;
  in_flight_.emplace(tag, std::move(in_flight));
  if (!held_.empty()) {  // behind those already waiting, to keep each user's order
    held_.push_back(tag);
    return;
  }
  lock.unlock();
  offer(tag, std::move(mapped.item));
}

// Hands one item to the Ingestor; keeps its tag in held_ when the queue is full.
void ConsumeRun::offer(std::uint64_t tag, std::variant<std::monostate, Contact, Event> item) {
  AddResult result;
  result.status = AddStatus::invalid;
  if (auto* contact = std::get_if<Contact>(&item)) {
    result = ingestor_->add(std::move(*contact), tag);
  } else if (auto* event = std::get_if<Event>(&item)) {
    result = ingestor_->add(std::move(*event), tag);
  }
  if (result.queued()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto message = in_flight_.find(tag);
  if (message == in_flight_.end()) return;
  switch (result.status) {
    case AddStatus::queue_full:
      held_.push_front(tag);
      return;
    case AddStatus::invalid: {
      // Too large for a request, for instance: as bad as an unreadable message.
      InFlight bad = std::move(message->second);
      in_flight_.erase(message);
      ++counts_.unreadable;
      report(bad.partition.name() + " offset " + std::to_string(bad.offset) +
             " cannot be sent: " + printable(result.reason, 200));
      dead_letter(std::move(bad), {{"", {result.reason}}});
      return;
    }
    case AddStatus::closed:
    case AddStatus::queued:
      ++counts_.dropped;
      finished(message->second, /*confirmed=*/false);
      in_flight_.erase(message);
      return;
  }
}

// Offers the held items again, in order, until the queue refuses one. An item moved into a
// refused `add` is gone, so each is built again from its JSON, identically.
void ConsumeRun::offer_held() {
  while (true) {
    std::uint64_t tag = 0;
    nlohmann::json object;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (held_.empty()) return;
      tag = held_.front();
      held_.pop_front();
      const auto message = in_flight_.find(tag);
      if (message == in_flight_.end()) continue;  // its partition was revoked
      object = json::parse(message->second.item_json, nullptr, /*allow_exceptions=*/false);
    }
    FieldErrors ignored;  // it was built once, so it builds again
    std::variant<std::monostate, Contact, Event> item;
    if (options_.kind == ItemKind::contacts) {
      if (auto contact = build_item<Contact>(object, ignored)) item = std::move(*contact);
    } else {
      if (auto event = build_item<Event>(object, ignored)) item = std::move(*event);
    }
    offer(tag, std::move(item));
    std::lock_guard<std::mutex> lock(mutex_);
    if (!held_.empty() && held_.front() == tag) return;  // still full
  }
}

void ConsumeRun::kafka_error(const rd_kafka_message_t& message) {
  const std::string text = rd_kafka_message_errstr(&message);
  char reason[512];
  if (rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_for(&Stops::gave_up, std::string("Kafka: ") + printable(reason, 300));
    return;
  }
  // The same error again and again (a broker down) is said once in a while.
  const auto now = Clock::now();
  if (text == last_kafka_error_ && now - last_kafka_error_time_ < std::chrono::seconds(30)) return;
  last_kafka_error_ = text;
  last_kafka_error_time_ = now;
  console_.message("instasent: kafka: " + printable(text, 300));
}

// --exit-when-idle: nothing new for that long since the last message or rebalance, nothing in
// flight here, and the group's work done: every partition of the topics committed to its end.
// The last condition keeps a member from leaving while a rebalance is under way, or while the
// partitions of a member that died wait for the group to hand them over.
bool ConsumeRun::idle_done() {
  if (!options_.exit_when_idle || !joined_) return false;
  const auto now = Clock::now();
  if (now - last_activity_ < *options_.exit_when_idle || now < next_group_check_) return false;
  if (producer_ && rd_kafka_outq_len(producer_.get()) > 0) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!in_flight_.empty() || !held_.empty()) return false;
    const bool committed =
        std::all_of(partitions_.begin(), partitions_.end(), [](const auto& entry) {
          const Partition& partition = entry.second;
          const auto offset = partition.tracker.commit_offset();
          return !offset || (partition.committed && *partition.committed >= *offset);
        });
    if (!committed) return false;
  }
  next_group_check_ = now + std::chrono::seconds(1);
  return group_done();
}

// Whether the group has committed every partition of the subscribed topics up to its end (a
// partition never committed: when it holds nothing). A topic that does not exist has none.
bool ConsumeRun::group_done() {
  constexpr int kTimeoutMs = 5'000;
  PartitionList all(rd_kafka_topic_partition_list_new(16));
  for (const std::string& topic : options_.topics) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer_.get(), topic.c_str(), nullptr);
    if (handle == nullptr) return false;
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t error =
        rd_kafka_metadata(consumer_.get(), 0, handle, &metadata, kTimeoutMs);
    rd_kafka_topic_destroy(handle);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    for (int t = 0; t < metadata->topic_cnt; ++t) {
      for (int p = 0; p < metadata->topics[t].partition_cnt; ++p) {
        rd_kafka_topic_partition_list_add(all.get(), topic.c_str(),
                                          metadata->topics[t].partitions[p].id);
      }
    }
    rd_kafka_metadata_destroy(metadata);
  }
  if (rd_kafka_committed(consumer_.get(), all.get(), kTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  for (int i = 0; i < all->cnt; ++i) {
    const rd_kafka_topic_partition_t& partition = all->elems[i];
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (partition.err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_query_watermark_offsets(consumer_.get(), partition.topic, partition.partition,
                                         &low, &high, kTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return false;
    }
    if (partition.offset >= 0 ? partition.offset < high : low < high) return false;
  }
  return true;
}

void ConsumeRun::finish() {
  const bool signaled = stop_signal() != 0;
  if (signaled) {
    console_.message(
        std::string("instasent: ") + signal_name(stop_signal()) +
        ": stopped reading; finishing the messages in flight for up to " +
        format_duration(std::chrono::duration<double>(options_.shutdown_timeout).count()) +
        " (again to quit at once)");
  }
  set_paused(true);
  {
    // What waits for room is given up: not committed, so read again by the next owner.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::uint64_t tag : held_) {
      const auto message = in_flight_.find(tag);
      if (message == in_flight_.end()) continue;
      finished(message->second, /*confirmed=*/false);
      in_flight_.erase(message);
    }
    held_.clear();
  }
  bool refused = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refused = !stops_.access_denied.empty();
  }
  // Refused credentials would refuse the rest too: no deadline then.
  const auto deadline = Clock::now() + (refused ? milliseconds(0) : options_.shutdown_timeout);
  wait_for_final([this] { return in_flight_.empty(); }, deadline);
  commit(/*sync=*/true);
  const std::int64_t remaining = lag(/*ask_group=*/true);
  // What is still in flight is dropped (and so never committed past).
  ingestor_->close(milliseconds(0));
  rd_kafka_consumer_close(consumer_.get());  // revokes what is left through on_rebalance
  if (producer_) rd_kafka_flush(producer_.get(), 1000);
  std::lock_guard<std::mutex> lock(mutex_);
  counts_.lag = remaining;
}

void ConsumeRun::on_log(int level, const char* facility, const char* text, bool producer) {
  // librdkafka's levels are syslog's: 3 error, 4 warning, 5 notice, 6 info, 7 debug.
  const int shown = options_.verbose >= 2 ? 7 : options_.verbose == 1 ? 5 : 3;
  if (level > shown) return;
  // The settings given with -X are the consumer's and the producer's: each warns of the other's.
  if (producer && std::strcmp(facility, "CONFWARN") == 0) return;
  console_.message(std::string("instasent: kafka: ") + printable(text, 500));
}

ConsumeSummary run_consume(const ConsumeOptions& options,
                           const std::function<ClientOptions()>& client_options) {
  ConsumeRun run(options);
  return run.run(client_options);
}

}  // namespace instasent::cli
