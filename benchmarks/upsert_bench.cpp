// SPDX-License-Identifier: Apache-2.0
// CPU cost per contact of the whole client: building contacts, then upsert_contacts end to end
// (serialization, libcurl over loopback, reading the 202 answers) against a minimal Ingest API
// server running in a child process, so that only the client's own CPU time is counted.
//
//   upsert_bench [contacts=100000] [rounds=3]
#include <httplib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "instasent/instasent.hpp"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Answers every batch with the documented 202 shape, one success per item, without a DOM.
[[noreturn]] void serve(int port_pipe) {
  httplib::Server server;
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  server.Post(R"(/v1/project/p/datasource/d/stream/contacts)",
              [](const httplib::Request& request, httplib::Response& response) {
                std::string answer = R"({"entity":{"items":[)";
                const std::string key = "\"_user_id\":\"";
                for (std::size_t at = request.body.find(key); at != std::string::npos;
                     at = request.body.find(key, at + 1)) {
                  const std::size_t start = at + key.size();
                  const std::size_t end = request.body.find('"', start);
                  if (answer.back() == '}') answer += ',';
                  answer += R"({"status":"success","_user_id":")";
                  answer.append(request.body, start, end - start);
                  answer += "\"}";
                }
                answer += "]}}";
                response.status = 202;
                response.set_content(answer, "application/json");
              });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (write(port_pipe, &port, sizeof port) != sizeof port) std::_Exit(1);
  server.listen_after_bind();
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t server = fork();
  if (server == 0) serve(fds[1]);
  int port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) return 1;

  instasent::ClientOptions options;
  options.project = "p";
  options.datasource = "d";
  options.token = "bench-token";
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  const instasent::Client client(options);

  std::printf("contacts per round: %d (requests of 100)\n", count);
  for (int round = 1; round <= rounds; ++round) {
    const double t0 = cpu_seconds();
    std::vector<instasent::Contact> contacts;
    contacts.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      contacts.emplace_back("USER-" + std::to_string(i));
      contacts.back()
          .first_name("Ada")
          .email("ada@example.com")
          .attribute("plan", "pro")
          .attribute("score", i);
    }
    const double t1 = cpu_seconds();
    const instasent::BatchResult result = client.upsert_contacts(contacts);
    const double t2 = cpu_seconds();
    if (result.count(instasent::ItemStatus::accepted) != contacts.size()) {
      std::fprintf(stderr, "not every contact was accepted\n");
      return 1;
    }
    std::printf(
        "round %d: build %.3f us/contact, upsert %.3f us/contact, total %.3f us/contact (CPU)\n",
        round, (t1 - t0) / count * 1e6, (t2 - t1) / count * 1e6, (t2 - t0) / count * 1e6);
  }
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  return 0;
}
