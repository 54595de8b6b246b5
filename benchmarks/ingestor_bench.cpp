// SPDX-License-Identifier: Apache-2.0
// Figures for the Ingestor: nanoseconds per add() on the calling thread (median and p99), memory
// per queued item, and items per second end to end to an emulator with faults off.
//
//   ingestor_bench [events=200000]
// The emulator runs in this process (its own threads), so the end-to-end figure is a floor.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
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

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int count = argc > 1 ? std::atoi(argv[1]) : 200'000;

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
    options.max_queue_items = static_cast<std::size_t>(count);
    options.max_queue_bytes = std::size_t{1} << 32;
    const long before = max_rss_kib();
    instasent::Ingestor ingestor(client_for(port), options);
    for (int i = 0; i < count; ++i) ingestor.add(make_event(i));
    const long after = max_rss_kib();
    std::printf("memory: %.0f bytes per queued event (peak RSS growth over %d events)\n",
                (after - before) * 1024.0 / count, count);
    ingestor.close(std::chrono::seconds(30));
  }

  // 2. add() latency on the calling thread and end-to-end throughput, senders running.
  {
    instasent::IngestorOptions options;
    options.max_queue_items = static_cast<std::size_t>(count);  // measure add(), not refusals
    options.max_queue_bytes = std::size_t{1} << 32;
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
    std::printf("add(): median %lld ns, p99 %lld ns (includes serializing the event)\n",
                static_cast<long long>(nanos[nanos.size() / 2]),
                static_cast<long long>(nanos[nanos.size() * 99 / 100]));
    const auto stats = ingestor.stats();
    std::printf("end to end: %.0f events/s (%llu delivered, %llu requests, flushed: %s)\n",
                static_cast<double>(stats.delivered) / seconds,
                static_cast<unsigned long long>(stats.delivered),
                static_cast<unsigned long long>(stats.requests), flushed ? "yes" : "no");
  }
  emulator.stop();
  server.join();
  return 0;
}
