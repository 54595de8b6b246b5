// SPDX-License-Identifier: Apache-2.0
// What the Ingestor's tests share: a client for an emulator on a loopback port, a record of the
// outcomes the callback saw, and the event ids the emulator stored.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "emulator/emulator_fixture.hpp"
#include "instasent/instasent.hpp"
#include "support/printers.hpp"

namespace instasent::ingestor_testing {

using emulator::Config;
using emulator::testing::EmulatorProcess;
using emulator::testing::kDatasource;
using emulator::testing::kProject;
using emulator::testing::kToken;
using emulator::testing::RefusingPort;
using emulator::testing::RunningEmulator;
using emulator::testing::test_config;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A client of the emulator's tenant on `port`, with `change` applied to its options.
inline Client client_with(int port, const std::function<void(ClientOptions&)>& change) {
  ClientOptions options;
  options.project = kProject;
  options.datasource = kDatasource;
  options.token = kToken;
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  options.curl.request_timeout = milliseconds(5'000);
  change(options);
  return Client(options);
}

inline Client client_for(int port, std::shared_ptr<Transport> transport = nullptr) {
  return client_with(port,
                     [&](ClientOptions& options) { options.transport = std::move(transport); });
}

// Every outcome the callback saw, by item key ("c:" user id, "e:" event id, "d:" user id).
struct Outcomes {
  std::mutex mutex;
  std::map<std::string, std::vector<ItemOutcome>> by_key;

  std::function<void(const ItemOutcome&)> callback() {
    return [this](const ItemOutcome& outcome) {
      std::lock_guard<std::mutex> lock(mutex);
      const char* prefix = outcome.operation == Operation::record_event     ? "e:"
                           : outcome.operation == Operation::delete_contact ? "d:"
                                                                            : "c:";
      const std::string& id =
          outcome.operation == Operation::record_event ? outcome.event_id : outcome.user_id;
      by_key[prefix + id].push_back(outcome);
    };
  }
  // Options whose on_outcome records here.
  IngestorOptions recording_options() {
    IngestorOptions options;
    options.on_outcome = callback();
    return options;
  }
  std::size_t count(FinalState state) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& [key, list] : by_key) {
      for (const auto& outcome : list) n += outcome.state == state ? 1 : 0;
    }
    return n;
  }
};

// Polls `ingestor` until the spool's backlog is all read back (or 60 s pass, generous for the
// sanitizers); returns the stats then.
inline IngestorStats wait_for_replay(const Ingestor& ingestor) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  IngestorStats stats = ingestor.stats();
  while (stats.replay_pending > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stats = ingestor.stats();
  }
  return stats;
}

// The stored events' ids (the emulator keeps one event per id; its duplicateEvents counter
// says how many resends it absorbed).
inline std::set<std::string> stored_event_ids(const RunningEmulator& server) {
  httplib::Client admin = server.client();
  admin.set_read_timeout(std::chrono::seconds(120));  // large under the sanitizers
  const auto answer = admin.Get(
      (std::string("/_emulator/event-ids?project=") + kProject + "&datasource=" + kDatasource)
          .c_str());
  if (!answer || answer->status != 200) throw std::runtime_error("no event ids from the emulator");
  const auto ids = nlohmann::json::parse(answer->body).get<std::vector<std::string>>();
  return {ids.begin(), ids.end()};
}

}  // namespace instasent::ingestor_testing
