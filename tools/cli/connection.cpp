// SPDX-License-Identifier: Apache-2.0
#include "connection.hpp"

#include <fstream>

#include "exit_codes.hpp"
#include "instasent/error.hpp"
#include "text.hpp"

namespace instasent::cli {

namespace {

constexpr std::streamsize kMaxTokenFileBytes = 64 << 10;

// Which flag sets what an SDK error's field names, e.g. "project (INSTASENT_PROJECT)".
const char* flag_for(const std::string& field) {
  if (field.rfind("project", 0) == 0) return "--project";
  if (field.rfind("datasource", 0) == 0) return "--datasource";
  if (field.rfind("token", 0) == 0) return "--token-file";
  if (field.rfind("base URL", 0) == 0) return "--base-url";
  return nullptr;
}

}  // namespace

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read the token file " + path);
  std::string text(static_cast<std::size_t>(kMaxTokenFileBytes), '\0');
  in.read(text.data(), kMaxTokenFileBytes);
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto newline = text.find('\n');
  if (newline != std::string::npos) text.erase(newline);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  std::string token(trim(text));
  if (token.empty()) throw UsageError("the token file " + path + " holds no token");
  return token;
}

ClientOptions client_options(const ConnectionFlags& flags) {
  ClientOptions options = ClientOptions::from_env();
  if (!flags.project.empty()) options.project = flags.project;
  if (!flags.datasource.empty()) options.datasource = flags.datasource;
  if (!flags.base_url.empty()) options.base_url = flags.base_url;
  if (!flags.token_file.empty()) options.token = read_token_file(flags.token_file);
  if (flags.max_attempts > 0) options.retry.max_attempts = flags.max_attempts;
  return options;
}

Client make_client(const ClientOptions& options) {
  try {
    return Client(options);
  } catch (const InvalidInputError& error) {
    // what() reads "instasent: invalid input: FIELD PROBLEM"; the field names the variable.
    std::string message = error.what();
    const std::string prefix = "instasent: invalid input: ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    if (const char* flag = flag_for(error.field()))
      message += " (or pass " + std::string(flag) + ")";
    throw UsageError(message);
  }
}

}  // namespace instasent::cli
