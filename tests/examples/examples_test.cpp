// SPDX-License-Identifier: Apache-2.0
// The programs in examples/, run as a user runs them: as child processes, with the INSTASENT_*
// variables pointing at a real instasent-emulator. CTest starts one emulator per test
// (tests/emulator_sdk/emulator_fixture.sh) and names its state directory in
// $INSTASENT_EMULATOR_STATE_DIR; each test checks the example's exit status, what it printed and
// what the emulator stored (its admin API). custom_transport needs no emulator.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "support/scratch_dir.hpp"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using namespace std::chrono_literals;
using instasent::test_support::ChildProcess;
using instasent::test_support::Finished;
using instasent::test_support::read_file;
using instasent::test_support::ScratchDir;

// Generous: these runs take a second or two, more under the sanitizers on a busy machine.
constexpr milliseconds kRunTimeout = 25s;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// ---------------------------------------------------------------------------------------------
// The fixture's emulator

constexpr const char* kProject = "proj_demo";
constexpr const char* kDatasource = "ds_demo";
constexpr const char* kToken = "demo-token";

int emulator_port() {
  const char* state_dir = std::getenv("INSTASENT_EMULATOR_STATE_DIR");
  if (state_dir == nullptr || *state_dir == '\0') {
    throw std::runtime_error("no emulator: INSTASENT_EMULATOR_STATE_DIR is not set");
  }
  std::ifstream in(std::string(state_dir) + "/port");
  int port = 0;
  if (!(in >> port) || port <= 0 || port > 65535) {
    throw std::runtime_error(std::string("no port in ") + state_dir);
  }
  return port;
}

// The fixture's emulator, emptied: without stored items, counts or a fault script, so that a test
// can run again against the same emulator (ctest --repeat).
class Emulator {
 public:
  Emulator() : port_(emulator_port()), http_("127.0.0.1", port_) {
    http_.set_connection_timeout(2s);
    http_.set_read_timeout(10s);
    post("/_emulator/faults", {{"script", json::array()}});
    post("/_emulator/reset", json::object());
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // INSTASENT_* for this emulator's tenant.
  std::map<std::string, std::string> env(const std::string& token = kToken) const {
    return {{"INSTASENT_PROJECT", kProject},
            {"INSTASENT_DATASOURCE", kDatasource},
            {"INSTASENT_TOKEN", token},
            {"INSTASENT_BASE_URL", url() + "/v1"}};
  }

  // {"contacts": {user_id: attributes}, "events": [{"event": {...}, ...}]}
  json state() {
    return get(std::string("/_emulator/state?project=") + kProject + "&datasource=" + kDatasource);
  }
  json stats() { return get("/_emulator/stats"); }
  std::set<std::string> event_ids() {
    const json ids =
        get(std::string("/_emulator/event-ids?project=") + kProject + "&datasource=" + kDatasource);
    return ids.get<std::set<std::string>>();
  }

 private:
  json get(const std::string& path) {
    const auto result = http_.Get(path);
    if (!result || result->status != 200) throw std::runtime_error("GET " + path + " failed");
    return json::parse(result->body);
  }
  void post(const std::string& path, const json& body) {
    const auto result = http_.Post(path, body.dump(), "application/json");
    if (!result || result->status != 200) throw std::runtime_error("POST " + path + " failed");
  }

  int port_;
  httplib::Client http_;
};

// ---------------------------------------------------------------------------------------------
// An example as a child process

// An example as a child process (see ChildProcess), its standard input `stdin_fd` (or
// /dev/null).
class Example : public ChildProcess {
 public:
  Example(const ScratchDir& dir, const std::string& program, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env, int stdin_fd = -1)
      : ChildProcess(dir, program, args, env, {"", stdin_fd}) {}

