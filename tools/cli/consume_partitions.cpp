// SPDX-License-Identifier: Apache-2.0
// Each partition's messages from read to committed: rebalances, outcomes, dead letters, commits
// and backpressure.
#include <algorithm>
#include <cstring>

#include "consume_run.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::string names_of(const rd_kafka_topic_partition_list_t& partitions) {
  std::string names;
  for (int i = 0; i < partitions.cnt && i < 64; ++i) {
    if (!names.empty()) names += ", ";
    names += PartitionKey{partitions.elems[i].topic, partitions.elems[i].partition}.name();
  }
  if (partitions.cnt > 64) names += " and " + std::to_string(partitions.cnt - 64) + " more";
  return printable(names, 2000);
}

bool holds(const rd_kafka_topic_partition_list_t* partitions, const PartitionKey& key) {
  return partitions == nullptr || rd_kafka_topic_partition_list_find(partitions, key.topic.c_str(),
                                                                     key.partition) != nullptr;
}

void report_kafka_error(rd_kafka_error_t* error, Console& console) {
  if (error == nullptr) return;
  console.message(std::string("instasent: kafka: ") + printable(rd_kafka_error_string(error), 300));
  rd_kafka_error_destroy(error);
}

}  // namespace

bool cooperative_strategy(std::string_view strategies) {
  return strategies.find("cooperative-sticky") != std::string_view::npos;
}

bool cooperative_rebalance(rd_kafka_t* consumer, bool otherwise) {
  const char* protocol = rd_kafka_rebalance_protocol(consumer);
  if (protocol == nullptr || std::strcmp(protocol, "NONE") == 0) return otherwise;
  return std::strcmp(protocol, "COOPERATIVE") == 0;
}

void ConsumeRun::on_rebalance(rd_kafka_resp_err_t error,
                              rd_kafka_topic_partition_list_t* partitions) {
  commits_held_ = false;  // this step of the rebalance is done
  // Asked each time rather than once: "NONE" until the member has joined. During
  // rd_kafka_consumer_close librdkafka may no longer say (NULL), and the last answer stands.
  cooperative_ = cooperative_rebalance(consumer_.get(), cooperative_);
  switch (error) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      assign(partitions);
      return;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      revoke(partitions, rd_kafka_assignment_lost(consumer_.get()) != 0);
      return;
    default:
      console_.message(std::string("instasent: kafka: rebalance failed: ") +
                       rd_kafka_err2str(error));
      revoke(partitions, /*lost=*/true);
      return;
  }
}

void ConsumeRun::assign(rd_kafka_topic_partition_list_t* partitions) {
  joined_ = true;
  last_activity_ = Clock::now();  // the partitions got get their chance before an idle exit
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < partitions->cnt; ++i) {
      Partition& partition =
          partitions_[PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition}];
      partition = Partition{};
      partition.epoch = ++next_epoch_;
    }
    counts_.assignments += static_cast<std::uint64_t>(partitions->cnt);
  }
  if (cooperative_) {
    report_kafka_error(rd_kafka_incremental_assign(consumer_.get(), partitions), console_);
  } else {
    rd_kafka_assign(consumer_.get(), partitions);
  }
  // A partition keeps the pause of an earlier assignment (revoke pauses what it gives up), so
  // each one assigned is paused or resumed as the member is.
  if (partitions->cnt > 0) {
    if (paused_) {
      rd_kafka_pause_partitions(consumer_.get(), partitions);
    } else {
      rd_kafka_resume_partitions(consumer_.get(), partitions);
    }
  }
  if (!options_.quiet && partitions->cnt > 0) {
    console_.message("instasent: assigned " + names_of(*partitions));
  }
}

