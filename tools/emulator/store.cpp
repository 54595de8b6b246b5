// SPDX-License-Identifier: Apache-2.0
#include "store.hpp"

namespace instasent::emulator {

using nlohmann::json;

namespace {

// A stored value's JSON text as the value it stands for.
json parse_stored(const std::string& text) { return json::parse(text, nullptr, false); }

}  // namespace

void Store::upsert_contacts(const std::string& datasource_key,
                            const std::vector<ContactUpdate>& contacts,
                            const std::vector<AttributeUpdate>& attributes) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& stored_contacts = datasources_[datasource_key].contacts;
  for (const ContactUpdate& update : contacts) {
    auto it = stored_contacts.find(update.user_id);
    if (it == stored_contacts.end()) {
      it = stored_contacts.emplace(std::string(update.user_id), Contact()).first;
    }
    Contact& stored = it->second;
    for (std::size_t i = update.first; i < update.first + update.count; ++i) {
      const AttributeUpdate& attribute = attributes[i];
      const auto existing = stored.find(attribute.name);
      if (attribute.value == "null") {  // null clears; keys left out are kept
        if (existing != stored.end()) stored.erase(existing);
      } else if (existing != stored.end()) {
        existing->second.assign(attribute.value);
      } else {
        stored.emplace(std::string(attribute.name), std::string(attribute.value));
      }
    }
  }
}

std::optional<json> Store::contact(const std::string& datasource_key,
                                   const std::string& user_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ds = datasources_.find(datasource_key);
  if (ds == datasources_.end()) return std::nullopt;
  const auto it = ds->second.contacts.find(user_id);
  if (it == ds->second.contacts.end()) return std::nullopt;
  json data = json::object();
  for (const auto& [name, text] : it->second) data[name] = parse_stored(text);
  return data;
}

bool Store::delete_contact(const std::string& datasource_key, const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ds = datasources_.find(datasource_key);
  return ds != datasources_.end() && ds->second.contacts.erase(user_id) > 0;
}

bool Store::record_event(const std::string& datasource_key, StoredEvent event) {
  const std::string event_id = event.event.at("_event_id").get<std::string>();
  std::lock_guard<std::mutex> lock(mutex_);
  return datasources_[datasource_key].events.emplace(event_id, std::move(event)).second;
}

bool Store::has_event(const std::string& datasource_key, const std::string& event_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ds = datasources_.find(datasource_key);
  return ds != datasources_.end() && ds->second.events.count(event_id) > 0;
}

json Store::snapshot(const std::string& datasource_key) const {
  const auto describe = [](const Datasource& ds) {
    json contacts = json::object();
    for (const auto& [user_id, attributes] : ds.contacts) {
      json& data = contacts[user_id];
      data = json::object();
      for (const auto& [name, text] : attributes) data[name] = parse_stored(text);
    }
    json events = json::array();
    for (const auto& [event_id, stored] : ds.events) {
      events.push_back({{"event", stored.event},
                        {"triggersAutomations", stored.triggers_automations},
                        {"receivedMs", stored.received_ms}});
    }
    return json{{"contacts", std::move(contacts)}, {"events", std::move(events)}};
  };
  std::lock_guard<std::mutex> lock(mutex_);
  if (!datasource_key.empty()) {
    const auto ds = datasources_.find(datasource_key);
    return ds == datasources_.end() ? describe(Datasource()) : describe(ds->second);
  }
  json all = json::object();
  for (const auto& [key, ds] : datasources_) all[key] = describe(ds);
  return all;
}

std::vector<std::string> Store::event_ids(const std::string& datasource_key) const {
  std::vector<std::string> ids;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto ds = datasources_.find(datasource_key);
  if (ds == datasources_.end()) return ids;
  ids.reserve(ds->second.events.size());
  for (const auto& [event_id, stored] : ds->second.events) ids.push_back(event_id);
  return ids;
}

void Store::count_response(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.requests;
  ++counters_.responses_by_status[status];
}

void Store::count_items(std::uint64_t accepted, std::uint64_t rejected, std::uint64_t duplicates) {
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.items_accepted += accepted;
  counters_.items_rejected += rejected;
  counters_.duplicate_events += duplicates;
}

void Store::count_fault() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counters_.faults_injected;
}

Counters Store::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

void Store::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  datasources_.clear();
  counters_ = Counters();
}

}  // namespace instasent::emulator
