// SPDX-License-Identifier: Apache-2.0
// instasent-emulator: serves the Ingest API on loopback until SIGINT or SIGTERM.
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <thread>

#include "config.hpp"
#include "server.hpp"

namespace {

// Every connection holds a descriptor: a soft limit below --threads would cap connections
// before --threads does.
void raise_open_file_limit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace instasent::emulator;
  Config config;
  try {
    bool help = false;
    config = parse_command_line(argc, argv, help);
    if (help) {
      std::fputs(usage(), stdout);
      return 0;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "instasent-emulator: %s\n", error.what());
    return 2;
  }

  raise_open_file_limit(static_cast<rlim_t>(config.max_connections) + 64);

  // Signals are taken by sigwait below, never by a handler in some server thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    Emulator emulator(config);
    const int port = emulator.bind();
    std::printf("%d\n", port);  // first line: the port, for scripts and tests
    std::fflush(stdout);
    std::fprintf(stderr,
                 "instasent-emulator: serving http://%s:%d/v1 (project %s, datasource %s); "
                 "SIGINT or SIGTERM stops it\n",
                 config.host.c_str(), port, config.tenants.front().project.c_str(),
                 config.tenants.front().datasource.c_str());
    std::thread server([&emulator] { emulator.serve(); });
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    emulator.stop();
    server.join();
    std::fprintf(stderr, "instasent-emulator: stopped\n");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "instasent-emulator: %s\n", error.what());
    return 1;
  }
  return 0;
}