// Gives up `partitions`: stops fetching them, waits (up to --revoke-timeout) for their messages
// in flight to become final, commits them, and unassigns them. What is still not final is not
// committed: the next owner reads it again. Lost partitions (the session expired) are owned by
// another member already, and cannot be committed.
void ConsumeRun::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  if (partitions->cnt > 0) rd_kafka_pause_partitions(consumer_.get(), partitions);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < partitions->cnt; ++i) {
      const auto partition = partitions_.find(
          PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition});
      if (partition != partitions_.end()) partition->second.revoking = true;
    }
    // What waits for room is not sent: the next owner reads it again.
    for (auto tag = held_.begin(); tag != held_.end();) {
      const auto message = in_flight_.find(*tag);
      if (message == in_flight_.end() || !holds(partitions, message->second.partition)) {
        ++tag;
        continue;
      }
      finished(message->second, /*confirmed=*/false);
      in_flight_.erase(message);
      tag = held_.erase(tag);
    }
  }
  if (!lost) {
    wait_for_final(
        [&] {
          return std::all_of(partitions_.begin(), partitions_.end(), [&](const auto& entry) {
            return !entry.second.revoking || entry.second.tracker.pending() == 0;
          });
        },
        Clock::now() + options_.revoke_timeout);
    commit(/*sync=*/true, partitions);
  }
  if (cooperative_) {
    report_kafka_error(rd_kafka_incremental_unassign(consumer_.get(), partitions), console_);
  } else {
    rd_kafka_assign(consumer_.get(), nullptr);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto partition = partitions_.begin(); partition != partitions_.end();) {
      partition = partition->second.revoking || !cooperative_ ? partitions_.erase(partition)
                                                              : std::next(partition);
    }
    counts_.revocations += static_cast<std::uint64_t>(partitions->cnt);
  }
  if (!options_.quiet && partitions->cnt > 0) {
    console_.message(std::string("instasent: ") + (lost ? "lost " : "revoked ") +
                     names_of(*partitions));
  }
}

// Waits until `done()` (called with mutex_ held) or `deadline`, serving the dead-letter
// producer's delivery reports meanwhile.
void ConsumeRun::wait_for_final(const std::function<bool()>& done, Clock::time_point deadline) {
  while (true) {
    if (producer_) rd_kafka_poll(producer_.get(), 0);
    std::unique_lock<std::mutex> lock(mutex_);
    if (done() || Clock::now() >= deadline) return;
    changed_.wait_for(lock, milliseconds(10));
  }
}

// Commits, for each partition (of `only`, when given), the offset after its confirmed run,
// unless that is committed already. The rejects file is synced first: a commit may count on
// what it holds.
void ConsumeRun::commit(bool sync, const rd_kafka_topic_partition_list_t* only) {
  // Held during a rebalance (see on_commit), for a session timeout at most.
  if (!sync && commits_held_ && Clock::now() - commits_held_since_ < std::chrono::seconds(45)) {
    return;
  }
  PartitionList offsets(rd_kafka_topic_partition_list_new(8));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (rejects_file_) {
      try {
        rejects_file_->sync();
      } catch (const std::exception& error) {
        stop_for(&Stops::fatal, error.what());
        return;
      }
    }
    for (auto& [key, partition] : partitions_) {
      if (!holds(only, key)) continue;
      const auto offset = partition.tracker.commit_offset();
      if (!offset || (partition.committed && *partition.committed >= *offset)) continue;
      if (!sync && partition.requested.count(*offset) > 0) continue;  // awaiting its answer
      partition.requested[*offset] = partition.tracker.confirmed();
      rd_kafka_topic_partition_list_add(offsets.get(), key.topic.c_str(), key.partition)->offset =
          *offset;
    }
  }
  if (offsets->cnt == 0) return;
  const rd_kafka_resp_err_t error = rd_kafka_commit(consumer_.get(), offsets.get(), sync ? 0 : 1);
  if (!sync) return;  // on_commit has the answer
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not fatal: those messages are read again by the partition's next owner.
    console_.message(std::string("instasent: kafka: committing offsets failed: ") +
                     rd_kafka_err2str(error));
    return;
  }
  for (int i = 0; i < offsets->cnt; ++i) {
    confirm_commit(PartitionKey{offsets->elems[i].topic, offsets->elems[i].partition},
                   offsets->elems[i].offset);
  }
}

