// SPDX-License-Identifier: Apache-2.0
// What `instasent import contacts FILE.ndjson` costs a line: the real `instasent` binary, run as a
// child process against the null server (a process of its own), over N generated lines of
// 5-field contacts. For each binary given, the CPU of the import's process (user plus system,
// from wait4, which is getrusage(RUSAGE_CHILDREN) for that one child) per line, its peak resident
// memory and its wall-clock rate; the median over the rounds. Several binaries (the code before
// and after a change, say) run in turn within each round, so that the machine's noise falls on
// all of them. With --validate, the imports only read and build the items (`import --validate`):
// what the CLI's own part costs, without the Ingestor's sending.
//
//   import_bench NULL_SERVER LINES ROUNDS [--validate] NAME=INSTASENT [NAME=INSTASENT...]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "null_server_process.hpp"

namespace {

struct Run {
  double cpu_us_per_line = 0;
  double user_s = 0;
  double system_s = 0;
  double max_rss_mib = 0;
  double lines_per_second = 0;
};

struct Contender {
  std::string name;
  std::string path;
  std::vector<Run> runs;
};

// N lines of a contact with 5 fields: its id, three reserved attributes and a custom one.
void write_lines(const std::string& path, long lines) {
  std::ofstream out(path, std::ios::binary);
  std::string line;
  for (long i = 0; i < lines; ++i) {
    const std::string n = std::to_string(i);
    line = R"({"_user_id":"USER-)" + n + R"(","_email":"user-)" + n +
           R"(@example.com","_first_name":"Ada","_last_name":"Lovelace","plan":"pro"})";
    line += '\n';
    out << line;
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

Run import_once(const std::string& instasent, const std::string& input, int port, long lines,
                bool validate) {
  const std::string base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setenv("INSTASENT_TOKEN", "bench-token", 1);
    setenv("INSTASENT_PROJECT", "proj_bench", 1);
    setenv("INSTASENT_DATASOURCE", "ds_bench", 1);
    execl(instasent.c_str(), instasent.c_str(), "import", "contacts", input.c_str(), "--base-url",
          base_url.c_str(), "--quiet", validate ? "--validate" : static_cast<char*>(nullptr),
          static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(instasent + " import failed (status " + std::to_string(status) + ")");
  }
  Run run;
  run.user_s = seconds(usage.ru_utime);
  run.system_s = seconds(usage.ru_stime);
  run.cpu_us_per_line = (run.user_s + run.system_s) * 1e6 / static_cast<double>(lines);
  run.max_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
  run.lines_per_second = static_cast<double>(lines) / wall;
  return run;
}

template <typename Field>
double median(std::vector<Run> runs, Field field) {
  std::sort(runs.begin(), runs.end(),
            [&](const Run& a, const Run& b) { return a.*field < b.*field; });
  return runs[runs.size() / 2].*field;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr
        << "usage: import_bench NULL_SERVER LINES ROUNDS NAME=INSTASENT [NAME=INSTASENT...]\n";
    return 2;
  }
  const long lines = std::atol(argv[2]);
  const int rounds = std::atoi(argv[3]);
  std::vector<Contender> contenders;
  bool validate = false;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--validate") {
      validate = true;
      continue;
    }
    const auto equals = arg.find('=');
    if (equals == std::string::npos) {
      contenders.push_back({arg, arg, {}});
    } else {
      contenders.push_back({arg.substr(0, equals), arg.substr(equals + 1), {}});
    }
  }
  if (lines <= 0 || rounds <= 0 || contenders.empty()) {
    std::cerr << "import_bench: LINES and ROUNDS must be positive, and an INSTASENT given\n";
    return 2;
  }
  try {
    char dir_template[] = "/tmp/import_bench.XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::string input = std::string(dir) + "/contacts.ndjson";
    write_lines(input, lines);
    instasent_bench::NullServer server(argv[1]);
    for (int round = 0; round < rounds; ++round) {
      for (Contender& contender : contenders) {
        contender.runs.push_back(
            import_once(contender.path, input, server.port(), lines, validate));
        const Run& run = contender.runs.back();
        std::printf(
            "round %d %-8s %6.2f us CPU a line (user %.2f s, system %.2f s), %6.1f MiB "
            "peak RSS, %7.0f lines/s\n",
            round + 1, contender.name.c_str(), run.cpu_us_per_line, run.user_s, run.system_s,
            run.max_rss_mib, run.lines_per_second);
      }
    }
    std::printf("\nmedians over %d rounds of %ld lines (5-field contacts%s):\n", rounds, lines,
                validate ? ", --validate: read and built, not sent" : "");
    for (const Contender& contender : contenders) {
      std::printf(
          "%-8s %6.2f us CPU a line (user %.2f s, system %.2f s), %6.1f MiB peak RSS, "
          "%7.0f lines/s\n",
          contender.name.c_str(), median(contender.runs, &Run::cpu_us_per_line),
          median(contender.runs, &Run::user_s), median(contender.runs, &Run::system_s),
          median(contender.runs, &Run::max_rss_mib),
          median(contender.runs, &Run::lines_per_second));
    }
    std::remove(input.c_str());
    rmdir(dir);
  } catch (const std::exception& error) {
    std::cerr << "import_bench: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
