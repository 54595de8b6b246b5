// SPDX-License-Identifier: Apache-2.0
#include "faults.hpp"

#include <stdexcept>
#include <utility>

namespace instasent::emulator {

namespace {

constexpr std::pair<Fault, const char*> kNames[] = {
    {Fault::none, "none"},
    {Fault::server_error, "500"},
    {Fault::unavailable, "503"},
    {Fault::rate_limited, "429"},
    {Fault::drop_connection, "drop"},
    {Fault::slow, "slow"},
    {Fault::truncated_body, "truncate"},
};

double probability(const nlohmann::json& j, const char* key, double current) {
  const auto it = j.find(key);
  if (it == j.end()) return current;
  if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
    throw std::invalid_argument(std::string(key) + " must be a number from 0 to 1");
  }
  return it->get<double>();
}

}  // namespace

const char* to_string(Fault fault) noexcept {
  for (const auto& [value, name] : kNames) {
    if (value == fault) return name;
  }
  return "none";
}

std::optional<Fault> fault_from_string(const std::string& name) {
  for (const auto& [value, known] : kNames) {
    if (name == known) return value;
  }
  if (name == "ok") return Fault::none;
  return std::nullopt;
}

nlohmann::json FaultSettings::to_json() const {
  nlohmann::json script_names = nlohmann::json::array();
  for (const Fault fault : script) script_names.push_back(to_string(fault));
  return {{"p500", server_error},    {"p503", unavailable}, {"p429", rate_limited},
          {"drop", drop_connection}, {"slow", slow},        {"truncate", truncated_body},
          {"slow_ms", slow_ms},      {"seed", seed},        {"script", script_names}};
}

void FaultSettings::update_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("fault settings must be a JSON object");
  FaultSettings next = *this;
  next.server_error = probability(j, "p500", server_error);
  next.unavailable = probability(j, "p503", unavailable);
  next.rate_limited = probability(j, "p429", rate_limited);
  next.drop_connection = probability(j, "drop", drop_connection);
  next.slow = probability(j, "slow", slow);
  next.truncated_body = probability(j, "truncate", truncated_body);
  if (const auto it = j.find("slow_ms"); it != j.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 600'000) {
      throw std::invalid_argument("slow_ms must be a whole number of milliseconds up to 600000");
    }
    next.slow_ms = it->get<int>();
  }
  if (const auto it = j.find("seed"); it != j.end()) {
    if (!it->is_number_unsigned()) throw std::invalid_argument("seed must be a whole number");
    next.seed = it->get<std::uint64_t>();
  }
  if (const auto it = j.find("script"); it != j.end()) {
    if (!it->is_array()) throw std::invalid_argument("script must be an array of fault names");
    next.script.clear();
    for (const auto& name : *it) {
      const auto fault =
          name.is_string() ? fault_from_string(name.get<std::string>()) : std::nullopt;
      if (!fault) {
        throw std::invalid_argument(
            "script entries must be one of ok, none, 500, 503, 429, drop, slow, truncate");
      }
      next.script.push_back(*fault);
    }
  }
  const double total = next.server_error + next.unavailable + next.rate_limited +
                       next.drop_connection + next.slow + next.truncated_body;
  if (total > 1.0 + 1e-9) throw std::invalid_argument("fault probabilities add up to more than 1");
  *this = std::move(next);
}

FaultInjector::FaultInjector(FaultSettings settings) { configure(std::move(settings)); }

void FaultInjector::configure(FaultSettings settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_ = std::move(settings);
  random_.seed(settings_.seed);
}

FaultSettings FaultInjector::settings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return settings_;
}

Fault FaultInjector::next() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!settings_.script.empty()) {
    const Fault fault = settings_.script.front();
    settings_.script.pop_front();
    return fault;
  }
  const double draw = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  double edge = 0;
  for (const auto& [fault, p] : {std::pair{Fault::server_error, settings_.server_error},
                                 std::pair{Fault::unavailable, settings_.unavailable},
                                 std::pair{Fault::rate_limited, settings_.rate_limited},
                                 std::pair{Fault::drop_connection, settings_.drop_connection},
                                 std::pair{Fault::slow, settings_.slow},
                                 std::pair{Fault::truncated_body, settings_.truncated_body}}) {
    edge += p;
    if (draw < edge) return fault;
  }
  return Fault::none;
}

}  // namespace instasent::emulator
