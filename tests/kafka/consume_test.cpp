// SPDX-License-Identifier: Apache-2.0
// `instasent consume` end to end: the real Kafka protocol through librdkafka's mock cluster (a
// process of its own), real HTTP to the emulator (with faults), the CLI as child processes that
// are signalled and killed. What each test proves is said above it.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "consume_run.hpp"
#include "kafka/kafka_support.hpp"

namespace instasent::cli::testing {
namespace {

constexpr int kPartitions = 4;
constexpr const char* kTopic = "events";

std::string event_value(int i) {
  return json{{"_event_type", "purchase"}, {"_event_parameters", {{"n", i}}}}.dump();
}

// The user of message i, and the partition its key goes to.
std::string user_of(int i, int users) { return "U" + std::to_string(i % users); }
int partition_of(int i, int users) { return (i % users) % kPartitions; }

// Produces `count` events from `first` on, keyed by user; returns the id each is stored under
// (kafka-events-P-O, the offset being its place in its partition, counted in `next_offset`).
std::set<std::string> produce_events(Producer& producer, int first, int count, int users,
                                     std::map<int, std::int64_t>& next_offset) {
  std::set<std::string> ids;
  for (int i = first; i < first + count; ++i) {
    const int partition = partition_of(i, users);
    producer.send(kTopic, partition, user_of(i, users), event_value(i));
    ids.insert("kafka-events-" + std::to_string(partition) + "-" +
               std::to_string(next_offset[partition]++));
  }
  producer.flush();
  return ids;
}

std::vector<std::string> consume_args(const std::string& kind, const MockCluster& cluster,
                                      const std::string& group,
                                      const std::vector<std::string>& extra,
                                      const std::string& topic = kTopic) {
  std::vector<std::string> args{"consume", kind, "--brokers", cluster.bootstraps(), "--topic",
                                topic, "--group", group,
                                // The mock cluster's group rebalances take session.timeout.ms
                                // less a second; it elects a leader only after 3 s.
                                "-X", "session.timeout.ms=4000", "-X", "heartbeat.interval.ms=300",
                                // A resumed partition is fetched again at once.
                                "-X", "fetch.wait.max.ms=50", "--commit-interval", "0.2",
                                "--progress-interval", "0", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::set<std::string> stored_ids(const Emulator& emulator) {
  const auto ids = emulator.event_ids();
  return {ids.begin(), ids.end()};
}

// Why a committed offset covers a message that is not stored (empty when none does): for each
// partition, the events at offsets below its committed offset must all be in the emulator. The
// offsets are read first and the store after, so that a commit made before its deliveries shows.
std::string commit_beyond_stored(const MockCluster& cluster, const std::string& group,
                                 const Emulator& emulator,
                                 std::int64_t* committed_total = nullptr) {
  const auto committed = committed_offsets(cluster.bootstraps(), group, kTopic, kPartitions);
  const std::set<std::string> stored = stored_ids(emulator);
  for (const auto& [partition, offset] : committed) {
    if (committed_total != nullptr && offset > 0) *committed_total += offset;
    for (std::int64_t o = 0; o < offset; ++o) {
      const std::string id = "kafka-events-" + std::to_string(partition) + "-" + std::to_string(o);
      if (stored.count(id) == 0) {
        return "partition " + std::to_string(partition) + " committed at " +
               std::to_string(offset) + ", but offset " + std::to_string(o) + " is not stored";
      }
    }
  }
  return "";
}

// Checks commit_beyond_stored over and over on a thread of its own while consumers run.
class CommitWatcher {
 public:
  CommitWatcher(const MockCluster& cluster, const std::string& group, const Emulator& emulator)
      : thread_([this, &cluster, group, &emulator] {
          while (!stop_) {
            std::int64_t committed = 0;
            std::string problem = commit_beyond_stored(cluster, group, emulator, &committed);
            std::lock_guard<std::mutex> lock(mutex_);
            ++checks_;
            if (committed > 0) ++checks_with_commits_;
            if (!problem.empty() && problem_.empty()) problem_ = problem;
          }
        }) {}
  ~CommitWatcher() { stop(); }
  CommitWatcher(const CommitWatcher&) = delete;
  CommitWatcher& operator=(const CommitWatcher&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string problem() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return problem_;
  }
  int checks_with_commits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return checks_with_commits_;
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string problem_;
  int checks_ = 0;
  int checks_with_commits_ = 0;
  std::thread thread_;
};

// N events over 4 partitions, through an emulator that fails requests (503s, connections cut
// after processing): each is stored exactly once under its derived id, every partition is
// committed to its end, and the summary counts them all.
TEST(Consume, EveryMessageOfFourPartitionsIsStoredOnceAndCommitted) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("cli-test-token",
                    {"--fault-503", "0.1", "--fault-drop", "0.05", "--fault-seed", "5"});
  Producer producer(cluster.bootstraps());
  std::map<int, std::int64_t> next_offset;
  const std::set<std::string> expected = produce_events(producer, 0, 2'000, 40, next_offset);

  const CliResult result =
      run_cli(dir, consume_args("events", cluster, "g-four", {"--exit-when-idle", "1.5"}),
              emulator.env(), "", 90s);
  ASSERT_EQ(result.status, 0) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 2'000) << summary;
  EXPECT_EQ(summary["delivered"], 2'000) << summary;
  EXPECT_EQ(summary["committed"], 2'000) << summary;
  EXPECT_EQ(summary["lag"], 0) << summary;
  EXPECT_EQ(summary["assignments"], 4) << summary;
  // Each stored once: a batch resent after a cut connection is a duplicate, stored no more.
  EXPECT_EQ(emulator.event_ids().size(), 2'000u);
  EXPECT_EQ(stored_ids(emulator), expected);
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-four", kTopic, kPartitions), next_offset);
  EXPECT_GT(emulator.stats()["faultsInjected"].get<std::uint64_t>(), 0u) << emulator.stats();
}

// Two members of one group share the four partitions; one is killed with SIGKILL halfway
// through. The other takes its partitions over and reads on from their committed offsets:
// every event is stored, every partition committed to its end, and at no moment was an offset
// committed past an event that was not stored yet.
TEST(Consume, TwoMembersShareThePartitionsAndOneKilledLosesNothing) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("cli-test-token", {"--fault-slow", "1", "--slow-ms", "150"});
  Producer producer(cluster.bootstraps());
  std::map<int, std::int64_t> next_offset;
  const std::set<std::string> expected = produce_events(producer, 0, 3'000, 40, next_offset);

  CommitWatcher watcher(cluster, "g-kill", emulator);
  CliProcess doomed(dir, consume_args("events", cluster, "g-kill", {"--max-in-flight", "1"}),
                    emulator.env());
  // --exit-when-idle waits for the whole group's work: here, until the killed member's
  // partitions are handed over and done too.
  CliProcess survivor(
      dir,
      consume_args("events", cluster, "g-kill", {"--max-in-flight", "1", "--exit-when-idle", "1"}),
      emulator.env());
  ASSERT_TRUE(wait_until(
      [&] {
        return contains(doomed.err_so_far(), "instasent: assigned") &&
               contains(survivor.err_so_far(), "instasent: assigned") &&
               emulator.event_ids().size() >= 600;
      },
      60s))
      << doomed.err_so_far() << survivor.err_so_far();
  doomed.send_signal(SIGKILL);
  const auto killed = doomed.wait(10s);
  ASSERT_TRUE(killed && killed->signaled);
  ASSERT_LT(emulator.event_ids().size(), 3'000u) << "killed too late to prove anything";

  // Within the session timeout (4 s), the group notices; the survivor takes the partitions over.
  const auto result = survivor.wait(90s);
  ASSERT_TRUE(result) << survivor.err_so_far();
  EXPECT_EQ(result->status, 0) << result->err;
  watcher.stop();
  EXPECT_EQ(watcher.problem(), "");
  EXPECT_GT(watcher.checks_with_commits(), 0);
  EXPECT_EQ(stored_ids(emulator), expected);
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-kill", kTopic, kPartitions), next_offset);
  // It held its own partitions, then the killed member's.
  EXPECT_GE(result->summary()["assignments"].get<int>(), 4) << result->summary();
}

// A member joins while another is halfway through a stream of contact updates: the first gives
// up half its partitions (finishing their messages in flight, committing, then letting go), the
// second reads them on from there. Each user's updates stay in order: every contact ends with
// its last update, and every partition is committed to its end.
TEST(Consume, AMemberJoiningMidStreamTakesPartitionsOverInOrder) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("cli-test-token", {"--fault-slow", "1", "--slow-ms", "100"});
  Producer producer(cluster.bootstraps());
  constexpr int kUsers = 60;
  constexpr int kUpdates = 40;
  std::map<int, std::int64_t> end;
  for (int update = 0; update < kUpdates; ++update) {
    for (int user = 0; user < kUsers; ++user) {
      const std::string id = "C" + std::to_string(user);
      producer.send(kTopic, user % kPartitions, id,
                    json{{"_user_id", id}, {"update", update}}.dump());
      ++end[user % kPartitions];
    }
  }
  producer.flush();

  CliProcess first(
      dir,
      consume_args("contacts", cluster, "g-join",
                   {"--max-in-flight", "1", "--max-pending", "200", "--exit-when-idle", "1.5"}),
      emulator.env());
  ASSERT_TRUE(wait_until([&] { return emulator.stats()["requests"].get<int>() >= 3; }, 30s))
      << first.err_so_far();
  CliProcess second(dir,
                    consume_args("contacts", cluster, "g-join",
                                 {"--max-in-flight", "1", "--exit-when-idle", "1.5"}),
                    emulator.env());
  const auto first_result = first.wait(120s);
  const auto second_result = second.wait(120s);
  ASSERT_TRUE(first_result && second_result);
  EXPECT_EQ(first_result->status, 0) << first_result->err;
  EXPECT_EQ(second_result->status, 0) << second_result->err;
  // Revoked (finished, committed, given up) or, should a commit have crossed the rebalance,
  // lost (given up at once; the new owner reads the uncommitted messages again).
  EXPECT_TRUE(contains(first_result->err, "instasent: revoked") ||
              contains(first_result->err, "instasent: lost"))
      << first_result->err;
  EXPECT_GT(second_result->summary()["read"].get<int>(), 0) << second_result->summary();
  EXPECT_GT(first_result->summary()["committed"].get<int>(), 0) << first_result->summary();

  const json contacts = emulator.state()["contacts"];
  ASSERT_EQ(contacts.size(), static_cast<std::size_t>(kUsers));
  for (const auto& [user, contact] : contacts.items()) {
    EXPECT_EQ(contact.value("update", -1), kUpdates - 1) << user << ": " << contact;
  }
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-join", kTopic, kPartitions), end);
}

// Rejected messages (the server's errors) and unreadable ones (not JSON, not an object, a
// tombstone, a key that is not the value's _user_id) land in the dead-letter topic with their
// errors and where they came from; their offsets are committed once the topic has them. The
// errors on stderr quote none of the values, and the token is never printed.
TEST(Consume, RejectedAndUnreadableMessagesLandInTheDeadLetterTopic) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"people:2", "dead:1"});
  Emulator emulator("secret-token-do-not-print");
  Producer producer(cluster.bootstraps());
  producer.send("people", 0, "A1", R"({"_user_id":"A1","_email":"a1@example.com"})");
  producer.send("people", 0, "A2", R"({"_user_id":"A2","_email":"not-an-address"})");
  producer.send("people", 0, "A3", R"({nope-not-json)");
  producer.send("people", 0, "A4", R"({"_user_id":"Z9-other-user"})");
  producer.send("people", 1, "B1", std::nullopt);
  producer.send("people", 1, "B2", R"({"_email":"b2@example.com"})");
  producer.send("people", 1, "B3", R"([1,2,"an-array-value"])");
  producer.send("people", 1, "B4", R"({"_user_id":"B4"})");
  producer.flush();

  const CliResult result =
      run_cli(dir,
              consume_args("contacts", cluster, "g-dead",
                           {"--exit-when-idle", "1.5", "--rejects-topic", "dead"}, "people"),
              emulator.env(), "", 60s);
  EXPECT_EQ(result.status, 1) << result.err;  // some messages rejected or unreadable
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 8) << summary;
  EXPECT_EQ(summary["delivered"], 3) << summary;
  EXPECT_EQ(summary["rejected"], 1) << summary;
  EXPECT_EQ(summary["unreadable"], 4) << summary;
  EXPECT_EQ(summary["dead_lettered"], 5) << summary;
  EXPECT_EQ(summary["committed"], 8) << summary;
  for (const char* value : {"not-an-address", "nope-not-json", "Z9-other-user", "an-array-value",
                            "secret-token-do-not-print"}) {
    EXPECT_FALSE(contains(result.err + result.out, value)) << value << " in " << result.err;
  }
  EXPECT_TRUE(contains(result.err, "people[0] offset 1 rejected by the server: _email"))
      << result.err;

  std::map<std::string, json> letters;  // by "PARTITION/OFFSET"
  for (const ReadMessage& message : read_topic(cluster.bootstraps(), "dead", 1, 5)) {
    const json record = json::parse(message.value);
    EXPECT_EQ(record["topic"], "people") << record;
    EXPECT_EQ(message.key, record["key"].get<std::string>()) << "keyed as the source message";
    letters[record["partition"].dump() + "/" + record["offset"].dump()] = record;
  }
  ASSERT_EQ(letters.size(), 5u);
  EXPECT_TRUE(letters["0/1"]["errors"].contains("_email")) << letters["0/1"];
  EXPECT_EQ(letters["0/1"]["item"]["_email"], "not-an-address");
  EXPECT_EQ(letters["0/2"]["item"], "{nope-not-json") << "kept as text";
  EXPECT_TRUE(contains(letters["0/2"]["errors"][""][0].get<std::string>(), "is not valid JSON"));
  EXPECT_EQ(letters["0/3"]["errors"]["_user_id"][0], "does not match the message key");
  EXPECT_TRUE(letters["1/0"]["item"].is_null());
  EXPECT_TRUE(contains(letters["1/0"]["errors"][""][0].get<std::string>(), "tombstone"));
  EXPECT_EQ(letters["1/2"]["errors"][""][0], "is not a JSON object");

  const json contacts = emulator.state()["contacts"];
  EXPECT_EQ(contacts.size(), 3u) << contacts;
  EXPECT_TRUE(contacts.contains("B2")) << "the key is the _user_id of a value without one";
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-dead", "people", 2),
            (std::map<int, std::int64_t>{{0, 4}, {1, 4}}));
}

// With --rejects FILE the same records are appended to a file, which `import --format rejects`
// reads back.
TEST(Consume, RejectsFileHoldsTheRecordsAndImportsAgain) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator;
  Producer producer(cluster.bootstraps());
  producer.send(kTopic, 0, "U1", event_value(1));
  producer.send(kTopic, 0, "U2", R"({"_event_type":"purchase","surprise":1})");
  producer.send(kTopic, 2, "U3", "not json");
  producer.flush();
  const std::string rejects = dir.file("rejects.ndjson");
  const CliResult result = run_cli(
      dir,
      consume_args("events", cluster, "g-file", {"--exit-when-idle", "1", "--rejects", rejects}),
      emulator.env(), "", 60s);
  EXPECT_EQ(result.status, 1) << result.err;
  const auto lines = lines_of(read_file(rejects));
  ASSERT_EQ(lines.size(), 2u) << read_file(rejects);
  std::set<std::int64_t> partitions;
  for (const std::string& line : lines)
    partitions.insert(json::parse(line)["partition"].get<int>());
  EXPECT_EQ(partitions, (std::set<std::int64_t>{0, 2}));
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-file", kTopic, kPartitions),
            (std::map<int, std::int64_t>{{0, 2}, {1, -1001}, {2, 1}, {3, -1001}}));

