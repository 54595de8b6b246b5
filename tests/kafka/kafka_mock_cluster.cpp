// SPDX-License-Identifier: Apache-2.0
// kafka_mock_cluster: librdkafka's mock cluster (the real Kafka protocol, no broker to install) as
// a process of its own, so that several `instasent consume` processes can join one group.
//
//   kafka_mock_cluster [--brokers N] TOPIC:PARTITIONS...
//
// Prints the bootstrap servers on stdout's first line and serves until SIGINT or SIGTERM, or
// until its parent (the test) ends.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;

extern "C" void stop(int) { g_stop = 1; }

int usage() {
  std::fprintf(stderr, "usage: kafka_mock_cluster [--brokers N] TOPIC:PARTITIONS...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Ends with the test that started it, whatever way the test ends.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;  // the parent went before the line above
  struct sigaction action {};
  action.sa_handler = stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  int brokers = 1;
  int first_topic = 1;
  if (argc > 2 && std::string(argv[1]) == "--brokers") {
    brokers = std::atoi(argv[2]);
    first_topic = 3;
  }
  if (brokers < 1 || first_topic >= argc) return usage();

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  // The mock cluster lives on a client handle; a producer is the lightest one.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (handle == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", error);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot create the cluster\n");
    return 1;
  }
  for (int i = first_topic; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos) return usage();
    const int partitions = std::atoi(spec.c_str() + colon + 1);
    if (partitions < 1) return usage();
    const rd_kafka_resp_err_t created = rd_kafka_mock_topic_create(
        cluster, spec.substr(0, colon).c_str(), partitions, brokers < 3 ? brokers : 3);
    if (created != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_mock_cluster: %s: %s\n", spec.c_str(), rd_kafka_err2str(created));
      return 1;
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  while (g_stop == 0) pause();

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
