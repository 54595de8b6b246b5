// SPDX-License-Identifier: Apache-2.0
// The Ingestor with a durable spool. `add` writes each item to a log on disk before it returns;
// the Ingestor sends it in the background and forgets it once it has its final state. What a run
// could not deliver (it was killed, the server refused the token, the deadline of close passed)
// stays in the spool, and the next run on the same directory sends it first.
//
// It adds 300 contacts and an event for each, flushes, closes, and prints one line of stats().
// Three contacts have an invalid email, to show how the callback reports a rejected item; it
// reports dropped items too. The ids are stable, so running it again stores nothing twice.
//
//   build/examples/ingestor_spool [SPOOL_DIR]        (default: ./instasent-spool)
//
// Reads INSTASENT_PROJECT, INSTASENT_DATASOURCE, INSTASENT_TOKEN and INSTASENT_BASE_URL. Exits 0
// when every item was delivered or rejected, 1 when some were dropped or refused.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include "instasent/instasent.hpp"

namespace {

constexpr int kUsers = 300;

// Logs what failed: the items `add` refused, and those whose final state, as `on_outcome`
// reports it, is not delivered. `on_outcome` runs on the Ingestor's sender threads, several at
// once, and `add` on the main thread: each line is written whole, under one lock.
class FailureLog {
 public:
  void refused(int i, const instasent::AddResult& added) {
    std::ostringstream line;
    line << "refused: item " << i << ": " << instasent::to_string(added.status) << ", "
         << added.reason;
    std::lock_guard<std::mutex> lock(mutex_);
    ++refused_;
    std::cerr << line.str() << "\n";
  }

  void operator()(const instasent::ItemOutcome& outcome) {
    if (outcome.state == instasent::FinalState::delivered) return;
    std::ostringstream line;
    line << instasent::to_string(outcome.state) << ": " << instasent::to_string(outcome.operation)
         << " " << outcome.user_id;
    if (!outcome.event_id.empty()) line << " (event " << outcome.event_id << ")";
    if (outcome.state == instasent::FinalState::dropped) {
      line << ": " << instasent::to_string(outcome.drop_reason) << ", " << outcome.message;
      if (outcome.kept_in_spool) line << "; kept in the spool for the next run";
    }
    // The server's errors, field by field ("" for the request as a whole).
    for (const auto& [field, messages] : outcome.errors) {
      for (const auto& message : messages) {
        line << "; " << (field.empty() ? "request" : field) << ": " << message;
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (outcome.state == instasent::FinalState::dropped) ++dropped_;
    std::cerr << line.str() << "\n";
  }

  // Items that were refused or dropped.
  int failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return refused_ + dropped_;
  }

 private:
  std::mutex mutex_;
  int refused_ = 0;
  int dropped_ = 0;
};

std::string user_id(int i) { return "spool-example-" + std::to_string(i); }

}  // namespace

int main(int argc, char** argv) {
  const std::string spool_directory = argc > 1 ? argv[1] : "instasent-spool";
  try {
    const auto client = instasent::Client::from_env();

    FailureLog failures;  // declared before the Ingestor, which calls it until it is closed
    instasent::IngestorOptions options;
    options.spool.directory = spool_directory;
    options.spool.on_warning = [](const std::string& message) {
      std::cerr << "spool: " << message << "\n";
    };
    options.on_outcome = [&failures](const instasent::ItemOutcome& outcome) { failures(outcome); };
    instasent::Ingestor ingestor(client, options);

    // `add` never throws and never waits for the network. It refuses an item only when it cannot
    // take it (the queue is full, the item is invalid, the Ingestor is closed or has stopped).
    const auto check = [&failures](const instasent::AddResult& added, int i) {
      if (!added.queued()) failures.refused(i, added);
    };
    for (int i = 0; i < kUsers; ++i) {
      const bool invalid_email = i % 100 == 42;
      check(ingestor.add(instasent::Contact(user_id(i))
                             .first_name("User " + std::to_string(i))
                             .email(invalid_email ? "not-an-email" : user_id(i) + "@example.com")
                             .attribute("plan", i % 2 == 0 ? "pro" : "free"),
                         static_cast<std::uint64_t>(i)),
            i);
      // Sent only once the contact above has its final state: the Ingestor keeps each user's
      // order.
      check(ingestor.add(
                instasent::Event(user_id(i), "spool-example-signup-" + std::to_string(i), "signup")
                    .parameter("source", "ingestor_spool"),
                static_cast<std::uint64_t>(i)),
            i);
    }

    // flush waits for what was added so far; close stops accepting, sends what is left until its
    // deadline, and gives up on the rest (kept in the spool).
    if (!ingestor.flush(std::chrono::seconds(30))) {
      std::cerr << "flush: some items have no final state after 30 s\n";
    }
    const auto given_up = ingestor.close(std::chrono::seconds(5));  // on_outcome had them too
    if (!given_up.empty()) std::cerr << "close gave up on " << given_up.size() << " items\n";

    const instasent::IngestorStats stats = ingestor.stats();
    const std::uint64_t dropped = stats.dropped_queue_full + stats.dropped_invalid +
                                  stats.dropped_retries_exhausted + stats.dropped_shutdown +
                                  stats.dropped_unrecoverable + stats.dropped_spool_damaged +
                                  stats.dropped_unauthorized;
    std::cout << "stats: " << stats.enqueued << " queued (" << stats.replayed
              << " replayed from the spool), " << stats.delivered << " delivered, "
              << stats.rejected << " rejected, " << dropped << " dropped or refused, "
              << stats.requests << " requests, " << stats.retries << " retries, "
              << stats.spool_bytes << " bytes in the spool\n";
    return failures.failed() == 0 ? 0 : 1;
  } catch (const instasent::Error& error) {
    // From Client::from_env (a missing or bad setting) or the Ingestor's constructor (options,
    // or a spool directory that cannot be used).
    std::cerr << "error (" << instasent::to_string(error.kind()) << "): " << error.what() << "\n";
    return 1;
  }
}