  const CliResult again = run_cli(
      dir, {"import", "events", rejects, "--format", "rejects", "--validate", "--json"}, {});
  EXPECT_EQ(again.summary()["read"], 2) << again.err;
  EXPECT_EQ(again.summary()["unreadable"], 2) << "the item rejected and the text: both still bad";
}

// A slow server and a small window: the member pauses its partitions while the window is full
// and resumes them as it drains; nothing is dropped, everything is committed.
TEST(Consume, ASlowServerPausesThePartitionsAndDropsNothing) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("cli-test-token", {"--fault-slow", "1", "--slow-ms", "100"});
  Producer producer(cluster.bootstraps());
  std::map<int, std::int64_t> next_offset;
  const std::set<std::string> expected = produce_events(producer, 0, 800, 40, next_offset);

  const CliResult result = run_cli(
      dir,
      consume_args("events", cluster, "g-slow",
                   {"--exit-when-idle", "1.5", "--max-pending", "100", "--max-in-flight", "1"}),
      emulator.env(), "", 90s);
  ASSERT_EQ(result.status, 0) << result.err;
  const json summary = result.summary();
  EXPECT_GT(summary["pauses"].get<int>(), 0) << summary;
  EXPECT_EQ(summary["read"], 800) << summary;
  EXPECT_EQ(summary["delivered"], 800) << summary;
  EXPECT_EQ(summary["dropped"], 0) << summary;
  EXPECT_EQ(stored_ids(emulator), expected);
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-slow", kTopic, kPartitions), next_offset);
}