void ConsumeRun::on_commit(rd_kafka_resp_err_t error,
                           const rd_kafka_topic_partition_list_t* offsets) {
  if (error == RD_KAFKA_RESP_ERR__NO_OFFSET || offsets == nullptr) return;
  rd_kafka_resp_err_t failure = error;
  for (int i = 0; i < offsets->cnt; ++i) {
    const PartitionKey key{offsets->elems[i].topic, offsets->elems[i].partition};
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR &&
        offsets->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      confirm_commit(key, offsets->elems[i].offset);
      continue;
    }
    if (failure == RD_KAFKA_RESP_ERR_NO_ERROR) failure = offsets->elems[i].err;
    // Asked again at the next commit.
    std::lock_guard<std::mutex> lock(mutex_);
    const auto partition = partitions_.find(key);
    if (partition != partitions_.end()) partition->second.requested.erase(offsets->elems[i].offset);
  }
  if (failure == RD_KAFKA_RESP_ERR_NO_ERROR) {
    last_commit_error_.clear();
    return;
  }
  if (rebalancing(failure)) {
    // The group is rebalancing. A commit sent before this member has the new generation would be
    // refused as of an illegal generation, and librdkafka takes that as the assignment lost:
    // the periodic commits wait for the rebalance callback. They are retried, so nothing is
    // lost by waiting.
    commits_held_ = true;
    commits_held_since_ = Clock::now();
    return;
  }
  const std::string text = rd_kafka_err2str(failure);
  if (text == last_commit_error_) return;  // said once until a commit succeeds
  last_commit_error_ = text;
  console_.message("instasent: kafka: committing offsets failed: " + text + "; retrying");
}

bool ConsumeRun::rebalancing(rd_kafka_resp_err_t error) noexcept {
  return error == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
         error == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
         error == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID;
}

void ConsumeRun::confirm_commit(const PartitionKey& key, std::int64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = partitions_.find(key);
  if (found == partitions_.end()) return;
  Partition& partition = found->second;
  if (partition.committed && *partition.committed >= offset) return;
  const auto request = partition.requested.find(offset);
  if (request == partition.requested.end()) return;  // not asked by this assignment
  counts_.committed += request->second - partition.committed_count;
  partition.committed_count = request->second;
  partition.committed = offset;
  partition.requested.erase(partition.requested.begin(), std::next(request));
}

void ConsumeRun::on_outcome(const ItemOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = in_flight_.find(outcome.tag);
  if (found == in_flight_.end()) return;
  InFlight message = std::move(found->second);
  in_flight_.erase(found);
  switch (outcome.state) {
    case FinalState::delivered:
      ++counts_.delivered;
      finished(message, /*confirmed=*/true);
      break;
    case FinalState::rejected:
      ++counts_.rejected;
      report(message.partition.name() + " offset " + std::to_string(message.offset) +
             " rejected by the server: " + describe_errors(outcome.errors));
      dead_letter(std::move(message), outcome.errors);
      break;
    case FinalState::dropped:
      ++counts_.dropped;
      finished(message, /*confirmed=*/false);
      if (outcome.drop_reason == DropReason::unauthorized) {
        stop_for(&Stops::access_denied, printable(outcome.message, 300));
      } else if (outcome.drop_reason == DropReason::retries_exhausted ||
                 outcome.drop_reason == DropReason::unrecoverable) {
        stop_for(&Stops::gave_up, printable(outcome.message, 300));
      }
      break;
  }
}

