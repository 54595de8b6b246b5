// SPDX-License-Identifier: Apache-2.0
// consume_bench: messages per second through `instasent consume` into the emulator, with one
// instance and with several in one group (scripts/bench-consume).
//
//   consume_bench INSTASENT EMULATOR [MESSAGES=200000] [INSTANCES=1,2]
//
// librdkafka's mock cluster runs in this process (one broker, a topic "events" of 4 partitions)
// and is filled with MESSAGES small events keyed by 1,000 users. For each instance count, a
// fresh emulator (no rate limit, no faults) and a fresh group: the rate is MESSAGES over the time
// from the emulator's first request to the moment it has stored every event (so the 3 s the mock
// cluster takes to form a group are not counted); the time until the group has committed every
// partition to its end is printed too (commits go out every second).
#include <fcntl.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr int kPartitions = 4;

std::vector<pid_t> g_children;  // ended with the benchmark, whichever way it ends

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "consume_bench: %s\n", what.c_str());
  for (const pid_t child : g_children) kill(child, SIGKILL);
  std::exit(1);
}

rd_kafka_t* client(rd_kafka_type_t type, const std::map<std::string, std::string>& settings) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      fail(error);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) fail(error);
  return handle;
}

pid_t spawn(const std::vector<std::string>& words, const char* out_path, bool quiet = false) {
  std::vector<std::string> copy = words;
  std::vector<char*> argv;
  for (std::string& word : copy) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    fail("cannot start " + words[0]);
  }
  g_children.push_back(pid);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The emulator on a free port; its port from the first line of its stdout.
int start_emulator(const std::string& program, pid_t& pid) {
  const std::string out = "/tmp/consume_bench_emulator." + std::to_string(getpid());
  pid = spawn({program, "--port", "0", "--project", "p", "--datasource", "d", "--token", "t"},
              out.c_str(), /*quiet=*/true);
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(out);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(10ms);
  }
  fail("the emulator printed no port");
}

bool committed_to_end(rd_kafka_t* consumer, const std::map<int, std::int64_t>& end) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) rd_kafka_topic_partition_list_add(list, "events", p);
  bool done = rd_kafka_committed(consumer, list, 5'000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; done && i < list->cnt; ++i) {
    done = list->elems[i].offset == end.at(list->elems[i].partition);
  }
  rd_kafka_topic_partition_list_destroy(list);
  return done;
}

}  // namespace

int run(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    fail(error.what());
  }
}

