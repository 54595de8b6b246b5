// SPDX-License-Identifier: Apache-2.0
// What a `consume` tells: the progress line, the lag, the summary and its JSON, the bad messages.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "consume_run.hpp"
#include "report.hpp"
#include "stop_signals.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", seconds);
  return text;
}

}  // namespace

json ConsumeSummary::to_json() const {
  return {{"mode", "consume"},
          {"read", read},
          {"delivered", delivered},
          {"rejected", rejected},
          {"unreadable", unreadable},
          {"dropped", dropped},
          {"dead_lettered", dead_lettered},
          {"committed", committed},
          {"lag", lag},
          {"pauses", pauses},
          {"assignments", assignments},
          {"revocations", revocations},
          {"seconds", std::round(seconds * 1000) / 1000},
          {"rate_limit_wait_seconds", std::round(rate_limit_wait_seconds * 1000) / 1000},
          {"retry_wait_seconds", std::round(retry_wait_seconds * 1000) / 1000},
          {"exit_code", exit_code}};
}

// Messages after the committed offset of each partition held now, from the high watermarks of
// the latest fetches. Before this member has committed a partition, its committed offset is
// asked of the group when `ask_group`, else taken as the first offset read (or the partition is
// left out).
std::int64_t ConsumeRun::lag(bool ask_group) {
  PartitionList from(rd_kafka_topic_partition_list_new(8));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, partition] : partitions_) {
      std::int64_t offset = RD_KAFKA_OFFSET_INVALID;
      if (partition.committed) {
        offset = *partition.committed;
      } else if (!ask_group && partition.tracker.first_read()) {
        offset = *partition.tracker.first_read();
      }
      rd_kafka_topic_partition_list_add(from.get(), key.topic.c_str(), key.partition)->offset =
          offset;
    }
  }
  if (ask_group) {
    PartitionList unknown(rd_kafka_topic_partition_list_new(8));
    for (int i = 0; i < from->cnt; ++i) {
      if (from->elems[i].offset < 0) {
        rd_kafka_topic_partition_list_add(unknown.get(), from->elems[i].topic,
                                          from->elems[i].partition);
      }
    }
    if (unknown->cnt > 0 &&
        rd_kafka_committed(consumer_.get(), unknown.get(), 5'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < unknown->cnt; ++i) {
        rd_kafka_topic_partition_list_find(from.get(), unknown->elems[i].topic,
                                           unknown->elems[i].partition)
            ->offset = unknown->elems[i].offset;
      }
    }
  }
  std::int64_t total = 0;
  for (int i = 0; i < from->cnt; ++i) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), from->elems[i].topic,
                                       from->elems[i].partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    const std::int64_t start = from->elems[i].offset;
    if (start < 0 && !ask_group) continue;  // not known yet
    total += std::max<std::int64_t>(0, high - (start < 0 ? low : start));
  }
  return total;
}

void ConsumeRun::show_progress(Clock::time_point now) {
  const bool terminal = console_.terminal();
  if (options_.quiet || (!terminal && options_.progress_interval <= milliseconds(0))) return;
  ConsumeSummary counts;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    counts = counts_;
  }
  const double rate =
      meter_.update(now, counts.delivered + counts.rejected + counts.unreadable + counts.dropped);
  if (now < next_progress_) return;
  next_progress_ = now + (terminal ? milliseconds(200) : options_.progress_interval);
  std::string text = with_thousands(counts.read) + " read, " + with_thousands(counts.delivered) +
                     " delivered, " + with_thousands(counts.rejected) + " rejected, " +
                     with_thousands(counts.unreadable) + " unreadable, " +
                     with_thousands(counts.committed) + " committed, lag " +
                     with_thousands(static_cast<unsigned long long>(lag(/*ask_group=*/false))) +
                     "  " + with_thousands(static_cast<unsigned long long>(rate)) + "/s";
  if (paused_) text += "  (paused: the server is behind)";
  console_.progress(terminal ? text : "instasent: " + text);
}

ConsumeSummary ConsumeRun::summary() {
  std::lock_guard<std::mutex> lock(mutex_);
  ConsumeSummary result = counts_;
  result.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  if (ingestor_) {
    const IngestorStats stats = ingestor_->stats();
    result.rate_limit_wait_seconds = std::chrono::duration<double>(stats.rate_limit_wait).count();
    result.retry_wait_seconds = std::chrono::duration<double>(stats.retry_wait).count();
  }
  result.exit_code =
      send_exit_code(!stops_.access_denied.empty(), !stops_.gave_up.empty(), !stops_.fatal.empty(),
                     result.dropped, result.rejected + result.unreadable, stop_signal());
  return result;
}

void ConsumeRun::print_report(const ConsumeSummary& summary) {
  Stops stops;
  int reported = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stops = stops_;
    reported = reported_;
  }
  if (!stops.access_denied.empty()) {
    console_.message("instasent: the server refused the credentials (" + stops.access_denied +
                     "); stopped. Check the token, project and datasource");
  }
  if (!stops.gave_up.empty())
    console_.message("instasent: gave up: " + stops.gave_up + "; stopped");
  if (!stops.fatal.empty()) console_.message("instasent: " + stops.fatal);
  if (reported > options_.max_reported) {
    console_.message("instasent: " + with_thousands(reported - options_.max_reported) +
                     " more bad messages not shown");
  }
  if (!options_.quiet) {
    const auto final_count = summary.delivered + summary.rejected + summary.unreadable;
    std::string text = "instasent: " + with_thousands(summary.read) + " read, " +
                       with_thousands(summary.delivered) + " delivered, " +
                       with_thousands(summary.rejected) + " rejected, " +
                       with_thousands(summary.unreadable) + " unreadable";
    if (!options_.rejects_topic.empty() || !options_.rejects_path.empty()) {
      text += " (" + with_thousands(summary.dead_lettered) + " written to " +
              (options_.rejects_topic.empty() ? display_path(options_.rejects_path)
                                              : "topic " + printable(options_.rejects_topic, 100)) +
              ")";
    }
    if (summary.dropped > 0) text += ", " + with_thousands(summary.dropped) + " not delivered";
    text +=
        ", " + with_thousands(summary.committed) + " committed, lag " +
        with_thousands(static_cast<unsigned long long>(summary.lag)) + " in " +
        seconds_text(summary.seconds) + " s (" +
        with_thousands(summary.seconds > 0 ? static_cast<unsigned long long>(
                                                 static_cast<double>(final_count) / summary.seconds)
                                           : 0) +
        " messages/s)";
    if (summary.rate_limit_wait_seconds > 0 || summary.retry_wait_seconds > 0) {
      text += "; waited " + format_duration(summary.rate_limit_wait_seconds) + " on rate limits, " +
              format_duration(summary.retry_wait_seconds) + " on retries";
    }
    console_.message(text);
  }
  if (stop_signal() != 0) {
    console_.message(std::string("instasent: interrupted by ") + signal_name(stop_signal()) +
                     "; the group's next member goes on from the committed offsets");
  }
}

void ConsumeRun::report(const std::string& message) {
  if (reported_ < options_.max_reported) console_.message("instasent: " + message);
  ++reported_;
}

}  // namespace instasent::cli
