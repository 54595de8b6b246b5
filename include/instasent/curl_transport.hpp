// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "instasent/http.hpp"

namespace instasent {

struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  /// Limit for one whole exchange (connect, send, receive).
  std::chrono::milliseconds request_timeout{30'000};
  /// Verify the server's certificate and host name. Turning this off is for test rigs only.
  bool verify_tls = true;
  /// A CA bundle to verify against instead of the system's (empty: the system's).
  std::string ca_file;
  /// Extra text appended to `User-Agent: instasent-cpp/<version>`.
  std::string user_agent_suffix;
};

/// A thread-safe libcurl transport. It keeps a pool of easy handles so connections are reused
/// (keep-alive); sets CURLOPT_NOSIGNAL; allows only http and https; never follows redirects;
/// accepts gzip; verifies TLS by default. libcurl is initialised once, internally.
std::shared_ptr<Transport> make_curl_transport(const CurlTransportOptions& options = {});

}  // namespace instasent
