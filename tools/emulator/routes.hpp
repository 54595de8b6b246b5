// SPDX-License-Identifier: Apache-2.0
// One API request as the server (authorisation, rate limit, faults) and the routes (routing and
// the endpoints, routes.cpp) pass it between them. Internal to the emulator.
#pragma once

#include <httplib.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults.hpp"
#include "server.hpp"

namespace instasent::emulator {

struct Emulator::Call {
  const httplib::Request& request;
  httplib::Response& response;
  std::string request_id;
  std::string project;
  std::string datasource;
  std::vector<std::string> rest;  // decoded segments after /stream
  std::string query;
  // "POST /stream/contacts" and so on, the rate-limit key's second half; empty when the path
  // names no endpoint.
  std::string endpoint;
  Fault fault = Fault::none;
  std::string datasource_key() const { return project + "/" + datasource; }
};

/// The body of an error answer: {"message": text}.
inline nlohmann::json message(const std::string& text) { return {{"message", text}}; }

}  // namespace instasent::emulator
