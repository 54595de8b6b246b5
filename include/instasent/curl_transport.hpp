// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "instasent/export.hpp"
#include "instasent/limits.hpp"
#include "instasent/transport.hpp"

namespace instasent {

/// The libcurl transport's settings. `Client` refuses (`InvalidInputError`) a timeout that is not
/// positive and a size or speed limit out of its range.
struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  /// Limit for one whole exchange (connect, send, receive).
  std::chrono::milliseconds request_timeout{30'000};
  /// The most an answer's body may hold after decompression (at least 1 KiB). A larger answer,
  /// announced or not (chunked, compressed), ends the exchange with `TransportError`
  /// (`TransportFailure::too_large`), which is not retried.
  std::size_t max_response_bytes = kDefaultMaxResponseBytes;
  /// An exchange whose transfer averages fewer than `low_speed_bytes` bytes per second over
  /// `low_speed_time` is given up as timed out, so that an answer trickling in ends well before
  /// `request_timeout`. A server that sends nothing for that long is given up the same way.
  /// `low_speed_bytes` 0 turns this off.
  std::size_t low_speed_bytes = 100;
  std::chrono::seconds low_speed_time{20};
  /// Verify the server's certificate and host name. Turning this off is for test rigs only.
  bool verify_tls = true;
  /// A CA bundle to verify against instead of the system's (empty: the system's).
  std::string ca_file;
  /// Extra text appended to `User-Agent: instasent-cpp/<version>`.
  std::string user_agent_suffix;
};

/// A thread-safe libcurl transport. It keeps a pool of easy handles so connections are reused
/// (keep-alive); sets CURLOPT_NOSIGNAL; allows only http and https; never follows redirects;
/// accepts gzip; verifies TLS by default; bounds the answer's size and speed as the options say;
/// never sends a plain-http request through a proxy (the token would cross it in clear text).
/// libcurl is initialised once, internally. Every exception `send` throws is a `TransportError`.
INSTASENT_EXPORT std::shared_ptr<Transport> make_curl_transport(
    const CurlTransportOptions& options = {});

}  // namespace instasent
