// SPDX-License-Identifier: Apache-2.0
#include "store.hpp"

namespace instasent::emulator {

using nlohmann::json;

void Store::upsert_contact(const std::string& datasource_key, const json& contact) {
  const std::string& user_id = contact.at("_user_id").get_ref<const std::string&>();
  std::lock_guard<std::mutex> lock(mutex_);
  json& stored = datasources_[datasource_key].contacts[user_id];
  if (!stored.is_object()) stored = json::object();
  for (auto it = contact.begin(); it != contact.end(); ++it) {
    if (it.value().is_null()) {
      stored.erase(it.key());  // null clears; keys left out are kept
    } else {
      stored[it.key()] = it.value();
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
  return it->second;
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
    for (const auto& [user_id, data] : ds.contacts) contacts[user_id] = data;
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
