// SPDX-License-Identifier: Apache-2.0
// What the emulator keeps: contacts and events per datasource, and counters. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace instasent::emulator {

/// One stored event, as received plus what the emulator decided about it.
struct StoredEvent {
  nlohmann::json event;       ///< The item as received (`_event_date` filled in when missing).
  bool triggers_automations;  ///< Its date was within ±1 hour of reception.
  std::int64_t received_ms;   ///< Unix time of reception, in milliseconds.
};

struct Counters {
  std::map<int, std::uint64_t> responses_by_status;
  std::uint64_t requests = 0;
  std::uint64_t items_accepted = 0;
  std::uint64_t items_rejected = 0;
  std::uint64_t duplicate_events = 0;
  std::uint64_t faults_injected = 0;
};

/// One attribute of a contact upsert: its name and its value as JSON text; `null` clears it.
struct AttributeUpdate {
  std::string_view name;
  std::string_view value;
};

/// One contact of an upsert: its user id and its attributes, `attributes[first, first + count)`
/// of the list given with it.
struct ContactUpdate {
  std::string_view user_id;
  std::size_t first;
  std::size_t count;
};

class Store {
 public:
  /// Upserts the contacts in order: attributes left out are kept, attributes sent as null are
  /// removed.
  void upsert_contacts(const std::string& datasource_key,
                       const std::vector<ContactUpdate>& contacts,
                       const std::vector<AttributeUpdate>& attributes);
  std::optional<nlohmann::json> contact(const std::string& datasource_key,
                                        const std::string& user_id) const;
  /// False when there was no such contact.
  bool delete_contact(const std::string& datasource_key, const std::string& user_id);
  /// Stores the event unless its `_event_id` is already stored; returns whether it was new.
  bool record_event(const std::string& datasource_key, StoredEvent event);
  bool has_event(const std::string& datasource_key, const std::string& event_id) const;

  /// {"contacts": {user_id: data}, "events": [...]} for one datasource, or every datasource
  /// (keyed by "project/datasource") when `datasource_key` is empty.
  nlohmann::json snapshot(const std::string& datasource_key) const;

  /// The `_event_id`s stored for one datasource, in order.
  std::vector<std::string> event_ids(const std::string& datasource_key) const;

  void count_response(int status);
  void count_items(std::uint64_t accepted, std::uint64_t rejected, std::uint64_t duplicates);
  void count_fault();
  Counters counters() const;

  /// Forgets every contact, event and counter.
  void reset();

 private:
  // A contact's attributes, each value kept as the JSON text it came in, so that storing it
  // copies text instead of building a tree; it is parsed when the contact is read.
  using Contact = std::map<std::string, std::string, std::less<>>;
  struct Datasource {
    std::map<std::string, Contact, std::less<>> contacts;
    std::map<std::string, StoredEvent> events;  // by _event_id
  };
  mutable std::mutex mutex_;
  std::map<std::string, Datasource> datasources_;
  Counters counters_;
};

}  // namespace instasent::emulator
