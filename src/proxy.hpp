// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "instasent/curl_transport.hpp"

namespace instasent::detail {

/// Which requests go through which proxy: `ProxyOptions` resolved once, with the environment's
/// variables read at construction. The transport sets the proxy of every request from it, so
/// that libcurl's own reading of the environment never decides, and an error can name the proxy
/// a request went through.
class ProxyRoute {
 public:
  /// Throws InvalidInputError naming the option ("curl.proxy.url") or the variable when the proxy
  /// is not a proxy URL; the message never holds the value.
  explicit ProxyRoute(const ProxyOptions& options);

  /// The proxy URL to hand libcurl for a request to `url` (credentials included), or null to go
  /// straight to the server: always for plain http, and for a host in the no-proxy list.
  const std::string* proxy_for(std::string_view url) const;

  /// The proxy as a message may show it: scheme, host and port, without credentials.
  const std::string& shown() const { return shown_; }

 private:
  bool bypassed(std::string_view host) const;

  std::string url_;  // empty: no proxy
  std::string shown_;
  std::vector<std::string> no_proxy_;  // lower case, without a leading '.'; "*" is every host
};

}  // namespace instasent::detail
