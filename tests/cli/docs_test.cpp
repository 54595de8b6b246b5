// SPDX-License-Identifier: Apache-2.0
// The docs match the programs: every flag that `instasent` (any subcommand) or
// `instasent-emulator` prints in its --help is in its doc and in its man page, every flag a doc
// names exists, and the emulator's admin endpoints are the same in its --help, its README and its
// answers.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.hpp"
#include "instasent/version.hpp"

namespace instasent::cli::testing {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) ADD_FAILURE() << "cannot read " << path;
  return text.str();
}

// What `program args...` prints on stdout.
std::string output_of(const std::string& program, const std::vector<std::string>& args) {
  std::string command = program;
  for (const std::string& arg : args) command += " " + arg;
  command += " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return "";
  }
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// What `program args... --help` prints on stdout.
std::string help_of(const std::string& program, std::vector<std::string> args) {
  args.push_back("--help");
  return output_of(program, args);
}

std::set<std::string> matches(const std::string& text, const std::regex& pattern) {
  std::set<std::string> found;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
    found.insert(it->str());
  }
  return found;
}

const std::regex kFlag("--[a-z][a-z0-9]*(-[a-z0-9]+)*");
const std::regex kAdminEndpoint("/_emulator/[a-z-]+");

// The subcommands a --help lists, one per line under "Subcommands:".
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream lines(help.substr(std::min(help.size(), help.find("Subcommands:"))));
  std::string line;
  std::getline(lines, line);  // the heading
  const std::regex entry("^  ([a-z][a-z-]*) .*");
  while (std::getline(lines, line) && !line.empty()) {
    std::smatch match;
    if (std::regex_match(line, match, entry)) names.push_back(match[1]);
  }
  return names;
}

// Every flag of `instasent` and its subcommands, from their --help, walking the subcommands; and
// the commands that have none of their own ("import contacts"), when `leaves` is given.
void collect_cli_flags(std::vector<std::string> path, std::set<std::string>& flags,
                       std::set<std::string>* leaves = nullptr, int depth = 0) {
  const std::string help = help_of(CLI_PATH, path);
  ASSERT_FALSE(help.empty()) << "no --help for instasent " << ::testing::PrintToString(path);
  const std::set<std::string> here = matches(help, kFlag);
  flags.insert(here.begin(), here.end());
  const std::vector<std::string> names = subcommands(help);
  if (names.empty() && leaves != nullptr) {
    std::string command;
    for (const std::string& word : path) command += (command.empty() ? "" : " ") + word;
    leaves->insert(command);
  }
  if (depth > 3) return;
  for (const std::string& name : names) {
    path.push_back(name);
    collect_cli_flags(path, flags, leaves, depth + 1);
    path.pop_back();
  }
}

// A man page's roff source, with its hyphens ("\-") as they read.
std::string man_page_text(const std::string& path) {
  std::string text = read_text(path);
  for (std::size_t at = 0; (at = text.find("\\-", at)) != std::string::npos;) text.erase(at, 1);
  return text;
}

std::string difference(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::string out;
  for (const std::string& item : a) {
    if (b.count(item) == 0) out += item + " ";
  }
  return out;
}

TEST(Docs, EveryFlagOfTheToolIsInDocsCliAndEveryFlagThereExists) {
  std::set<std::string> program;
  collect_cli_flags({}, program);
  EXPECT_GT(program.size(), 20u) << "the walk found too few flags";
  const std::set<std::string> documented =
      matches(read_text(std::string(SOURCE_DIR) + "/docs/cli.md"), kFlag);
  // Flags of other programs that docs/cli.md shows in its examples.
  const std::set<std::string> others = {"--install", "--port"};
  EXPECT_EQ(difference(program, documented), "") << "in --help, missing from docs/cli.md";
  std::set<std::string> known = program;
  known.insert(others.begin(), others.end());
  EXPECT_EQ(difference(documented, known), "") << "in docs/cli.md, no such flag";
}

