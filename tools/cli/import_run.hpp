// SPDX-License-Identifier: Apache-2.0
// One import from start to summary, for run_import (import.hpp). import.cpp opens the input and
// the checkpoint, keeps the progress and the checkpoint going, and finishes; import_records.cpp
// reads the records and takes each one to its end (unreadable, checked, batched or sent).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "checkpoint.hpp"
#include "import.hpp"
#include "import_state.hpp"
#include "instasent/client.hpp"
#include "instasent/ingestor.hpp"
#include "line_source.hpp"
#include "records.hpp"
#include "stop_signals.hpp"

namespace instasent::cli {

class ImportRun {
 public:
  explicit ImportRun(const ImportOptions& options) : options_(options) {}
  ~ImportRun() { stop_ticker(); }
  ImportRun(const ImportRun&) = delete;
  ImportRun& operator=(const ImportRun&) = delete;

  ImportSummary run(const std::function<ClientOptions()>& client_options);

 private:
  using Clock = std::chrono::steady_clock;

  // import.cpp: before and after the reading, the ticker and the checkpoint.
  InputFormat resolve_format() const;
  void open_input();
  ImportSummary interrupted_before_reading();
  void open_checkpoint();
  void save_initial_checkpoint();
  IngestorOptions ingestor_options() const;
  void finish_sending();
  void start_ticker();
  void stop_ticker();
  void tick();
  void save_checkpoint();

  // import_records.cpp: the reading, and each record's way to its end.
  void read_all();
  void refuse_checkpoint_beyond_the_end();
  void handle(const Record& record);
  template <typename Item>
  void dispatch(const Record& record, Item item);
  template <typename Item>
  std::optional<Item> build_item(const Record& record);
  template <typename Item>
  void offer(const Record& record, Item item);

  bool stop_reading() const { return stop_signal() != 0 || state_->should_stop_reading(); }
  bool stop_sending() const { return stop_signal() != 0 || state_->should_stop(); }

  const ImportOptions& options_;
  Clock::time_point started_;
  InputFormat format_ = InputFormat::ndjson;
  std::optional<LineSource> source_;
  std::optional<RecordReader> reader_;
  std::uint64_t skip_through_ = 0;
  bool resuming_ = false;
  std::shared_ptr<ImportState> state_;
  std::atomic<bool> input_finished_{false};

  std::mutex checkpoint_mutex_;
  std::optional<Checkpoint> checkpoint_;         // the last one saved
  std::atomic<bool> checkpoint_refused_{false};  // not this input's: never saved, nor shown

  std::thread ticker_;
  std::mutex ticker_mutex_;
  std::condition_variable ticker_cv_;
  bool ticker_stop_ = false;

  std::optional<Client> client_;      // none for --validate
  std::optional<Ingestor> ingestor_;  // last: closed first when the run is destroyed
};

}  // namespace instasent::cli