// SIGTERM halfway: the member stops reading, finishes what is in flight, commits and exits 143;
// nothing was committed past an event not stored. The next run goes on from there and stores
// the rest.
TEST(Consume, SigtermFinishesTheMessagesInFlightAndTheNextRunGoesOn) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("cli-test-token", {"--fault-slow", "1", "--slow-ms", "200"});
  Producer producer(cluster.bootstraps());
  std::map<int, std::int64_t> next_offset;
  const std::set<std::string> expected = produce_events(producer, 0, 3'000, 40, next_offset);

  CliProcess consumer(
      dir,
      consume_args("events", cluster, "g-term",
                   {"--max-in-flight", "1", "--max-pending", "200", "--shutdown-timeout", "2"}),
      emulator.env());
  ASSERT_TRUE(wait_until([&] { return emulator.event_ids().size() >= 300; }, 60s))
      << consumer.err_so_far();
  consumer.send_signal(SIGTERM);
  const auto stopped = consumer.wait(30s);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, 143) << stopped->err;
  EXPECT_TRUE(contains(stopped->err, "SIGTERM")) << stopped->err;
  const json summary = stopped->summary();
  EXPECT_EQ(summary["exit_code"], 143) << summary;
  EXPECT_GT(summary["committed"].get<int>(), 0) << summary;
  EXPECT_LT(summary["committed"].get<int>(), 3'000) << summary;
  EXPECT_EQ(commit_beyond_stored(cluster, "g-term", emulator), "");

  const CliResult rest =
      run_cli(dir, consume_args("events", cluster, "g-term", {"--exit-when-idle", "1.5"}),
              emulator.env(), "", 90s);
  EXPECT_EQ(rest.status, 0) << rest.err;
  EXPECT_EQ(stored_ids(emulator), expected);
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-term", kTopic, kPartitions), next_offset);
}

