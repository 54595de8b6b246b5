// SPDX-License-Identifier: Apache-2.0
// How a program handles the SDK's errors. Every failure is an `instasent::Error` with a `kind()`;
// each kind has an exception type of its own to catch. This program makes each kind happen for
// real and prints what it caught: the status, the server's request id and message, the typed
// details (`field()`, `item_index()`, `failure()`, `maybe_delivered()`, `retryable()`) and, for a
// batch write that failed partway, `partial_result()`.
//
// Part 1 works against any Ingest API and stores nothing (its batch write is a dry run). Part 2
// needs the local emulator: it injects faults through the emulator's admin API, so it runs only
// when given the emulator's URL; it stores two contacts there.
//
//   build/tools/emulator/instasent-emulator --port 8080 &
//   export INSTASENT_PROJECT=proj_demo INSTASENT_DATASOURCE=ds_demo INSTASENT_TOKEN=demo-token
//   export INSTASENT_BASE_URL=http://127.0.0.1:8080/v1
//   build/examples/error_handling http://127.0.0.1:8080
//
// Reads INSTASENT_PROJECT, INSTASENT_DATASOURCE, INSTASENT_TOKEN and INSTASENT_BASE_URL.
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "instasent/instasent.hpp"

namespace {

// What a program can do about each kind of error. The switch has no `default`, so the compiler
// warns (-Wswitch) should a kind ever be added.
const char* what_to_do(instasent::ErrorKind kind) {
  switch (kind) {
    case instasent::ErrorKind::invalid_input:
      return "fix the value or option it names; nothing was sent";
    case instasent::ErrorKind::unauthorized:
      return "check the token; sending again will not help";
    case instasent::ErrorKind::not_found:
      return "check the project, the datasource or the id; sending again will not help";
    case instasent::ErrorKind::bad_request:
      return "the request as a whole was refused; sending it again as is will not help";
    case instasent::ErrorKind::rate_limited:
      return "the retries waited as long as allowed; send again later";
    case instasent::ErrorKind::server_error:
      return "the server kept failing; sending again later is safe";
    case instasent::ErrorKind::transport:
      return "no answer; sending again is safe (upserts and event ids are idempotent)";
    case instasent::ErrorKind::unreadable_response:
      return "the answer could not be read; asking again is safe";
  }
  return "";
}

// Prints what an error tells. Everything here is safe to log: the token never appears in it.
void print_error(const instasent::Error& error) {
  std::cout << "  caught " << instasent::to_string(error.kind());
  if (error.http_status() != 0) std::cout << ", HTTP " << error.http_status();
  if (!error.request_id().empty()) std::cout << ", request id " << error.request_id();
  std::cout << "\n  what(): " << error.what() << "\n";
  if (!error.server_message().empty()) {
    std::cout << "  server_message(): " << error.server_message() << "\n";
  }

  // The two kinds with details of their own.
  if (const auto* invalid = dynamic_cast<const instasent::InvalidInputError*>(&error)) {
    std::cout << "  field(): " << invalid->field() << ", item_index(): " << invalid->item_index()
              << "\n";
  }
  if (const auto* transport = dynamic_cast<const instasent::TransportError*>(&error)) {
    std::cout << "  failure(): " << instasent::to_string(transport->failure())
              << ", maybe_delivered(): " << (transport->maybe_delivered() ? "true" : "false")
              << ", retryable(): " << (transport->retryable() ? "true" : "false") << "\n";
  }

  // A batch write that failed partway: the fate of every input item.
  if (const instasent::BatchResult* partial = error.partial_result()) {
    std::cout << "  partial_result():";
    for (const auto& item : partial->items()) {
      std::cout << " " << item.id << "=" << instasent::to_string(item.status);
    }
    std::cout << "\n";
  }
  std::cout << "  what to do: " << what_to_do(error.kind()) << "\n";
}

// Asks the emulator to answer its next API requests as `script` says ("500", "429", "drop",
// "truncate", "ok"), through its admin API. The SDK's transport can send any HTTP request.
void script_faults(const std::string& emulator_url, const std::vector<std::string>& script) {
  instasent::HttpRequest request;
  request.method = "POST";
  request.url = emulator_url + "/_emulator/faults";
  request.headers.add("Content-Type", "application/json");
  request.body = nlohmann::json{{"script", script}}.dump();
  if (instasent::make_curl_transport()->send(request).status != 200) {
    throw std::runtime_error("the emulator refused the fault script");
  }
}

// Part 1: errors any Ingest API gives.
void part1(const instasent::ClientOptions& options) {
  const instasent::Client client(options);

  std::cout << "\n1. A builder refuses a bad value at once, before anything is sent\n";
  try {
    instasent::Contact("user-1").attribute("_plan", "pro");  // custom keys must not start with _
    std::cout << "  no error\n";
  } catch (const instasent::InvalidInputError& error) {
    print_error(error);
  }

  std::cout << "\n2. A batch call refuses an item it cannot send, and names its index\n";
  try {
    client.record_events({instasent::Event("user-1", "order-1", "purchase"),
                          instasent::Event("user-1", "purchase")});  // no _event_id
    std::cout << "  no error\n";
  } catch (const instasent::InvalidInputError& error) {
    print_error(error);
  }

  std::cout << "\n3. An item the server refuses is not an exception: it is in the result\n";
  instasent::WriteOptions dry_run;
  dry_run.dry_run = true;  // validate only: nothing is stored
  const auto result =
      client.upsert_contacts({instasent::Contact("errors-example-ok").email("ok@example.com"),
                              instasent::Contact("errors-example-bad").email("not-an-email")},
                             dry_run);
  for (const auto& item : result.items()) {
    std::cout << "  item " << item.index << " (" << item.id
              << "): " << instasent::to_string(item.status);
    for (const auto& [field, messages] : item.errors) {
      for (const auto& message : messages) std::cout << "; " << field << ": " << message;
    }
    std::cout << "\n";
  }

  std::cout << "\n4. A contact that does not exist\n";
  try {
    client.get_contact("errors-example-nobody");
    std::cout << "  no error\n";
  } catch (const instasent::NotFoundError& error) {
    print_error(error);
  }

  std::cout << "\n5. A wrong token\n";
  try {
    instasent::ClientOptions wrong = options;
    wrong.token = "not-the-token";
    instasent::Client(wrong).stream_info();
    std::cout << "  no error\n";
  } catch (const instasent::UnauthorizedError& error) {
    print_error(error);
  }
}

// Part 2: failures the emulator makes on request.
void part2(instasent::ClientOptions options, const std::string& emulator_url) {
  // Two attempts per request and short waits: each fault below is scripted for both attempts, so
  // that the call gives up, and does so at once.
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = std::chrono::milliseconds(10);
  options.retry.max_rate_limit_wait = std::chrono::milliseconds(100);  // 429: Retry-After is 1 s
  options.batch.max_items = 2;  // five contacts: three requests
  const instasent::Client client(options);
  std::vector<instasent::Contact> contacts;
  for (int i = 0; i < 5; ++i) contacts.emplace_back("errors-example-" + std::to_string(i));

  std::cout << "\n6. The server fails (500) on the second request of a batch write, and again on "
               "its retry\n";
  script_faults(emulator_url, {"ok", "500", "500"});
  try {
    client.upsert_contacts(contacts);
    std::cout << "  no error\n";
  } catch (const instasent::ServerError& error) {
    print_error(error);
  }

  std::cout << "\n7. The server keeps answering 429 (too many requests)\n";
  script_faults(emulator_url, {"429", "429"});
  try {
    client.stream_info();
    std::cout << "  no error\n";
  } catch (const instasent::RateLimitedError& error) {
    print_error(error);
  }

  std::cout << "\n8. The connection drops while the answer comes, after the server stored the "
               "contact\n";
  script_faults(emulator_url, {"drop", "drop"});
  try {
    client.upsert_contacts({contacts[0]});
    std::cout << "  no error\n";
  } catch (const instasent::TransportError& error) {
    print_error(error);
    // maybe_delivered() was true: here it was.
    std::cout << "  the contact is stored: " << client.get_contact(contacts[0].user_id()).user_id
              << "\n";
  }

  std::cout << "\n9. The answer to a read is cut in half\n";
  script_faults(emulator_url, {"truncate"});
  try {
    client.stream_info();
    std::cout << "  no error\n";
  } catch (const instasent::UnreadableResponseError& error) {
    print_error(error);
  }

  std::cout << "\n10. A request larger than the server takes (the emulator's limit is 1 MiB)\n";
  options.batch.max_bytes = 2'000'000;  // the client's own limit (1 MB) would refuse it first
  try {
    instasent::Client(options).upsert_contacts(
        {instasent::Contact("errors-example-large")
             .attribute("notes", std::string(1'100'000, 'x'))});
    std::cout << "  no error\n";
  } catch (const instasent::BadRequestError& error) {
    print_error(error);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto options = instasent::ClientOptions::from_env();
    part1(options);
    if (argc > 1) {
      part2(options, argv[1]);
    } else {
      std::cout << "\nPart 2 (faults) needs the emulator: pass its URL, e.g. "
                   "http://127.0.0.1:8080\n";
    }
    return 0;
  } catch (const instasent::Error& error) {
    // An error no step above expected.
    std::cerr << "unexpected error (" << instasent::to_string(error.kind()) << "): " << error.what()
              << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
}