int run(int argc, char** argv) {
  if (argc < 3) fail("usage: consume_bench INSTASENT EMULATOR [MESSAGES] [INSTANCES,...]");
  const std::string cli = argv[1];
  const std::string emulator = argv[2];
  const int messages = argc > 3 ? std::atoi(argv[3]) : 200'000;
  std::vector<int> instance_counts;
  std::stringstream counts(argc > 4 ? argv[4] : "1,2");
  for (std::string count; std::getline(counts, count, ',');) {
    instance_counts.push_back(std::atoi(count.c_str()));
  }

  rd_kafka_t* host = client(RD_KAFKA_PRODUCER, {{"log_level", "2"}});
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, 1);
  rd_kafka_mock_topic_create(cluster, "events", kPartitions, 1);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);

  rd_kafka_t* producer = client(
      RD_KAFKA_PRODUCER, {{"bootstrap.servers", brokers}, {"linger.ms", "50"}, {"log_level", "2"}});
  std::map<int, std::int64_t> end;
  for (int i = 0; i < messages; ++i) {
    const std::string user = "U" + std::to_string(i % 1000);
    const std::string value =
        R"({"_event_type":"purchase","_event_parameters":{"n":)" + std::to_string(i) + "}}";
    const int partition = (i % 1000) % kPartitions;
    ++end[partition];
    // rd_kafka_produceva rather than the rd_kafka_producev macros, which use GNU extensions.
    rd_kafka_vu_t values[5] = {};
    values[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    values[0].u.cstr = "events";
    values[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    values[1].u.i32 = partition;
    values[2].vtype = RD_KAFKA_VTYPE_KEY;
    values[2].u.mem = {const_cast<char*>(user.data()), user.size()};
    values[3].vtype = RD_KAFKA_VTYPE_VALUE;
    values[3].u.mem = {const_cast<char*>(value.data()), value.size()};
    values[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    values[4].u.i = RD_KAFKA_MSG_F_COPY;
    while (true) {
      rd_kafka_error_t* error = rd_kafka_produceva(producer, values, 5);
      if (error == nullptr) break;
      const bool full = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL;
      rd_kafka_error_destroy(error);
      if (!full) fail("cannot produce");
      rd_kafka_poll(producer, 10);
    }
  }
  if (rd_kafka_flush(producer, 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) fail("cannot produce");
  rd_kafka_destroy(producer);
  std::printf("%d events over %d partitions\n", messages, kPartitions);

  for (std::size_t round = 0; round < instance_counts.size(); ++round) {
    const int instances = instance_counts[round];
    pid_t emulator_pid = -1;
    const int port = start_emulator(emulator, emulator_pid);
    const std::string group = "bench-" + std::to_string(round);
    setenv("INSTASENT_PROJECT", "p", 1);
    setenv("INSTASENT_DATASOURCE", "d", 1);
    setenv("INSTASENT_TOKEN", "t", 1);
    setenv("INSTASENT_BASE_URL", ("http://127.0.0.1:" + std::to_string(port) + "/v1").c_str(), 1);
    std::vector<pid_t> members;
    for (int i = 0; i < instances; ++i) {
      members.push_back(
          spawn({cli, "consume", "events", "--brokers", brokers, "--topic", "events", "--group",
                 group, "-X", "session.timeout.ms=4000", "--quiet", "--exit-when-idle", "1"},
                "/dev/null"));
    }
    httplib::Client admin("127.0.0.1", port);
    rd_kafka_t* checker =
        client(RD_KAFKA_CONSUMER,
               {{"bootstrap.servers", brokers}, {"group.id", group}, {"log_level", "2"}});
    Clock::time_point first_request;
    while (true) {
      const auto stats = admin.Get("/_emulator/stats");
      if (stats && nlohmann::json::parse(stats->body).value("requests", 0) > 0) break;
      std::this_thread::sleep_for(5ms);
    }
    first_request = Clock::now();
    // Delivered: every event stored. The counter is cheap to poll; a duplicate counts in it too,
    // so the stored ids (a large answer) are counted once it is reached.
    const auto accepted_now = [&] {
      const auto stats = admin.Get("/_emulator/stats");
      return stats ? nlohmann::json::parse(stats->body).value("itemsAccepted", 0) : 0;
    };
    const auto stored_now = [&] {
      const auto ids = admin.Get("/_emulator/event-ids?project=p&datasource=d");
      const nlohmann::json list =
          ids ? nlohmann::json::parse(ids->body, nullptr, false) : nlohmann::json();
      return list.is_array() ? static_cast<int>(list.size()) : 0;
    };
    while (accepted_now() < messages) std::this_thread::sleep_for(10ms);
    while (stored_now() < messages) std::this_thread::sleep_for(200ms);
    const double seconds = std::chrono::duration<double>(Clock::now() - first_request).count();
    while (!committed_to_end(checker, end)) std::this_thread::sleep_for(20ms);
    const double committed_seconds =
        std::chrono::duration<double>(Clock::now() - first_request).count();
    for (const pid_t member : members) waitpid(member, nullptr, 0);
    rd_kafka_consumer_close(checker);
    rd_kafka_destroy(checker);
    const auto stored = admin.Get("/_emulator/stats");
    const auto accepted = nlohmann::json::parse(stored->body).value("itemsAccepted", 0);
    kill(emulator_pid, SIGTERM);
    waitpid(emulator_pid, nullptr, 0);
    std::printf(
        "%d instance(s): all stored in %.2f s, %.0f messages/s; all committed after %.2f s; "
        "%d items accepted%s\n",
        instances, seconds, messages / seconds, committed_seconds, accepted,
        accepted > messages ? " (some sent twice, after a rebalance)" : "");
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return 0;
}
