// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "instasent/export.hpp"
#include "instasent/http.hpp"

namespace instasent {

/// The seam every request passes through. The SDK ships a libcurl implementation
/// (`make_curl_transport`); tests and applications can plug in their own.
///
/// `send` returns any HTTP answer, whatever its status, and throws `TransportError` when no answer
/// was received (DNS, connect, TLS, timeout, connection dropped). It must be safe to call from
/// several threads at once.
class INSTASENT_EXPORT Transport {
 public:
  virtual ~Transport() = default;
  /// Sends `request` and returns the answer, whatever its status; throws `TransportError` when
  /// no answer was received.
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

}  // namespace instasent