  bool running() { return !wait(0ms); }
  std::optional<Finished> wait(milliseconds timeout = kRunTimeout) {
    return ChildProcess::wait(timeout);
  }
};

// Runs an example to its end; fails the test (and returns a run with status -1) after the
// timeout.
Finished run_example(const ScratchDir& dir, const std::string& program,
                     const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env) {
  Example example(dir, program, args, env);
  if (auto run = example.wait()) return *run;
  ADD_FAILURE() << program << " still runs after " << kRunTimeout.count() << " ms";
  return Finished{};
}

// A pipe to an example's standard input. The test keeps both ends (close-on-exec, so that no
// child holds them): the write end to feed lines, the read end to see what is still unread.
class InputPipe {
 public:
  InputPipe() {
    if (pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  }
  ~InputPipe() {
    close(fds_[0]);
    close_writing();
  }
  InputPipe(const InputPipe&) = delete;
  InputPipe& operator=(const InputPipe&) = delete;

  int read_end() const { return fds_[0]; }

  void write_all(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t wrote = ::write(fds_[1], text.data() + done, text.size() - done);
      if (wrote <= 0) throw std::runtime_error("write to the pipe");
      done += static_cast<std::size_t>(wrote);
    }
  }
  // The reader sees the end of the input.
  void close_writing() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }
  // Bytes written that the reader has not taken.
  int unread() const {
    int bytes = 0;
    ioctl(fds_[0], FIONREAD, &bytes);
    return bytes;
  }

 private:
  int fds_[2] = {-1, -1};
};

// ---------------------------------------------------------------------------------------------
// quickstart

TEST(Examples, Quickstart) {
  Emulator emulator;
  const ScratchDir dir("examples");
  const Finished run = run_example(dir, QUICKSTART_PATH, {}, emulator.env());
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  const std::vector<std::string> expected = {
      "1. token works for datasource {\"id\":\"ds_demo\",\"name\":\"ds_demo\",\"type\":\"api\"}",
      "2. upsert contact: 1 accepted, 0 rejected, 0 unknown",
      "3. record event: 1 accepted, 0 rejected, 0 unknown",
      "4. record event with contact: 1 accepted, 0 rejected, 0 unknown",
      "5. delete contact: HTTP 200",
  };
  EXPECT_EQ(lines_of(run.out), expected) << run.out;
  EXPECT_EQ(run.err, "");
  // The contact was deleted in step 5; the events stay.
  EXPECT_TRUE(emulator.state().at("contacts").empty());
  EXPECT_EQ(emulator.event_ids(),
            (std::set<std::string>{"quickstart-order-1", "quickstart-order-2"}));
}

// ---------------------------------------------------------------------------------------------
// custom_transport

TEST(Examples, CustomTransport) {
  const ScratchDir dir("examples");
  const Finished run = run_example(dir, CUSTOM_TRANSPORT_PATH, {}, {});
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_EQ(count_of(run.out, "\nok: "), 13u) << run.out;
  EXPECT_FALSE(contains(run.out, "FAILED")) << run.out;
  EXPECT_TRUE(contains(run.out,
                       "ok: to the datasource's events: "
                       "https://api.instasent.com/v1/project/proj_test/datasource/"
                       "ds_test/stream/events\n"))
      << run.out;
  EXPECT_TRUE(contains(run.out,
                       "record_purchase: instasent: record_events: unauthorized (HTTP "
                       "401)"))
      << run.out;
  EXPECT_TRUE(contains(run.out, "fake: connection refused after 5 attempts")) << run.out;
  EXPECT_EQ(lines_of(run.out).back(), "all checks passed");
  EXPECT_EQ(run.err, "");
}

// ---------------------------------------------------------------------------------------------
// ingestor_spool

constexpr int kSpoolUsers = 300;
const std::set<int> kInvalidEmails = {42, 142, 242};

std::string spool_user(int i) { return "spool-example-" + std::to_string(i); }

