// SPDX-License-Identifier: Apache-2.0
// A producer for the spool's crash test: adds events (and every tenth user's contact) to an
// Ingestor with a spool, and prints each item's key once `add` has accepted it, until it is
// killed.
//
//   spool_writer BASE_URL SPOOL_DIR FIRST COUNT [SYNC [SYNC_INTERVAL_MS]]
//
// Prints "c:U<n>" for a contact and "e:E<n>" for an event, one per line, flushed at once; after
// COUNT items it prints "done" and waits to be killed. SYNC is the spool's sync mode (always,
// interval or none; the default's when left out), SYNC_INTERVAL_MS its sync_interval.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "instasent/instasent.hpp"

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    std::fprintf(stderr, "usage: spool_writer BASE_URL SPOOL_DIR FIRST COUNT [SYNC [MS]]\n");
    return 2;
  }
  instasent::ClientOptions client_options;
  client_options.project = "proj_a";
  client_options.datasource = "ds_a";
  client_options.token = "token-a";
  client_options.base_url = argv[1];
  instasent::IngestorOptions options;
  options.spool.directory = argv[2];
  options.queue.overflow = instasent::OverflowPolicy::block;
  options.queue.block_timeout = std::chrono::milliseconds(60'000);
  options.queue.max_items = 2'000;
  if (argc >= 6) {
    const std::string sync = argv[5];
    if (sync == "always") {
      options.spool.sync = instasent::SpoolSync::always;
    } else if (sync == "interval") {
      options.spool.sync = instasent::SpoolSync::interval;
    } else if (sync == "none") {
      options.spool.sync = instasent::SpoolSync::none;
    } else {
      std::fprintf(stderr, "spool_writer: unknown sync mode %s\n", argv[5]);
      return 2;
    }
  }
  if (argc >= 7) options.spool.sync_interval = std::chrono::milliseconds(std::stol(argv[6]));
  const long first = std::stol(argv[3]);
  const long count = std::stol(argv[4]);
  try {
    instasent::Ingestor ingestor(instasent::Client(client_options), options);
    for (long n = first; n < first + count; ++n) {
      const std::string user = "U" + std::to_string(n % 500);
      if (n % 10 == 0) {
        if (!ingestor.add(instasent::Contact(user).attribute("n", n))) return 1;
        std::printf("c:%s\n", user.c_str());
      }
      const std::string id = "E" + std::to_string(n);
      if (!ingestor.add(instasent::Event(user, id, "purchase"))) return 1;
      std::printf("e:%s\n", id.c_str());
      std::fflush(stdout);
    }
    std::printf("done\n");
    std::fflush(stdout);
    for (;;) pause();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "spool_writer: %s\n", error.what());
    return 1;
  }
}
