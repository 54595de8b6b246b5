// SPDX-License-Identifier: Apache-2.0
// A service that streams events from standard input to Instasent through an Ingestor, and stops
// cleanly: on SIGTERM or SIGINT, or at the end of its input, it stops reading, closes the
// Ingestor with a deadline (10 s) so that every event it has read gets a final state, and exits.
//
// Input: one event per line, a JSON object with the API's field names. `_user_id` and
// `_event_type` are required; an event without `_event_id` gets a random one from the Ingestor;
// `_event_parameters` is an object. Other fields are ignored (`_event_date` too: the server dates
// the event when it receives it). For example:
//
//   {"_user_id": "user-1", "_event_type": "purchase", "_event_id": "order-1",
//    "_event_parameters": {"amount": "49.90", "currency": "EUR"}}
//
// Blank lines are skipped. A line that is not such an object is reported on stderr with its
// number and skipped; so is an event the server rejects or that could not be delivered.
//
//   tail -F events.ndjson | build/examples/stdin_service
//
// Reads INSTASENT_PROJECT, INSTASENT_DATASOURCE, INSTASENT_TOKEN and INSTASENT_BASE_URL. Exits 0
// when every event read was delivered or rejected, 1 when some were not (dropped at the deadline,
// or refused by the Ingestor), 2 on an error that keeps it from running (a missing setting).
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"

namespace {

constexpr std::chrono::seconds kShutdownDeadline{10};
constexpr std::size_t kMaxLineBytes = 1 << 20;  // a longer line is cut into pieces

// SIGINT and SIGTERM, made into a file descriptor a poll loop can wait on. The signals are
// blocked, in this thread and in every thread started after (threads inherit the mask), and a
// thread of this class waits for them with sigwait; when one comes it writes to a pipe. So no
// code runs in a signal handler, and no system call of the SDK's threads is interrupted.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    if (pipe(pipe_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    waiter_ = std::thread([this] {
      int signal_number = 0;
      sigwait(&signals_, &signal_number);
      const char byte = static_cast<char>(signal_number);
      [[maybe_unused]] const ssize_t written = write(pipe_[1], &byte, 1);
    });
  }
  ~StopSignals() {
    // When no signal came the waiter is still waiting: a signal of its own lets it be joined.
    pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
    close(pipe_[0]);
    close(pipe_[1]);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Readable once a signal has come.
  int fd() const { return pipe_[0]; }
  // The signal that came, once fd() is readable.
  int signal_number() const {
    char byte = 0;
    [[maybe_unused]] const ssize_t got = read(pipe_[0], &byte, 1);
    return byte;
  }

 private:
  sigset_t signals_{};
  int pipe_[2] = {-1, -1};
  std::thread waiter_;
};

// Standard input, line by line, waiting at the same time for a stop signal.
class LineReader {
 public:
  explicit LineReader(const StopSignals& stop) : stop_(stop) {}

  // The next line, without its newline. Every whole line already read is returned before a
  // signal is looked at. nullopt at the end of the input, or when a signal came (`stop_signal()`
  // then names it); a last line without a newline is returned at the end of the input, but not
  // when a signal came.
  std::optional<std::string> next() {
    while (true) {
      if (const std::size_t newline = buffer_.find('\n', start_); newline != std::string::npos) {
        std::string line = buffer_.substr(start_, newline - start_);
        start_ = newline + 1;
        return line;
      }
      if (ended_ || buffer_.size() - start_ >= kMaxLineBytes) {
        if (start_ == buffer_.size()) return std::nullopt;  // the end, and nothing left
        std::string line = buffer_.substr(start_);
        start_ = buffer_.size();
        return line;
      }
      buffer_.erase(0, start_);
      start_ = 0;

      pollfd waiting[] = {{STDIN_FILENO, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
      if (poll(waiting, 2, -1) < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "poll");
      }
      if (waiting[1].revents != 0) {
        stop_signal_ = stop_.signal_number();
        return std::nullopt;
      }
      char chunk[64 * 1024];
      const ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got < 0) {
        std::cerr << "reading standard input: " << std::generic_category().message(errno) << "\n";
      }
      if (got <= 0) {
        ended_ = true;
      } else {
        buffer_.append(chunk, static_cast<std::size_t>(got));
      }
    }
  }

  int stop_signal() const { return stop_signal_; }

 private:
  const StopSignals& stop_;
  std::string buffer_;
  std::size_t start_ = 0;  // where the next line starts in buffer_
  bool ended_ = false;
  int stop_signal_ = 0;
};

// A JSON value as an event parameter. The builder refuses values nested deeper than
// kMaxValueDepth; this stops there too, rather than recurse as deep as the input goes.
instasent::Value to_value(const nlohmann::json& json, std::size_t depth = 0) {
  if (depth > instasent::kMaxValueDepth) throw std::invalid_argument("a parameter nests too deep");
  switch (json.type()) {
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<std::string, instasent::Value>> members;
      for (const auto& [key, value] : json.items()) {
        members.emplace_back(key, to_value(value, depth + 1));
      }
      return instasent::Value::object(members);
    }
    case nlohmann::json::value_t::array: {
      std::vector<instasent::Value> items;
      for (const auto& item : json) items.push_back(to_value(item, depth + 1));
      return instasent::Value::array(items);
    }
    case nlohmann::json::value_t::string:
      return json.get_ref<const std::string&>();
    case nlohmann::json::value_t::boolean:
      return json.get<bool>();
    case nlohmann::json::value_t::number_integer:
      return json.get<std::int64_t>();
    case nlohmann::json::value_t::number_unsigned:
      return json.get<std::uint64_t>();
    case nlohmann::json::value_t::number_float:
      return json.get<double>();
    default:
      return nullptr;
  }
}