// What a complete run of ingestor_spool leaves: 297 contacts (three had an invalid email) and an
// event for each of the 300 users.
void expect_spool_example_stored(Emulator& emulator) {
  const json state = emulator.state();
  const json& contacts = state.at("contacts");
  EXPECT_EQ(contacts.size(), static_cast<std::size_t>(kSpoolUsers) - kInvalidEmails.size());
  for (int i = 0; i < kSpoolUsers; ++i) {
    const std::string id = spool_user(i);
    if (kInvalidEmails.count(i) != 0) {
      EXPECT_FALSE(contacts.contains(id)) << id;
      continue;
    }
    ASSERT_TRUE(contacts.contains(id)) << id;
    EXPECT_EQ(contacts[id].value("_email", ""), id + "@example.com");
    EXPECT_EQ(contacts[id].value("_first_name", ""), "User " + std::to_string(i));
    EXPECT_EQ(contacts[id].value("plan", ""), i % 2 == 0 ? "pro" : "free");
  }
  std::set<std::string> expected_events;
  for (int i = 0; i < kSpoolUsers; ++i) {
    expected_events.insert("spool-example-signup-" + std::to_string(i));
  }
  EXPECT_EQ(emulator.event_ids(), expected_events);
  for (const json& stored : state.at("events")) {
    const json& event = stored.at("event");
    EXPECT_EQ(event.value("_event_type", ""), "signup");
    EXPECT_EQ(event.at("_event_parameters").value("source", ""), "ingestor_spool");
  }
}

TEST(Examples, IngestorSpool) {
  Emulator emulator;
  const ScratchDir dir("examples");
  const Finished run = run_example(dir, INGESTOR_SPOOL_PATH, {dir.file("spool")}, emulator.env());
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out,
                       "stats: 600 queued (0 replayed from the spool), 597 delivered, 3 "
                       "rejected, 0 dropped or refused, "))
      << run.out;
  // The callback logged the three rejections, with the server's errors, and nothing else.
  std::set<std::string> logged;
  for (const std::string& line : lines_of(run.err)) logged.insert(line);
  std::set<std::string> rejections;
  for (const int i : kInvalidEmails) {
    rejections.insert("rejected: upsert_contact " + spool_user(i) + "; _email: Invalid format");
  }
  EXPECT_EQ(logged, rejections) << run.err;
  EXPECT_EQ(lines_of(run.err).size(), 3u) << run.err;

  expect_spool_example_stored(emulator);
  const json stats = emulator.stats();
  EXPECT_EQ(stats.value("itemsAccepted", 0), 597);
  EXPECT_EQ(stats.value("itemsRejected", 0), 3);
}

// A run whose token is refused keeps what it accepted in the spool; the next run, with the right
// token, sends it first.
TEST(Examples, IngestorSpoolSendsWhatARefusedTokenLeft) {
  Emulator emulator;
  const ScratchDir dir("examples");
  const std::string spool = dir.file("spool");

  const Finished refused =
      run_example(dir, INGESTOR_SPOOL_PATH, {spool}, emulator.env("wrong-token"));
  EXPECT_EQ(refused.status, 1) << refused.out << refused.err;
  EXPECT_TRUE(contains(refused.out, " 0 delivered, 0 rejected, ")) << refused.out;
  std::size_t kept = 0;
  std::size_t kept_events = 0;
  for (const std::string& line : lines_of(refused.err)) {
    if (line.rfind("dropped: ", 0) != 0) continue;  // "add refused ..." lines
    EXPECT_TRUE(contains(line, ": unauthorized, ")) << line;
    EXPECT_TRUE(contains(line, "; kept in the spool for the next run")) << line;
    ++kept;
    if (contains(line, "record_event")) ++kept_events;
  }
  EXPECT_GE(kept, 100u) << refused.err;  // at least the first request's items
  EXPECT_TRUE(emulator.state().at("contacts").empty());
  EXPECT_TRUE(emulator.event_ids().empty());

  const Finished resumed = run_example(dir, INGESTOR_SPOOL_PATH, {spool}, emulator.env());
  EXPECT_EQ(resumed.status, 0) << resumed.out << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "(" + std::to_string(kept) + " replayed from the spool)"))
      << "kept " << kept << ": " << resumed.out;
  expect_spool_example_stored(emulator);
  // Each event kept was sent twice, by the replay and by the new run: stored once.
  EXPECT_EQ(emulator.stats().value("duplicateEvents", std::size_t{0}), kept_events);
}

// ---------------------------------------------------------------------------------------------
// error_handling

