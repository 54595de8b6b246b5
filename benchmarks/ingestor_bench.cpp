// SPDX-License-Identifier: Apache-2.0
// Figures for the Ingestor: nanoseconds per add() on the calling thread (median and p99), memory
// per queued item, and items per second end to end to an emulator with faults off.
//
//   ingestor_bench [events=200000] [spool parent directory=/tmp]
// add() includes serializing the event. The emulator runs in this process (its own threads), so the
// end-to-end figure is a floor.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "config.hpp"
#include "instasent/instasent.hpp"
#include "server.hpp"

namespace {

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

instasent::Client client_for(int port) {
  instasent::ClientOptions options;
  options.project = "proj_demo";
  options.datasource = "ds_demo";
  options.token = "demo-token";
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  return instasent::Client(options);
}

instasent::Event make_event(int i) {
  return instasent::Event("USER-" + std::to_string(i % 1000), "purchase")
      .parameter("amount", 49.9)
      .parameter("currency", "EUR");
}

void run(const char* label, int port, int count, const instasent::SpoolOptions& spool) {
  using Clock = std::chrono::steady_clock;
  instasent::IngestorOptions options;
  options.queue.max_items = static_cast<std::size_t>(count);  // measure add(), not refusals
  options.queue.max_bytes = std::size_t{1} << 32;
  options.spool = spool;
  instasent::Ingestor ingestor(client_for(port), options);
  std::vector<std::int64_t> nanos;
  nanos.reserve(static_cast<std::size_t>(count));
  const auto started = Clock::now();
  for (int i = 0; i < count; ++i) {
    instasent::Event event = make_event(i);
    const auto t0 = Clock::now();
    const auto result = ingestor.add(std::move(event));
    const auto t1 = Clock::now();
    if (!result) {
      std::fprintf(stderr, "add refused: %s\n", result.reason.c_str());
      break;
    }
    nanos.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  const bool flushed = ingestor.flush(std::chrono::minutes(5));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::sort(nanos.begin(), nanos.end());
  const auto stats = ingestor.stats();
  std::printf(
      "%s: add() median %lld ns, p99 %lld ns; end to end %.0f events/s (%llu delivered, "
      "%llu requests, flushed: %s)\n",
      label, static_cast<long long>(nanos[nanos.size() / 2]),
      static_cast<long long>(nanos[nanos.size() * 99 / 100]),
      static_cast<double>(stats.delivered) / seconds,
      static_cast<unsigned long long>(stats.delivered),
      static_cast<unsigned long long>(stats.requests), flushed ? "yes" : "no");
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 200'000;
  const std::string spool_parent = argc > 2 ? argv[2] : "/tmp";

  instasent::emulator::Config config;
  config.specs = instasent::emulator::default_specs();
  config.tenants = {{"proj_demo", "ds_demo", {"demo-token"}}};
  instasent::emulator::Emulator emulator(config);
  const int port = emulator.bind();
  std::thread server([&] { emulator.serve(); });

  // 1. Memory per queued item: nothing is due, so everything stays queued.
  {
    instasent::IngestorOptions options;
    options.flush_interval = std::chrono::hours(1);
    options.queue.max_items = static_cast<std::size_t>(count);
    options.queue.max_bytes = std::size_t{1} << 32;
    const long before = max_rss_kib();
    instasent::Ingestor ingestor(client_for(port), options);
    for (int i = 0; i < count; ++i) ingestor.add(make_event(i));
    const long after = max_rss_kib();
    std::printf("memory: %.0f bytes per queued event (peak RSS growth over %d events)\n",
                (after - before) * 1024.0 / count, count);
    ingestor.close(std::chrono::seconds(30));
  }

  // 2. add() latency on the calling thread and end-to-end throughput, senders running: in
  // memory, then with a spool under each sync policy ("always" flushes the disk on every add, so
  // it gets fewer events).
  run("in memory", port, count, {});
  const std::string spool = spool_parent + "/instasent-bench-spool";
  for (const auto& [name, sync, n] :
       {std::tuple{"spool, sync none", instasent::SpoolSync::none, count},
        std::tuple{"spool, sync interval", instasent::SpoolSync::interval, count},
        std::tuple{"spool, sync always", instasent::SpoolSync::always, count / 20}}) {
    std::filesystem::remove_all(spool);
    instasent::SpoolOptions options;
    options.directory = spool;
    options.sync = sync;
    run(name, port, n, options);
  }
  std::filesystem::remove_all(spool);
  emulator.stop();
  server.join();
  return 0;
}
