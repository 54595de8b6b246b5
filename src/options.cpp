// SPDX-License-Identifier: Apache-2.0
#include "instasent/options.hpp"

#include <cstdlib>

namespace instasent {

namespace {

void read_env(const char* name, std::string& into) {
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') into = value;
}

}  // namespace

ClientOptions ClientOptions::from_env() {
  ClientOptions options;
  read_env("INSTASENT_PROJECT", options.project);
  read_env("INSTASENT_DATASOURCE", options.datasource);
  read_env("INSTASENT_TOKEN", options.token);
  read_env("INSTASENT_BASE_URL", options.base_url);
  return options;
}

}  // namespace instasent