TEST(Examples, ErrorHandling) {
  Emulator emulator;
  const ScratchDir dir("examples");
  const Finished run = run_example(dir, ERROR_HANDLING_PATH, {emulator.url()}, emulator.env());
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_FALSE(contains(run.out, "no error")) << run.out;
  for (const char* expected : {
           // 1, 2: before sending
           "field(): attribute '_plan', item_index(): -1\n",
           "field(): _event_id, item_index(): 1\n",
           // 3: a rejected item is in the result
           "item 0 (errors-example-ok): accepted\n",
           "item 1 (errors-example-bad): rejected; _email: Invalid format\n",
           // 4, 5
           "caught not_found, HTTP 404, request id req-",
           "server_message(): Contact not found\n",
           "caught unauthorized, HTTP 401, request id req-",
           // 6: a batch write that failed partway
           "caught server_error, HTTP 500, request id req-",
           "partial_result(): errors-example-0=accepted errors-example-1=accepted "
           "errors-example-2=unknown errors-example-3=unknown errors-example-4=not_sent\n",
           // 7, 8, 9, 10
           "caught rate_limited, HTTP 429, request id req-",
           "caught transport\n",
           "failure(): receive, maybe_delivered(): true, retryable(): true\n",
           "partial_result(): errors-example-0=unknown\n",
           "the contact is stored: errors-example-0\n",
           "caught unreadable_response, HTTP 200, request id req-",
           "caught bad_request, HTTP 413, request id req-",
           "partial_result(): errors-example-large=not_sent\n",
       }) {
    EXPECT_TRUE(contains(run.out, expected)) << "missing: " << expected << "\n" << run.out;
  }
  EXPECT_EQ(count_of(run.out, "caught invalid_input\n"), 2u) << run.out;
  EXPECT_EQ(count_of(run.out, "  what to do: "), 9u) << run.out;  // all but 3, which caught none

  // What the emulator answered and stored: the dry run stored nothing, the failed batch write its
  // first request.
  const json stats = emulator.stats();
  EXPECT_EQ(stats.value("faultsInjected", 0), 7);
  const json& statuses = stats.at("responsesByStatus");
  EXPECT_EQ(statuses.value("401", 0), 1);
  EXPECT_EQ(statuses.value("404", 0), 1);
  EXPECT_EQ(statuses.value("413", 0), 1);
  EXPECT_EQ(statuses.value("429", 0), 2);
  EXPECT_EQ(statuses.value("500", 0), 2);
  const json state = emulator.state();
  std::set<std::string> stored;
  for (const auto& [id, attributes] : state.at("contacts").items()) stored.insert(id);
  EXPECT_EQ(stored, (std::set<std::string>{"errors-example-0", "errors-example-1"}));
}

TEST(Examples, ErrorHandlingWithoutTheEmulatorUrl) {
  Emulator emulator;
  const ScratchDir dir("examples");
  const Finished run = run_example(dir, ERROR_HANDLING_PATH, {}, emulator.env());
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "caught unauthorized, HTTP 401")) << run.out;
  EXPECT_TRUE(contains(run.out, "Part 2 (faults) needs the emulator")) << run.out;
  EXPECT_FALSE(contains(run.out, "\n6. ")) << run.out;
  EXPECT_EQ(emulator.stats().value("faultsInjected", -1), 0);
  EXPECT_TRUE(emulator.state().at("contacts").empty());
}

// ---------------------------------------------------------------------------------------------
// stdin_service

std::string service_line(const std::string& event_id) {
  return json{{"_user_id", "user-" + event_id},
              {"_event_type", "signup"},
              {"_event_id", event_id},
              {"_event_parameters", {{"source", "stdin"}}}}
      .dump();
}