// --exit-when-idle with nothing to read: exits 0 soon after joining the group.
TEST(Consume, ExitWhenIdleWithNothingToRead) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator;
  const auto started = steady_clock::now();
  const CliResult result =
      run_cli(dir, consume_args("events", cluster, "g-idle", {"--exit-when-idle", "1"}),
              emulator.env(), "", 60s);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.summary()["read"], 0) << result.summary();
  EXPECT_LT(steady_clock::now() - started, 20s);
  EXPECT_EQ(emulator.stats()["requests"], 0);
}

// Refused credentials: the message is dropped, never committed past, and the member stops with
// exit code 3 without printing the token.
TEST(Consume, RefusedCredentialsCommitNothing) {
  const ScratchDir dir("instasent-consume");
  MockCluster cluster({"events:4"});
  Emulator emulator("the-right-token");
  Producer producer(cluster.bootstraps());
  producer.send(kTopic, 1, "U1", event_value(1));
  producer.flush();
  Env env = emulator.env();
  env["INSTASENT_TOKEN"] = "a-wrong-token-never-printed";
  const CliResult result = run_cli(
      dir, consume_args("events", cluster, "g-401", {"--exit-when-idle", "1"}), env, "", 60s);
  EXPECT_EQ(result.status, 3) << result.err;
  EXPECT_FALSE(contains(result.err + result.out, "a-wrong-token-never-printed")) << result.err;
  EXPECT_EQ(committed_offsets(cluster.bootstraps(), "g-401", kTopic, kPartitions)[1], -1001)
      << "no offset committed (RD_KAFKA_OFFSET_INVALID)";
}