// A rejected or unreadable message goes to the dead-letter topic (final once the producer
// confirms it), or to the rejects file (final once written; synced before any commit), or is only
// counted.
void ConsumeRun::dead_letter(InFlight message, const FieldErrors& errors) {
  std::string where = "\"topic\":" + dump_json(json(message.partition.topic)) +
                      ",\"partition\":" + std::to_string(message.partition.partition) +
                      ",\"offset\":" + std::to_string(message.offset);
  if (message.key) where += ",\"key\":" + dump_json(json(*message.key));
  const std::string record = reject_record(where, message.item_json, errors);
  if (producer_) {
    const std::uint64_t tag = ++next_tag_;
    // The source's key: the dead letter lands in the partition of its user.
    const char* key = message.key ? message.key->data() : nullptr;
    const std::size_t key_size = message.key ? message.key->size() : 0;
    void* opaque = reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag));
    // rd_kafka_produceva rather than the rd_kafka_producev macros, which use GNU extensions.
    rd_kafka_vu_t values[5] = {};
    values[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    values[0].u.cstr = options_.rejects_topic.c_str();
    values[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    values[1].u.i = RD_KAFKA_MSG_F_COPY;
    values[2].vtype = RD_KAFKA_VTYPE_VALUE;
    values[2].u.mem = {const_cast<char*>(record.data()), record.size()};
    values[3].vtype = RD_KAFKA_VTYPE_KEY;
    values[3].u.mem = {const_cast<char*>(key), key_size};
    values[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
    values[4].u.ptr = opaque;
    rd_kafka_error_t* produced = rd_kafka_produceva(producer_.get(), values, 5);
    const rd_kafka_resp_err_t error =
        produced == nullptr ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(produced);
    if (produced != nullptr) rd_kafka_error_destroy(produced);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      stop_for(&Stops::gave_up, "cannot write to --rejects-topic " +
                                    printable(options_.rejects_topic, 100) + ": " +
                                    rd_kafka_err2str(error));
      finished(message, /*confirmed=*/false);
      return;
    }
    in_flight_.emplace(tag, std::move(message));
    return;
  }
  if (rejects_file_) {
    try {
      rejects_file_->write_record(record);
    } catch (const std::exception& error) {
      stop_for(&Stops::fatal, error.what());
      finished(message, /*confirmed=*/false);
      return;
    }
    ++counts_.dead_lettered;
  }
  finished(message, /*confirmed=*/true);
}

void ConsumeRun::on_dead_letter_report(const rd_kafka_message_t& report) {
  const auto tag = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(report._private));
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = in_flight_.find(tag);
  if (found == in_flight_.end()) return;
  if (report.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++counts_.dead_lettered;
    finished(found->second, /*confirmed=*/true);
  } else {
    stop_for(&Stops::gave_up, "--rejects-topic " + printable(options_.rejects_topic, 100) +
                                  " refused a message: " + rd_kafka_err2str(report.err));
    finished(found->second, /*confirmed=*/false);
  }
  in_flight_.erase(found);
}

void ConsumeRun::finished(const InFlight& message, bool confirmed) {
  const auto partition = partitions_.find(message.partition);
  if (partition != partitions_.end() && partition->second.epoch == message.epoch) {
    partition->second.tracker.finished(message.offset, confirmed);
  }
  changed_.notify_all();
}

// Pauses every partition while too many messages are in flight or one waits for room in the
// Ingestor's queue; resumes them once half the window is free.
void ConsumeRun::backpressure() {
  std::size_t pending = 0;
  bool held = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending = in_flight_.size();
    held = !held_.empty();
  }
  if (!paused_ && (held || pending >= options_.max_pending)) {
    set_paused(true);
    std::lock_guard<std::mutex> lock(mutex_);
    ++counts_.pauses;
  } else if (paused_ && !held && pending <= options_.max_pending / 2) {
    set_paused(false);
  }
}

void ConsumeRun::set_paused(bool paused) {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const PartitionList partitions(assigned);
  if (partitions->cnt > 0) {
    if (paused) {
      rd_kafka_pause_partitions(consumer_.get(), partitions.get());
    } else {
      rd_kafka_resume_partitions(consumer_.get(), partitions.get());
    }
  }
  paused_ = paused;
}

void ConsumeRun::stop_for(std::string Stops::*reason, const std::string& message) {
  if ((stops_.*reason).empty()) stops_.*reason = message;
  stop_ = true;
}

}  // namespace instasent::cli