// Every event read before the signal is delivered, although some were still queued when it came.
TEST(Examples, StdinServiceStopsOnASignal) {
  Emulator emulator;
  const ScratchDir dir("examples");
  for (const int signal_number : {SIGTERM, SIGINT}) {
    const std::string name = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
    SCOPED_TRACE(name);
    // 150 events: a full batch of 100 goes at once; the other 50 wait for the flush interval.
    InputPipe input;
    Example service(dir, STDIN_SERVICE_PATH, {}, emulator.env(), input.read_end());
    std::set<std::string> ids;
    std::string lines;
    for (int i = 0; i < 150; ++i) {
      ids.insert(name + "-" + std::to_string(i));
      lines += service_line(name + "-" + std::to_string(i)) + "\n";
    }
    input.write_all(lines);
    // Once the service has read everything (it reads all whole lines before it looks at signals).
    const auto deadline = steady_clock::now() + kRunTimeout;
    while (input.unread() > 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(input.unread(), 0);
    ASSERT_TRUE(service.running()) << "the input is still open: it must wait for more";
    service.send_signal(signal_number);

    const auto run = service.wait();
    ASSERT_TRUE(run) << "still running after " << name;
    EXPECT_FALSE(run->signaled);
    EXPECT_EQ(run->status, 0) << run->out << run->err;
    const auto out = lines_of(run->out);
    ASSERT_EQ(out.size(), 2u) << run->out;
    EXPECT_TRUE(std::regex_match(
        out[0], std::regex("stopping on " + name + " with [0-9]+ events not sent yet")))
        << out[0];
    EXPECT_EQ(out[1],
              "read 150 lines (0 invalid, 0 refused): 150 delivered, 0 rejected, 0 dropped");
    EXPECT_EQ(run->err, "");

    std::set<std::string> stored;
    for (const std::string& id : emulator.event_ids()) {
      if (id.rfind(name + "-", 0) == 0) stored.insert(id);
    }
    EXPECT_EQ(stored, ids);
  }
}

TEST(Examples, StdinServiceStopsAtTheEndOfItsInput) {
  Emulator emulator;
  const ScratchDir dir("examples");
  InputPipe input;
  Example service(dir, STDIN_SERVICE_PATH, {}, emulator.env(), input.read_end());
  std::string lines;
  for (int i = 1; i <= 5; ++i) lines += service_line("end-" + std::to_string(i)) + "\n";
  lines += "\n";          // 6: blank
  lines += "not json\n";  // 7
  lines += R"({"_user_id": "", "_event_type": "signup"})"
           "\n";  // 8: empty id
  lines += R"({"_user_id": "user-9", "_event_type": "purchase", "_event_id": "end-9",)"
           R"( "_event_parameters": {"amount": "49.90", "products": [{"sku": "A-1", "qty": 2}]}})"
           "\n";                                                   // 9: nested parameters
  lines += R"({"_user_id": "user-10", "_event_type": "signup"})";  // 10: no id, no newline
  input.write_all(lines);
  input.close_writing();

  const auto run = service.wait();
  ASSERT_TRUE(run) << "still running after the end of its input";
  EXPECT_EQ(run->status, 0) << run->out << run->err;
  const auto out = lines_of(run->out);
  ASSERT_EQ(out.size(), 2u) << run->out;
  EXPECT_TRUE(std::regex_match(out[0], std::regex("stopping on end of input with [0-9]+ events "
                                                  "not sent yet")))
      << out[0];
  EXPECT_EQ(out[1], "read 10 lines (2 invalid, 0 refused): 7 delivered, 0 rejected, 0 dropped");
  const auto err = lines_of(run->err);
  ASSERT_EQ(err.size(), 2u) << run->err;
  EXPECT_EQ(err[0], "line 7: skipped: not a JSON object");
  EXPECT_TRUE(contains(err[1], "line 8: skipped: ") && contains(err[1], "_user_id")) << err[1];

  // Five events, the one with nested parameters, and one with an id the Ingestor gave it.
  const json state = emulator.state();
  ASSERT_EQ(state.at("events").size(), 7u) << state.dump();
  std::map<std::string, json> by_user;
  for (const json& stored : state.at("events")) {
    by_user[stored.at("event").at("_user_id").get<std::string>()] = stored.at("event");
  }
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "end-" + std::to_string(i);
    ASSERT_EQ(by_user.count("user-" + id), 1u) << id;
    EXPECT_EQ(by_user["user-" + id].value("_event_id", ""), id);
  }
  EXPECT_EQ(by_user["user-9"].at("_event_parameters"),
            json::parse(R"({"amount": "49.90", "products": [{"sku": "A-1", "qty": 2}]})"));
  EXPECT_FALSE(by_user["user-10"].value("_event_id", "").empty());
}

}  // namespace

// A filter that matches no test (a renamed test, a typo in CMakeLists.txt) fails instead of
// passing with nothing run.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::cerr << "no test matches the filter\n";
    return 1;
  }
  return status;
}