// Bad options are refused before anything is read, with a message that names the option and
// never a secret's value.
TEST(Consume, BadOptionsAreRefusedWithoutQuotingSecrets) {
  const ScratchDir dir("instasent-consume");
  const Env env{{"INSTASENT_PROJECT", "p"},
                {"INSTASENT_DATASOURCE", "d"},
                {"INSTASENT_TOKEN", "tok"},
                {"INSTASENT_BASE_URL", "http://127.0.0.1:9/v1"}};
  const std::vector<std::string> base{"consume", "events", "--brokers", "127.0.0.1:9",
                                      "--topic", "events", "--group",   "g"};
  const auto run = [&](std::vector<std::string> extra, const Env& with = {}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    Env all = env;
    for (const auto& [name, value] : with) all[name] = value;
    return run_cli(dir, args, all);
  };
  CliResult result = run({"-X", "enable.auto.commit=true"});
  EXPECT_EQ(result.status, 2);
  EXPECT_TRUE(contains(result.err, "-X enable.auto.commit: offsets are committed once"))
      << result.err;
  result = run({"-X", "no.such.password=hunter2-secret"});
  EXPECT_EQ(result.status, 2);
  EXPECT_TRUE(contains(result.err, "-X no.such.password")) << result.err;
  EXPECT_FALSE(contains(result.err, "hunter2-secret")) << result.err;
  result = run({"-X", "session.timeout.ms"});
  EXPECT_EQ(result.status, 2);
  EXPECT_TRUE(contains(result.err, "-X takes KEY=VALUE")) << result.err;
  result = run({"--rejects-topic", "events"});
  EXPECT_EQ(result.status, 2);
  EXPECT_TRUE(contains(result.err, "is also a --topic")) << result.err;
  result = run({}, {{"INSTASENT_TOKEN", ""}});
  EXPECT_EQ(result.status, 2);
  EXPECT_TRUE(contains(result.err, "INSTASENT_TOKEN")) << result.err;
}

