// SPDX-License-Identifier: Apache-2.0
// ClientOptions: the values a Client refuses, naming them, and ClientOptions::from_env().
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "instasent/client.hpp"
#include "instasent/error.hpp"

namespace instasent {
namespace {

ClientOptions valid_options() {
  ClientOptions options;
  options.project = "proj";
  options.datasource = "ds";
  options.token = "token-123";
  return options;
}

TEST(ClientConfig, RefusesBadOptionsNamingThem) {
  const auto expect_refused = [](ClientOptions options, const std::string& field) {
    try {
      Client client(options);
      ADD_FAILURE() << "accepted options with a bad " << field;
    } catch (const InvalidInputError& error) {
      EXPECT_NE(error.field().find(field), std::string::npos) << error.field();
      EXPECT_EQ(std::string(error.what()).find(options.token.empty() ? "\x01" : options.token),
                std::string::npos);
    }
  };
  auto options = valid_options();
  options.project.clear();
  expect_refused(options, "project");
  options = valid_options();
  options.datasource.clear();
  expect_refused(options, "datasource");
  for (const char* token : {"", "abc\r\nX-Evil: 1", "tab\there", "sp ace", "nul\x01"}) {
    options = valid_options();
    options.token = token;
    expect_refused(options, "token");
  }
  options = valid_options();
  options.base_url = "http://api.example.com/v1";
  expect_refused(options, "base URL");
  options = valid_options();
  options.batch.max_items = 101;
  expect_refused(options, "batch.max_items");
}

// A timeout of zero would switch the timeout off in libcurl: zero is refused like a negative one.
TEST(ClientConfig, RefusesZeroTimeoutsAndABackoffCapBelowTheFirstBackoff) {
  using std::chrono::milliseconds;
  const auto refused_field = [](const ClientOptions& options) -> std::string {
    try {
      Client client(options);
    } catch (const InvalidInputError& error) {
      return error.field();
    }
    return "";
  };
  for (const milliseconds value : {milliseconds(0), milliseconds(-1)}) {
    auto options = valid_options();
    options.retry.deadline = value;
    EXPECT_EQ(refused_field(options), "retry.deadline") << value.count();
    options = valid_options();
    options.curl.connect_timeout = value;
    EXPECT_EQ(refused_field(options), "curl.connect_timeout") << value.count();
    options = valid_options();
    options.curl.request_timeout = value;
    EXPECT_EQ(refused_field(options), "curl.request_timeout") << value.count();
  }
  auto options = valid_options();
  options.curl.request_timeout = milliseconds(1);
  EXPECT_EQ(refused_field(options), "") << "the smallest positive timeout is accepted";
  options = valid_options();
  options.retry.initial_backoff = milliseconds(500);
  options.retry.max_backoff = milliseconds(499);
  EXPECT_EQ(refused_field(options), "retry.max_backoff");
  options.retry.max_backoff = milliseconds(500);
  EXPECT_EQ(refused_field(options), "") << "a cap equal to the first backoff is accepted";
}

TEST(ClientConfig, FromEnvReadsVariablesAndCodeWins) {
  setenv("INSTASENT_PROJECT", "env-proj", 1);
  setenv("INSTASENT_DATASOURCE", "env-ds", 1);
  setenv("INSTASENT_TOKEN", "env-token", 1);
  setenv("INSTASENT_BASE_URL", "http://127.0.0.1:1/v1", 1);
  auto options = ClientOptions::from_env();
  EXPECT_EQ(options.project, "env-proj");
  EXPECT_EQ(options.datasource, "env-ds");
  EXPECT_EQ(options.token, "env-token");
  EXPECT_EQ(options.base_url, "http://127.0.0.1:1/v1");
  unsetenv("INSTASENT_BASE_URL");
  setenv("INSTASENT_TOKEN", "", 1);  // empty counts as unset
  options = ClientOptions::from_env();
  EXPECT_EQ(options.base_url, kDefaultBaseUrl);
  EXPECT_TRUE(options.token.empty());
  unsetenv("INSTASENT_PROJECT");
  unsetenv("INSTASENT_DATASOURCE");
  unsetenv("INSTASENT_TOKEN");
  EXPECT_THROW(Client::from_env(), InvalidInputError);
}

TEST(ClientConfig, PathArgumentsMustBeNonEmptyUtf8) {
  auto client = Client(valid_options());
  EXPECT_THROW(client.delete_contact(""), InvalidInputError);
  EXPECT_THROW(client.get_contact("\xC3"), InvalidInputError);
  EXPECT_THROW(client.event_parameter_specs(""), InvalidInputError);
}

}  // namespace
}  // namespace instasent
