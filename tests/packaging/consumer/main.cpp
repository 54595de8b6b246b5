// SPDX-License-Identifier: Apache-2.0
// A program of a user of the SDK, built the four ways a project can consume it (see run.sh):
// it upserts one contact into the server whose settings the INSTASENT_* variables give and
// reads it back. Exit 0 when the contact was stored and the library's version is the headers'.
#include <cstring>
#include <iostream>

#include "instasent/instasent.hpp"

int main() {
  try {
    if (std::strcmp(instasent::version(), instasent::kVersion) != 0) {
      std::cerr << "headers " << instasent::kVersion << ", library " << instasent::version()
                << "\n";
      return 1;
    }
    const auto client = instasent::Client::from_env();
    const auto result =
        client.upsert_contacts({instasent::Contact("consumer-1").email("consumer@example.com")});
    if (!result.all_accepted()) {
      std::cerr << "the contact was not accepted\n";
      return 1;
    }
    const auto contact = client.get_contact("consumer-1");
    std::cout << "instasent " << instasent::version() << " (headers " << INSTASENT_VERSION_MAJOR
              << "." << INSTASENT_VERSION_MINOR << "." << INSTASENT_VERSION_PATCH << "): stored "
              << contact.user_id << "\n";
    return 0;
  } catch (const instasent::Error& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
}
