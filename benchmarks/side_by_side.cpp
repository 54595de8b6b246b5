// SPDX-License-Identifier: Apache-2.0
// Three ways to send the same contacts, measured side by side in one process and one run against
// the same null server (benchmarks/null_server.cpp, its own process, so that only the client's CPU
// is counted):
//
//   naive     what code without the SDK would do: a fresh curl handle per batch of 100, the batch
//             built as an nlohmann DOM, dumped, and the answer parsed into a DOM;
//   client    Client::upsert_contacts over every contact (requests of 100, one connection);
//   ingestor  Ingestor::add for each contact, then close() (4 senders).
//
// Each contender builds its own contacts (7 fields each) inside its measurement. Rounds run the
// three in turn, so that the machine's noise falls on all of them; the figures are medians over the
// rounds. Also: add()'s latency on the calling thread (p50, p99, p99.9) and the memory an item
// takes while it waits in the Ingestor's queue.
//
//   side_by_side NULL_SERVER [contacts=100000] [rounds=5] [CONTENDER]
//
// With CONTENDER (naive, client or ingestor) only that one runs, without the memory figures: for
// `valgrind --tool=callgrind`, whose instruction counts are repeatable.
#include <curl/curl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"
#include "null_server_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using instasent_bench::NullServer;
using instasent_bench::refusing_port;

const char* const kToken = "bench-token";

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bytes the allocator has handed out and not had back.
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // the arenas' chunks and the blocks mmapped apart
}

std::string base_url(int port) { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }

instasent::Client client_for(int port) {
  instasent::ClientOptions options;
  options.project = "p";
  options.datasource = "d";
  options.token = kToken;
  options.base_url = base_url(port);
  return instasent::Client(options);
}

// The contact every contender sends: 7 fields.
instasent::Contact contact(int i) {
  instasent::Contact contact("USER-" + std::to_string(i));
  contact.first_name("Ada")
      .last_name("Lovelace")
      .email("ada@example.com")
      .country_code("GB")
      .attribute("plan", "pro")
      .attribute("score", i);
  return contact;
}

// --- The contenders: each sends `count` contacts and throws unless every one was accepted
// ---------

std::size_t append_to_string(char* data, std::size_t size, std::size_t items, void* out) {
  static_cast<std::string*>(out)->append(data, size * items);
  return size * items;
}

void send_naive(int port, int count) {
  const std::string url = base_url(port) + "/project/p/datasource/d/stream/contacts";
  const std::string authorization = std::string("Authorization: Bearer ") + kToken;
  std::size_t accepted = 0;
  for (int first = 0; first < count; first += 100) {
    json body = json::array();
    for (int i = first; i < std::min(count, first + 100); ++i) {
      body.push_back({{"_user_id", "USER-" + std::to_string(i)},
                      {"_first_name", "Ada"},
                      {"_last_name", "Lovelace"},
                      {"_email", "ada@example.com"},
                      {"_country_code", "GB"},
                      {"plan", "pro"},
                      {"score", i}});
    }
    const std::string text = body.dump();
    std::string answer;
    CURL* handle = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, authorization.c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, text.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(text.size()));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &answer);
    const CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(handle);
    if (code != CURLE_OK || status != 202) throw std::runtime_error("naive: a request failed");
    const json parsed = json::parse(answer);
    for (const json& item : parsed.at("entity").at("items")) {
      accepted += item.at("status") == "success" ? 1 : 0;
    }
  }
  if (accepted != static_cast<std::size_t>(count)) throw std::runtime_error("naive: not accepted");
}

void send_client(int port, int count) {
  const instasent::Client client = client_for(port);
  std::vector<instasent::Contact> contacts;
  contacts.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) contacts.push_back(contact(i));
  const instasent::BatchResult result = client.upsert_contacts(contacts);
  if (result.count(instasent::ItemStatus::accepted) != contacts.size()) {
    throw std::runtime_error("client: not every contact was accepted");
  }
}

// Also records each add()'s duration in nanoseconds.
void send_ingestor(int port, int count, std::vector<std::int64_t>& add_ns) {
  instasent::Ingestor ingestor(client_for(port));
  add_ns.clear();
  add_ns.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    instasent::Contact c = contact(i);
    const auto start = Clock::now();
    const instasent::AddResult added = ingestor.add(std::move(c));
    add_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    if (!added) throw std::runtime_error("ingestor: add refused: " + added.reason);
  }
  if (!ingestor.close(std::chrono::minutes(5)).empty() ||
      ingestor.stats().delivered != static_cast<std::uint64_t>(count)) {
    throw std::runtime_error("ingestor: not every contact was delivered");
  }
}

// Heap bytes per item while `count` items wait in an Ingestor whose server is down, and the size
// of one item's JSON.
struct QueuedMemory {
  double bytes_per_item;
  std::size_t json_bytes;
};

QueuedMemory queued_memory(int count, const std::function<bool(instasent::Ingestor&, int)>& add,
                           std::size_t json_bytes) {
  instasent::IngestorOptions options;
  options.queue.max_items = static_cast<std::size_t>(count) + 1;
  options.queue.max_bytes = std::size_t{1} << 32;
  const int port = refusing_port();
  instasent::Ingestor ingestor(client_for(port), options);
  const std::size_t before = heap_in_use();
  for (int i = 0; i < count; ++i) {
    if (!add(ingestor, i)) throw std::runtime_error("memory: add refused");
  }
  // Once the items have left add()'s inbox for the queue, where they wait: flush, without waiting
  // for anything, moves them (the inbox's vector, mid-move, would count some twice).
  ingestor.flush(std::chrono::milliseconds(0));
  const std::size_t after = heap_in_use();
  ingestor.close(std::chrono::milliseconds(0));
  return {static_cast<double>(after - before) / count, json_bytes};
}

