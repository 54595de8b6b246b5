// SPDX-License-Identifier: Apache-2.0
// instasent-emulator: serves the Ingest API on loopback until SIGINT or SIGTERM. Arguments are
// parsed here; the emulator lives in instasent_emulator_core.
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "server.hpp"

namespace {

using namespace instasent::emulator;
using nlohmann::json;

constexpr const char* kFooter =
    "Admin endpoints (no auth): GET /_emulator/health, /_emulator/state, /_emulator/event-ids, "
    "/_emulator/stats, /_emulator/faults; POST /_emulator/faults (JSON), /_emulator/reset.\n"
    "See man instasent-emulator, or " INSTASENT_DOC_DIR "/emulator.md.";

// The flags as parsed. Only the ones given are applied, over the config file.
struct Flags {
  std::vector<std::string> config_files;
  long port = 0;
  std::string host;
  std::string project = "proj_demo";
  std::string datasource = "ds_demo";
  std::string token = "demo-token";
  std::string response_shape;
  long rate_limit = 0;
  std::string rate_limit_mode;
  long rate_limit_burst = 0;
  long max_body_bytes = 0;
  long threads = 0;
  std::map<std::string, std::string> probabilities;  // by FaultSettings JSON key
  long slow_ms = 0;
  long fault_seed = 0;
  std::string fault_script;
};

// The fault probability flags and their FaultSettings JSON keys.
struct ProbabilityFlag {
  const char* flag;
  const char* key;
  const char* help;
};
constexpr ProbabilityFlag kProbabilityFlags[] = {
    {"--fault-500", "p500", "Probability of a 500 per API request; nothing processed (default 0)"},
    {"--fault-503", "p503", "Probability of a 503 per API request; nothing processed (default 0)"},
    {"--fault-429", "p429",
     "Probability of a 429 with Retry-After: 1 per API request; nothing processed (default 0)"},
    {"--fault-drop", "drop",
     "Probability per API request that the connection closes halfway through the answer "
     "(default 0)"},
    {"--fault-slow", "slow",
     "Probability per API request of an answer delayed by --slow-ms (default 0)"},
    {"--fault-truncate", "truncate",
     "Probability per API request that the answer's body is cut in half (default 0)"},
};

// A whole number from `min` to `max`, read in decimal: CLI11 alone would read 010 as octal and
// 0x10 as hex. The text is rewritten in plain decimal for CLI11 to convert.
CLI::Validator whole_number(long min, long max) {
  return CLI::Validator(
      [min, max](std::string& text) {
        std::size_t used = 0;
        long value = 0;
        try {
          value = std::stol(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || text.empty() || value < min || value > max) {
          return "takes a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        }
        text = std::to_string(value);
        return std::string();
      },
      "");
}

// A probability from 0 to 1. Probabilities stay text and are converted by std::stod, as checked
// here.
CLI::Validator probability() {
  return CLI::Validator(
      [](std::string& text) {
        std::size_t used = 0;
        double value = -1;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || value < 0 || value > 1) {
          return std::string("takes a probability from 0 to 1");
        }
        return std::string();
      },
      "");
}

void add_options(CLI::App& app, Flags& flags) {
  // A flag given twice counts once, the last time.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--port", flags.port,
                 "Port on 127.0.0.1 (0, the default: a free one, printed on stdout's first line)")
      ->type_name("N")
      ->transform(whole_number(0, 65535));
  app.add_option("--host", flags.host, "Address to listen on (default 127.0.0.1)")
      ->type_name("ADDR");
  app.add_option("--config", flags.config_files,
                 "JSON config: tenants, specs, response_shape, rate_limit_per_minute, "
                 "rate_limit_mode, rate_limit_burst, max_body_bytes, faults; the other flags win "
                 "over it. Repeatable: read in order")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--project", flags.project, "The tenant's project (default proj_demo)")
      ->type_name("ID");
  app.add_option("--datasource", flags.datasource, "The tenant's datasource (default ds_demo)")
      ->type_name("ID");
  app.add_option("--token", flags.token, "The tenant's token (default demo-token)")
      ->type_name("TOKEN");
  app.add_option("--response-shape", flags.response_shape, "documented (default) or connectors")
      ->type_name("S")
      ->check(CLI::IsMember({"documented", "connectors"}).description(""));
  app.add_option("--rate-limit", flags.rate_limit,
                 "Requests per minute per datasource and endpoint (default 0: off)")
      ->type_name("N")
      ->transform(whole_number(0, 1'000'000));
  app.add_option("--rate-limit-mode", flags.rate_limit_mode,
                 "window (default): at most --rate-limit requests in each clock minute; bucket: "
                 "a bucket of --rate-limit-burst requests refilled continuously at --rate-limit "
                 "a minute, with Retry-After on a 429")
      ->type_name("M")
      ->check(CLI::IsMember({"window", "bucket"}).description(""));
  app.add_option("--rate-limit-burst", flags.rate_limit_burst,
                 "Bucket mode: requests allowed at once when the bucket is full (default: "
                 "--rate-limit)")
      ->type_name("N")
      ->transform(whole_number(1, kMaxRateLimitBurst));
  app.add_option("--max-body-bytes", flags.max_body_bytes,
                 "Larger request bodies get 413 (default 1048576)")
      ->type_name("N")
      ->transform(whole_number(1, 1L << 30));
  app.add_option("--threads", flags.threads,
                 "Connections served at once, each on its own thread; more wait to be accepted "
                 "(default 1024)")
      ->type_name("N")
      ->transform(whole_number(1, 65536));
  for (const ProbabilityFlag& flag : kProbabilityFlags) {
    app.add_option(flag.flag, flags.probabilities[flag.key], flag.help)
        ->type_name("P")
        ->check(probability())
        ->group("Faults");
  }
  app.add_option("--slow-ms", flags.slow_ms, "Delay of a slow answer (default 1500)")
      ->type_name("N")
      ->transform(whole_number(0, 600'000))
      ->group("Faults");
  app.add_option("--fault-seed", flags.fault_seed, "Seed of the fault sequence (default 1)")
      ->type_name("N")
      ->transform(whole_number(0, LONG_MAX))
      ->group("Faults");
  app.add_option("--fault-script", flags.fault_script,
                 "Comma-separated faults for the first requests, e.g. 500,429,ok")
      ->type_name("LIST")
      ->group("Faults");
}

// The built-in defaults, then each --config file, then the flags given. Throws
// std::invalid_argument naming a bad config file or fault script.
Config make_config(const CLI::App& app, const Flags& flags) {
  Config config;
  config.specs = default_specs();
  for (const std::string& file : flags.config_files) apply_config_file(config, file);
  const auto given = [&app](const char* flag) { return app.count(flag) > 0; };
  if (given("--port")) config.port = static_cast<int>(flags.port);
  if (given("--host")) config.host = flags.host;
  if (given("--response-shape")) {
    config.response_shape = flags.response_shape == "connectors" ? ResponseShape::connectors
                                                                 : ResponseShape::documented;
  }
  if (given("--rate-limit")) config.rate_limit_per_minute = flags.rate_limit;
  if (given("--rate-limit-mode")) {
    config.rate_limit_mode = parse_rate_limit_mode(flags.rate_limit_mode);
  }
  if (given("--rate-limit-burst")) config.rate_limit_burst = flags.rate_limit_burst;
  if (given("--max-body-bytes")) {
    config.max_body_bytes = static_cast<std::size_t>(flags.max_body_bytes);
  }
  if (given("--threads")) config.max_connections = static_cast<std::size_t>(flags.threads);

  // The tenant flags name the first tenant; without them or a config file's tenants, the
  // built-in demo tenant.
  if (config.tenants.empty() || given("--project") || given("--datasource") || given("--token")) {
    config.tenants.insert(config.tenants.begin(),
                          Tenant{flags.project, flags.datasource, {flags.token}});
  }

  json faults = json::object();
  for (const ProbabilityFlag& flag : kProbabilityFlags) {
    if (given(flag.flag)) faults[flag.key] = std::stod(flags.probabilities.at(flag.key));
  }
  if (given("--slow-ms")) faults["slow_ms"] = flags.slow_ms;
  if (given("--fault-seed")) faults["seed"] = static_cast<std::uint64_t>(flags.fault_seed);
  if (given("--fault-script")) {
    json script = json::array();
    std::stringstream list(flags.fault_script);
    for (std::string name; std::getline(list, name, ',');) script.push_back(name);
    faults["script"] = script;
  }
  config.faults.update_from_json(faults);
  return config;
}

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
  CLI::App app("instasent-emulator: a local emulator of the Instasent Ingest API",
               "instasent-emulator");
  app.set_version_flag("--version", "instasent-emulator " INSTASENT_EMULATOR_VERSION);
  app.footer(kFooter);
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string("instasent-emulator: ") + error.what() + " (see --help)\n";
  });
  Flags flags;
  add_options(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // prints the help or the error
  }
  Config config;
  try {
    config = make_config(app, flags);
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
