// SPDX-License-Identifier: Apache-2.0
// The Ingest API quickstart in five steps: verify the token, create a contact, record an event,
// record an event with an embedded contact, delete the contact.
//
// Reads INSTASENT_PROJECT, INSTASENT_DATASOURCE, INSTASENT_TOKEN and INSTASENT_BASE_URL.
#include <chrono>
#include <iostream>
#include <string>

#include "instasent/instasent.hpp"

namespace {

void print_batch(const char* what, const instasent::BatchResult& result) {
  std::cout << what << ": " << result.count(instasent::ItemStatus::accepted) << " accepted, "
            << result.count(instasent::ItemStatus::rejected) << " rejected, "
            << result.count(instasent::ItemStatus::unknown) << " unknown\n";
  for (const auto& item : result.items()) {
    if (item.status == instasent::ItemStatus::accepted) continue;
    std::cout << "  item " << item.index << " (" << item.id << ") "
              << instasent::to_string(item.status) << "\n";
    for (const auto& [field, messages] : item.errors) {
      for (const auto& message : messages) {
        std::cout << "    " << (field.empty() ? "(item)" : field) << ": " << message << "\n";
      }
    }
  }
}

}  // namespace

int main() {
  try {
    const auto client = instasent::Client::from_env();
    const std::string user_id = "quickstart-user-1";

    // 1. Verify the token: the cheapest call.
    const auto info = client.stream_info();
    std::cout << "1. token works for datasource " << info.datasource.dump() << "\n";

    // 2. Create (or update) a contact.
    print_batch("2. upsert contact", client.upsert_contacts({instasent::Contact(user_id)
                                                                 .first_name("Ada")
                                                                 .last_name("Lovelace")
                                                                 .email("ada@example.com")
                                                                 .attribute("plan", "pro")}));

    // 3. Record an event. A stable _event_id makes a resend harmless.
    const auto now = std::chrono::system_clock::now();
    print_batch("3. record event",
                client.record_events({instasent::Event(user_id, "quickstart-order-1", "purchase")
                                          .date(now)
                                          .parameter("amount", 49.90)
                                          .parameter("currency", "EUR")}));

    // 4. Record an event with the contact embedded: upserted first, then the event.
    print_batch(
        "4. record event with contact",
        client.record_events({instasent::Event(user_id, "quickstart-order-2", "purchase")
                                  .parameter("amount", 12.5)
                                  .user_data(instasent::Contact(user_id).attribute("vip", true))}));

    // 5. Delete the contact.
    const auto deleted = client.delete_contact(user_id);
    std::cout << "5. delete contact: HTTP " << deleted.http_status << "\n";
    return 0;
  } catch (const instasent::Error& error) {
    std::cerr << "error (" << instasent::to_string(error.kind()) << "): " << error.what() << "\n";
    return 1;
  }
}
