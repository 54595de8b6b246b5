// SPDX-License-Identifier: Apache-2.0
// <instasent-emulator/testing.hpp> as a user's test program uses it: a GoogleTest environment
// with one emulator for the program, started by the helper itself or by a CTest fixture
// (instasent_add_emulator_fixture); the SDK talks to it, and the admin API shows what it stored.
#include <instasent-emulator/testing.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "instasent/instasent.hpp"

namespace {

instasent_emulator::Environment* emulator = nullptr;

TEST(EmulatorHelper, TheSdkTalksToTheEmulatorItGives) {
  ASSERT_NE(emulator, nullptr);
  const std::string expected = std::getenv("EXPECT_FIXTURE");
  // A fixture's emulator is named by the URL file; one the helper started is not.
  EXPECT_EQ(std::getenv("INSTASENT_EMULATOR_URL_FILE") != nullptr, expected == "1");
  EXPECT_EQ(emulator->base_url().rfind("http://127.0.0.1:", 0), 0u) << emulator->base_url();

  instasent::ClientOptions options;
  options.project = "proj_demo";  // the emulator's tenant when given no flags
  options.datasource = "ds_demo";
  options.token = "demo-token";
  options.base_url = emulator->base_url();
  const instasent::Client client(options);
  EXPECT_NO_THROW(client.stream_info());
  EXPECT_TRUE(client.upsert_contacts({instasent::Contact("helper-user")}).all_accepted());

  const instasent_emulator::Answer state = instasent_emulator::http(
      emulator->port(), "GET", "/_emulator/state?project=proj_demo&datasource=ds_demo");
  ASSERT_EQ(state.status, 200) << state.body;
  EXPECT_NE(state.body.find("helper-user"), std::string::npos) << state.body;
}

TEST(EmulatorHelper, AProgramThatIsNotAnEmulatorIsAClearError) {
  try {
    instasent_emulator::Process process({}, "/bin/false");
    ADD_FAILURE() << "started";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("/bin/false"), std::string::npos) << error.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  emulator = new instasent_emulator::Environment();
  ::testing::AddGlobalTestEnvironment(emulator);  // GoogleTest owns it
  return RUN_ALL_TESTS();
}
