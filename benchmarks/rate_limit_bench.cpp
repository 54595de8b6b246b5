// SPDX-License-Identifier: Apache-2.0
// How much of a rate limit the Ingestor uses, and how many 429s it earns: against the emulator
// (in this process) limited to N requests a minute, in fixed windows and as a token bucket, with
// more events waiting than the limit lets through, one event a request (batch.max_items = 1).
//
//   rate_limit_bench [per_minute=1200] [minutes=2] [window|bucket|both]
//
// Each mode runs for whole clock minutes, from a minute's start, and prints the requests accepted
// each minute, the 429s, and the share of the allowance used: N a minute in window mode; in
// bucket mode the full bucket at the start (N requests) plus N a minute.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "instasent/instasent.hpp"
#include "server.hpp"

namespace {

using std::chrono::system_clock;

instasent::Client client_for(int port) {
  instasent::ClientOptions options;
  options.project = "proj_demo";
  options.datasource = "ds_demo";
  options.token = "demo-token";
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  return instasent::Client(options);
}

void sleep_until_next_minute() {
  const auto now = system_clock::now();
  const auto minute = std::chrono::time_point_cast<std::chrono::minutes>(now);
  std::this_thread::sleep_until(minute + std::chrono::minutes(1) + std::chrono::milliseconds(20));
}

void run(instasent::emulator::RateLimitMode mode, long per_minute, int minutes) {
  instasent::emulator::Config config;
  config.specs = instasent::emulator::default_specs();
  config.tenants = {{"proj_demo", "ds_demo", {"demo-token"}}};
  config.rate_limit_per_minute = per_minute;
  config.rate_limit_mode = mode;
  instasent::emulator::Emulator emulator(config);
  const int port = emulator.bind();
  std::thread server([&] { emulator.serve(); });

  const bool bucket = mode == instasent::emulator::RateLimitMode::bucket;
  std::printf("%s mode, %ld requests a minute, %d minutes:\n", bucket ? "bucket" : "window",
              per_minute, minutes);
  sleep_until_next_minute();
  instasent::IngestorOptions options;
  options.batch.max_items = 1;
  options.retry.max_attempts = 1'000;
  instasent::Ingestor ingestor(client_for(port), options);
  // More than the limit can let through in the time given.
  const long waiting = per_minute * (minutes + 2);
  for (long i = 0; i < waiting; ++i) {
    ingestor.add(instasent::Event("USER-" + std::to_string(i), "purchase"));
  }
  std::uint64_t before = 0;
  for (int minute = 1; minute <= minutes; ++minute) {
    std::this_thread::sleep_until(
        std::chrono::time_point_cast<std::chrono::minutes>(system_clock::now()) +
        std::chrono::minutes(1));
    const std::uint64_t delivered = ingestor.stats().delivered;
    std::printf("  minute %d: %llu accepted\n", minute,
                static_cast<unsigned long long>(delivered - before));
    before = delivered;
  }
  const instasent::IngestorStats stats = ingestor.stats();
  const double allowed =
      static_cast<double>(per_minute) * minutes + (bucket ? static_cast<double>(per_minute) : 0);
  std::printf("  accepted %llu of %.0f allowed (%.1f %%), 429s: %llu\n",
              static_cast<unsigned long long>(stats.delivered), allowed,
              100.0 * static_cast<double>(stats.delivered) / allowed,
              static_cast<unsigned long long>(stats.rate_limited));
  std::fflush(stdout);
  ingestor.close(std::chrono::milliseconds(0));
  emulator.stop();
  server.join();
}

}  // namespace

int main(int argc, char** argv) {
  const long per_minute = argc > 1 ? std::atol(argv[1]) : 1'200;
  const int minutes = argc > 2 ? std::atoi(argv[2]) : 2;
  const std::string which = argc > 3 ? argv[3] : "both";
  if (per_minute <= 0 || minutes <= 0 ||
      (which != "window" && which != "bucket" && which != "both")) {
    std::fprintf(stderr,
                 "usage: rate_limit_bench [per_minute=1200] [minutes=2] [window|bucket|both]\n");
    return 2;
  }
  if (which != "bucket") run(instasent::emulator::RateLimitMode::window, per_minute, minutes);
  if (which != "window") run(instasent::emulator::RateLimitMode::bucket, per_minute, minutes);
  return 0;
}
