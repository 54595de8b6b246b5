// SPDX-License-Identifier: Apache-2.0
// The smallest Ingest API server the benchmarks can talk to: every batch of contacts (or events)
// is answered 202 with one success per item, naming its `_user_id` (or `_event_id`), found by a
// plain scan of the body rather than a JSON parse, so that the server costs the client's machine
// as little as it can. Keep-alive, no checks: it is not an emulator. Answers are gzipped when
// the client asks (cpp-httplib does so for JSON when built with zlib), as a real server's may be.
//
//   null_server [threads=8]
// Prints the port it listens on (127.0.0.1) as one line on stdout, then serves until killed.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// `{"entity":{"items":[{"status":"success","<key>":"<id>"},...]}}` for every `"<key>":"<id>"` of
// the body (ids are copied as they appear, escapes and all).
std::string echo_successes(const std::string& body, const std::string& key) {
  std::string answer = R"({"entity":{"items":[)";
  const std::string pattern = "\"" + key + "\":\"";
  bool first = true;
  for (std::size_t at = body.find(pattern); at != std::string::npos;
       at = body.find(pattern, at + 1)) {
    const std::size_t start = at + pattern.size();
    std::size_t end = start;
    while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
    answer += first ? R"({"status":"success",")" : R"(,{"status":"success",")";
    answer += key;
    answer += "\":\"";
    answer.append(body, start, end - start);
    answer += "\"}";
    first = false;
  }
  answer += "]}}";
  return answer;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  httplib::Server server;
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  server.set_keep_alive_timeout(60);
  const auto answer = [](const char* key) {
    return [key](const httplib::Request& request, httplib::Response& response) {
      response.status = 202;
      response.set_content(echo_successes(request.body, key), "application/json");
    };
  };
  server.Post(R"(/v1/project/[^/]+/datasource/[^/]+/stream/contacts)", answer("_user_id"));
  server.Post(R"(/v1/project/[^/]+/datasource/[^/]+/stream/events)", answer("_event_id"));
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "null_server: cannot bind to 127.0.0.1\n");
    return 1;
  }
  std::printf("%d\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