instasent::Event event(int i) {
  instasent::Event event("USER-" + std::to_string(i % 1000), "EVT-" + std::to_string(i),
                         "purchase");
  event.parameter("amount", 19.99).parameter("currency", "EUR").parameter("sku", "SKU-12345");
  return event;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double percentile(std::vector<std::int64_t> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const auto at = std::min(sorted.size() - 1, static_cast<std::size_t>(q * sorted.size()));
  return static_cast<double>(sorted[at]);
}

struct Contender {
  const char* name;
  std::function<void(int port, int count)> send;
  std::vector<double> cpu_us;  // per contact, one per round
  std::vector<double> per_second;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: side_by_side NULL_SERVER [contacts=100000] [rounds=5] [CONTENDER]\n");
    return 2;
  }
  const int count = argc > 2 ? std::atoi(argv[2]) : 100'000;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  const std::string only = argc > 4 ? argv[4] : "";
  if (count < 100 || rounds < 1) {
    std::fprintf(stderr, "side_by_side: at least 100 contacts and 1 round\n");
    return 2;
  }
  try {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const NullServer server(argv[1]);
    std::vector<double> p50, p99, p999;
    std::vector<std::int64_t> add_ns;
    std::vector<Contender> contenders = {
        {"naive", send_naive, {}, {}},
        {"client", send_client, {}, {}},
        {"ingestor", [&](int port, int n) { send_ingestor(port, n, add_ns); }, {}, {}},
    };
    if (!only.empty()) {
      const auto keep = std::find_if(contenders.begin(), contenders.end(),
                                     [&](const Contender& c) { return only == c.name; });
      if (keep == contenders.end()) throw std::runtime_error("no contender " + only);
      for (int round = 0; round < rounds; ++round) keep->send(server.port(), count);
      std::printf("%s: %d contacts, %d rounds\n", keep->name, count, rounds);
      curl_global_cleanup();
      return 0;
    }
    std::printf("%d contacts of 7 fields per contender and round, %d rounds, %u cores\n", count,
                rounds, std::thread::hardware_concurrency());
    for (Contender& contender : contenders) contender.send(server.port(), 1'000);  // warm-up
    for (int round = 1; round <= rounds; ++round) {
      for (Contender& contender : contenders) {
        const double cpu = cpu_seconds();
        const auto wall = Clock::now();
        contender.send(server.port(), count);
        const double wall_seconds = seconds_since(wall);
        contender.cpu_us.push_back((cpu_seconds() - cpu) / count * 1e6);
        contender.per_second.push_back(count / wall_seconds);
        if (&contender == &contenders.back()) {  // the Ingestor's add() latencies, not timed
          p50.push_back(percentile(add_ns, 0.50));
          p99.push_back(percentile(add_ns, 0.99));
          p999.push_back(percentile(add_ns, 0.999));
        }
      }
      std::printf("round %d done\n", round);
      std::fflush(stdout);
    }

    std::printf("\n| contender | CPU per contact (us) | contacts/s (wall) |\n|---|---|---|\n");
    for (const Contender& contender : contenders) {
      std::printf("| %s | %.2f | %.0f |\n", contender.name, median(contender.cpu_us),
                  median(contender.per_second));
    }
    std::printf(
        "\nIngestor add() on the calling thread (ns, median of the rounds): "
        "p50 %.0f, p99 %.0f, p99.9 %.0f\n",
        median(p50), median(p99), median(p999));

    const auto& naive = contenders[0];
    const auto& client = contenders[1];
    const auto& ingestor = contenders[2];
    std::printf("\nratios (medians of this run):\n");
    std::printf("  naive CPU / client CPU        %.2f\n",
                median(naive.cpu_us) / median(client.cpu_us));
    std::printf("  ingestor CPU / client CPU     %.2f\n",
                median(ingestor.cpu_us) / median(client.cpu_us));
    std::printf("  ingestor / client throughput  %.2f\n",
                median(ingestor.per_second) / median(client.per_second));
    std::printf("  client / naive throughput     %.2f\n",
                median(client.per_second) / median(naive.per_second));

    const int queued = 100'000;
    const QueuedMemory contacts = queued_memory(
        queued, [](instasent::Ingestor& in, int i) { return bool(in.add(contact(i))); },
        contact(0).to_json().size());
    const QueuedMemory events = queued_memory(
        queued, [](instasent::Ingestor& in, int i) { return bool(in.add(event(i))); },
        event(0).to_json().size());
    std::printf("\nmemory per queued item (%d items waiting, heap bytes in use):\n", queued);
    std::printf("  contact: %.0f bytes (its JSON: %zu bytes)\n", contacts.bytes_per_item,
                contacts.json_bytes);
    std::printf("  event:   %.0f bytes (its JSON: %zu bytes)\n", events.bytes_per_item,
                events.json_bytes);
    curl_global_cleanup();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "side_by_side: %s\n", error.what());
    return 1;
  }
  return 0;
}