// Which rebalance protocol a member follows, asked in each rebalance callback: librdkafka says
// "NONE" before the member joins and nothing at all (NULL) once its group handle is gone, as in
// the revoke that rd_kafka_consumer_close serves after the group has terminated (seen now and
// then at the end of a run: a revoked member then crashed on the NULL). The protocol that the
// settings chose stands then.
TEST(ConsumeRebalance, TheProtocolStandsWhenLibrdkafkaNoLongerSaysIt) {
  EXPECT_TRUE(cooperative_strategy("cooperative-sticky"));
  EXPECT_FALSE(cooperative_strategy("range,roundrobin"));
  EXPECT_FALSE(cooperative_strategy("range"));

  const MockCluster cluster({"events:2"});
  struct Seen {
    int calls = 0;
    bool cooperative = false;
  } seen;
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"bootstrap.servers", cluster.bootstraps()},
                                          {"group.id", "g-protocol"},
                                          {"partition.assignment.strategy", "cooperative-sticky"},
                                          {"log_level", "2"}}) {
    ASSERT_EQ(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error),
              RD_KAFKA_CONF_OK)
        << error;
  }
  rd_kafka_conf_set_opaque(conf, &seen);
  rd_kafka_conf_set_rebalance_cb(
      conf, [](rd_kafka_t* handle, rd_kafka_resp_err_t event,
               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
        auto& seen = *static_cast<Seen*>(opaque);
        ++seen.calls;
        seen.cooperative = cooperative_rebalance(handle, false);
        rd_kafka_error_t* failed = event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
                                       ? rd_kafka_incremental_assign(handle, partitions)
                                       : rd_kafka_incremental_unassign(handle, partitions);
        if (failed != nullptr) rd_kafka_error_destroy(failed);
      });
  std::unique_ptr<rd_kafka_t, KafkaDelete> consumer(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  ASSERT_TRUE(consumer) << error;
  EXPECT_FALSE(cooperative_rebalance(consumer.get(), false));  // "NONE": not joined yet
  EXPECT_TRUE(cooperative_rebalance(consumer.get(), true));
  std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDelete> topics(
      rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), "events", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer.get(), topics.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (seen.calls == 0 && std::chrono::steady_clock::now() < deadline) {
    if (rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 100)) {
      rd_kafka_message_destroy(message);
    }
  }
  ASSERT_GT(seen.calls, 0) << "never assigned";
  EXPECT_TRUE(seen.cooperative);  // joined: librdkafka says COOPERATIVE

  rd_kafka_consumer_close(consumer.get());
  EXPECT_EQ(rd_kafka_rebalance_protocol(consumer.get()), nullptr);
  EXPECT_TRUE(cooperative_rebalance(consumer.get(), true));
  EXPECT_FALSE(cooperative_rebalance(consumer.get(), false));
}

}  // namespace
}  // namespace instasent::cli::testing