TEST(Docs, EveryFlagAndEndpointOfTheEmulatorIsInItsReadmeAndAnswers) {
  const std::string help = help_of(EMULATOR_PATH, {});
  const std::string readme = read_text(std::string(SOURCE_DIR) + "/tools/emulator/README.md");
  const std::set<std::string> flags = matches(help, kFlag);
  const std::set<std::string> documented_flags = matches(readme, kFlag);
  EXPECT_GT(flags.size(), 10u);
  EXPECT_EQ(difference(flags, documented_flags), "") << "in --help, missing from the README";
  EXPECT_EQ(difference(documented_flags, flags), "") << "in the README, no such flag";

  const std::set<std::string> endpoints = matches(help, kAdminEndpoint);
  EXPECT_EQ(endpoints, matches(readme, kAdminEndpoint));
  const Emulator emulator;
  for (const std::string& endpoint : endpoints) {
    auto client = emulator::testing::loopback_client(emulator.port());
    const auto answer = endpoint == "/_emulator/reset"
                            ? client.Post(endpoint.c_str(), "{}", "application/json")
                            : client.Get(endpoint.c_str());
    ASSERT_TRUE(answer) << endpoint;
    EXPECT_EQ(answer->status, 200) << endpoint;
  }
}

TEST(Docs, BothProgramsTellTheirVersionAndWhereTheirManualIs) {
  EXPECT_EQ(output_of(CLI_PATH, {"--version"}), std::string("instasent ") + kVersion + "\n");
  EXPECT_EQ(output_of(EMULATOR_PATH, {"--version"}),
            std::string("instasent-emulator ") + kVersion + "\n");
  // The last line of --help names what an installed user has: the man page and the doc.
  const std::regex last_line(
      "\nSee man ([a-z-]+), or (/[^ ]+/share/doc/instasent/[a-z]+\\.md)\\.\n$");
  std::smatch match;
  const std::string cli_help = help_of(CLI_PATH, {});
  ASSERT_TRUE(std::regex_search(cli_help, match, last_line)) << cli_help;
  EXPECT_EQ(match[1], "instasent");
  EXPECT_EQ(std::string(match[2]).substr(match[2].length() - 7), "/cli.md");
  const std::string import_help = help_of(CLI_PATH, {"import", "events"});
  EXPECT_TRUE(std::regex_search(import_help, last_line)) << import_help;
  const std::string emulator_help = help_of(EMULATOR_PATH, {});
  ASSERT_TRUE(std::regex_search(emulator_help, match, last_line)) << emulator_help;
  EXPECT_EQ(match[1], "instasent-emulator");
  EXPECT_EQ(std::string(match[2]).substr(match[2].length() - 12), "/emulator.md");
}

// The man pages that help2man makes from the programs (cmake/ManPages.cmake), when it is found:
// every command of `instasent` has its section, every flag of either program is in its page, and
// SEE ALSO names the installed doc.
TEST(Docs, TheManPagesHoldEveryCommandAndFlag) {
  const std::string cli_page = std::string(MAN_DIR) + "/instasent.1";
  const std::string emulator_page = std::string(MAN_DIR) + "/instasent-emulator.1";
  if (!file_exists(cli_page)) GTEST_SKIP() << "no man pages: help2man was not found";

  std::set<std::string> flags;
  std::set<std::string> commands;
  collect_cli_flags({}, flags, &commands);
  EXPECT_GE(commands.size(), 8u) << ::testing::PrintToString(commands);
  EXPECT_EQ(commands.count("import contacts"), 1u);
  const std::string page = man_page_text(cli_page);
  for (const std::string& command : commands) {
    EXPECT_TRUE(contains(page, ".SS \"instasent " + command + "\"")) << command;
  }
  EXPECT_EQ(difference(flags, matches(page, kFlag)), "") << "in --help, missing from instasent.1";
  EXPECT_TRUE(contains(page, "share/doc/instasent/cli.md")) << page;
  EXPECT_TRUE(contains(page, "instasent " + std::string(kVersion))) << page;

  const std::string emulator = man_page_text(emulator_page);
  EXPECT_EQ(difference(matches(help_of(EMULATOR_PATH, {}), kFlag), matches(emulator, kFlag)), "")
      << "in --help, missing from instasent-emulator.1";
  EXPECT_TRUE(contains(emulator, ".SH SYNOPSIS")) << emulator;
  EXPECT_TRUE(contains(emulator, "share/doc/instasent/emulator.md")) << emulator;
}

}  // namespace
}  // namespace instasent::cli::testing