// The event a line describes. Throws std::invalid_argument, or instasent::InvalidInputError
// naming the field, when the line is not a valid event.
instasent::Event parse_event(const std::string& line) {
  const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) throw std::invalid_argument("not a JSON object");
  const auto text = [&json](const char* key) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_string()) {
      throw std::invalid_argument(std::string(key) + " must be a string");
    }
    return it->get<std::string>();
  };
  instasent::Event event(text("_user_id"), text("_event_type"));
  if (json.contains("_event_id")) event.event_id(text("_event_id"));
  if (const auto parameters = json.find("_event_parameters"); parameters != json.end()) {
    if (!parameters->is_object()) throw std::invalid_argument("_event_parameters: not an object");
    for (const auto& [key, value] : parameters->items()) event.parameter(key, to_value(value));
  }
  return event;
}

// What became of each line: counts, and a line on stderr for each one that was not delivered.
// `on_outcome` runs on the Ingestor's sender threads, several at once, and the lines are read on
// the main thread: each line is written whole, under one lock.
class Report {
 public:
  // A line that is not an event.
  void skipped(std::uint64_t line_number, const std::string& why) {
    write(line_number, "skipped: " + why, invalid_);
  }
  // An event the Ingestor refused at `add`.
  void refused(std::uint64_t line_number, const instasent::AddResult& added) {
    write(line_number,
          std::string("refused (") + instasent::to_string(added.status) + "): " + added.reason,
          refused_);
  }

  // For `on_outcome`. The tag is the line number.
  void operator()(const instasent::ItemOutcome& outcome) {
    switch (outcome.state) {
      case instasent::FinalState::delivered: {
        std::lock_guard<std::mutex> lock(mutex_);
        ++delivered_;
        return;
      }
      case instasent::FinalState::rejected: {
        std::string text = "rejected";
        for (const auto& [field, messages] : outcome.errors) {
          for (const auto& message : messages) {
            text += "; " + (field.empty() ? "request" : field) + ": " + message;
          }
        }
        write(outcome.tag, text, rejected_);
        return;
      }
      case instasent::FinalState::dropped:
        write(outcome.tag,
              std::string("dropped (") + instasent::to_string(outcome.drop_reason) +
                  "): " + outcome.message,
              dropped_);
        return;
    }
  }

  // One line, once every event has its final state.
  std::string summary(std::uint64_t lines) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return "read " + std::to_string(lines) + " lines (" + std::to_string(invalid_) + " invalid, " +
           std::to_string(refused_) + " refused): " + std::to_string(delivered_) + " delivered, " +
           std::to_string(rejected_) + " rejected, " + std::to_string(dropped_) + " dropped";
  }
  // Events read that were neither delivered nor rejected.
  std::uint64_t lost() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return refused_ + dropped_;
  }

 private:
  void write(std::uint64_t line_number, const std::string& text, std::uint64_t& counter) {
    const std::string line = "line " + std::to_string(line_number) + ": " + text + "\n";
    std::lock_guard<std::mutex> lock(mutex_);
    ++counter;
    std::cerr << line;
  }

  mutable std::mutex mutex_;
  std::uint64_t invalid_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t dropped_ = 0;
};

const char* signal_name(int signal_number) {
  return signal_number == SIGINT ? "SIGINT" : signal_number == SIGTERM ? "SIGTERM" : "a signal";
}

}  // namespace

int main() {
  try {
    // First: the threads started below (the Ingestor's, libcurl's) inherit the blocked signals.
    const StopSignals stop;

    const auto client = instasent::Client::from_env();
    Report report;  // declared before the Ingestor, which calls it until it is closed
    instasent::IngestorOptions options;
    options.on_outcome = [&report](const instasent::ItemOutcome& outcome) { report(outcome); };
    instasent::Ingestor ingestor(client, options);

    LineReader input(stop);
    std::uint64_t lines = 0;
    while (const std::optional<std::string> line = input.next()) {
      ++lines;
      if (line->find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
      try {
        const instasent::AddResult added = ingestor.add(parse_event(*line), lines);
        if (!added.queued()) report.refused(lines, added);
      } catch (const std::exception& error) {  // invalid_argument or InvalidInputError
        report.skipped(lines, error.what());
      }
    }

    const instasent::IngestorStats before = ingestor.stats();
    std::cout << "stopping on "
              << (input.stop_signal() != 0 ? signal_name(input.stop_signal()) : "end of input")
              << " with " << before.queued + before.in_flight << " events not sent yet\n";
    // Sends what is left until the deadline; what is still not delivered then is dropped (and
    // reported through on_outcome). After close returns, on_outcome is never called again.
    ingestor.close(kShutdownDeadline);

    std::cout << report.summary(lines) << "\n";
    return report.lost() == 0 ? 0 : 1;
  } catch (const std::exception& error) {
    // A missing setting (Client::from_env), bad options, or no pipe or thread for the signals.
    std::cerr << "error: " << error.what() << "\n";
    return 2;
  }
}
