// SPDX-License-Identifier: Apache-2.0
// What reading a spool back costs: an Ingestor opened on a spool that a process left full while
// its server was down, against the null server (benchmarks/null_server.cpp).
//
//   replay_bench NULL_SERVER [events=240000] [spool parent directory=/tmp]
//
// A first child process adds the events against a port nobody answers and closes at once, which
// leaves them all in the spool. A second child opens an Ingestor on the spool against the null
// server and prints: the spool's size, the time until the first request went out and the resident
// memory then, the time until every item was delivered, and the peak resident memory of that
// process. Each phase runs in its own process, so that its memory is its own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "instasent/instasent.hpp"
#include "null_server_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

instasent::Client client_for(int port) {
  instasent::ClientOptions options;
  options.project = "p";
  options.datasource = "d";
  options.token = "bench-token";
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  return instasent::Client(options);
}

instasent::IngestorOptions spool_options(const std::string& directory) {
  instasent::IngestorOptions options;
  options.spool.directory = directory;
  options.spool.sync = instasent::SpoolSync::none;
  return options;
}

// Resident memory now, in MiB.
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int fill(const std::string& directory, int count) {
  instasent::IngestorOptions options = spool_options(directory);
  options.queue.max_items = static_cast<std::size_t>(count);
  options.queue.max_bytes = std::size_t{1} << 32;
  instasent::Ingestor ingestor(client_for(instasent_bench::refusing_port()), options);
  for (int i = 0; i < count; ++i) {
    const auto added = ingestor.add(instasent::Event("USER-" + std::to_string(i % 1000), "purchase")
                                        .parameter("amount", 49.9)
                                        .parameter("currency", "EUR")
                                        .parameter("sku", "SKU-" + std::to_string(i)));
    if (!added) {
      std::fprintf(stderr, "add refused: %s\n", added.reason.c_str());
      return 1;
    }
  }
  ingestor.close(milliseconds(0));
  return 0;
}

int replay(const std::string& directory, int port, int count) {
  const auto started = Clock::now();
  instasent::Ingestor ingestor(client_for(port), spool_options(directory));
  const double opened = seconds_since(started);
  while (ingestor.stats().requests == 0 && seconds_since(started) < 600) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double first_request = seconds_since(started);
  const double resident_then = resident_mib();
  if (!ingestor.flush(milliseconds(600'000))) {
    std::fprintf(stderr, "not everything was delivered within 10 minutes\n");
    return 1;
  }
  const double drained = seconds_since(started);
  const instasent::IngestorStats stats = ingestor.stats();
  std::printf("constructor returned after   %.3f s\n", opened);
  std::printf("first request after          %.3f s (resident then: %.1f MiB)\n", first_request,
              resident_then);
  std::printf("all %llu delivered after %s %.2f s (%.0f events/s)\n",
              static_cast<unsigned long long>(stats.delivered),
              std::string(8 - std::to_string(stats.delivered).size(), ' ').c_str(), drained,
              static_cast<double>(count) / drained);
  std::printf("peak resident memory         %.1f MiB\n", peak_resident_mib());
  return stats.delivered == static_cast<std::uint64_t>(count) ? 0 : 1;
}

template <typename Phase>
int in_child(Phase phase) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int status = phase();
    std::fflush(nullptr);
    std::_Exit(status);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::uint64_t directory_bytes(const std::string& directory) {
  std::uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: replay_bench NULL_SERVER [events=240000] [spool parent=/tmp]\n");
    return 2;
  }
  const int count = argc > 2 ? std::atoi(argv[2]) : 240'000;
  const std::string directory =
      std::string(argc > 3 ? argv[3] : "/tmp") + "/instasent-replay-bench";
  std::filesystem::remove_all(directory);
  if (in_child([&] { return fill(directory, count); }) != 0) return 1;
  std::printf("spool: %d events left, %.1f MB on disk\n", count,
              static_cast<double>(directory_bytes(directory)) / 1e6);
  const instasent_bench::NullServer server(argv[1]);
  const int result = in_child([&] { return replay(directory, server.port(), count); });
  std::filesystem::remove_all(directory);
  return result;
}
