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

/// Which proxy https requests go through. A plain-http request (to a loopback emulator, or with
/// `allow_insecure_http`) never goes through a proxy, explicit or not: the token would cross it
/// in clear text. An https request through a proxy goes in a CONNECT tunnel (or SOCKS), so the
/// proxy sees only the host and port; the token stays encrypted end to end.
struct ProxyOptions {
  /// The proxy for https requests, in place of the environment's: `[scheme://][user:password@]`
  /// `host[:port]`, where the scheme is `http` (the default), `https`, `socks4`, `socks4a`,
  /// `socks5` or `socks5h`, and the port defaults to 1080 (or 443 for an https proxy). The
  /// credentials, if any, never appear in a message.
  std::string url;
  /// With `url`: hosts that do not go through it, separated by commas: `*` for every host, a
  /// host name (which also covers its subdomains; a leading dot is allowed), or an IP address.
  /// Ranges (CIDR) are not understood.
  std::string no_proxy;
  /// When `url` is empty: whether the environment's proxy applies, as libcurl would read it:
  /// `https_proxy`, `HTTPS_PROXY`, `all_proxy` or `ALL_PROXY` (the first set), with `no_proxy` or
  /// `NO_PROXY` in the form above. They are read once, when the transport is made. False: no
  /// proxy at all.
  bool from_environment = true;
};

/// The libcurl transport's settings. `Client` refuses (`InvalidInputError`) a timeout that is not
/// positive and a size or speed limit out of its range.
struct CurlTransportOptions {
  /// Limit for making a connection (name lookup, TCP and TLS handshakes).
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
  std::chrono::seconds low_speed_time{20};  ///< See `low_speed_bytes`.
  /// Ask the server to gzip its answers (`Accept-Encoding: gzip`). Off by default, when requests
  /// say `Accept-Encoding: identity`: an answer is a few dozen bytes an item, a third of what its
  /// request sends uncompressed, and decoding a gzip answer costs about 140 k instructions (zlib's
  /// 40 KB of state, zeroed for each answer, then the inflating): 15 % of the client's CPU a
  /// contact in `benchmarks/side_by_side`. Turn it on where the link's bytes cost more than CPU.
  /// Either way, an answer that comes compressed is decoded, within `max_response_bytes`.
  bool compressed_answers = false;
  /// Verify the server's certificate and host name. Turning this off is for test rigs only.
  bool verify_tls = true;
  /// A CA bundle to verify against instead of the system's (empty: the system's).
  std::string ca_file;
  /// Extra text appended to `User-Agent: instasent-cpp/<version>`.
  std::string user_agent_suffix;
  /// The proxy (by default, the environment's, for https only). A transport error of a request
  /// that went through a proxy names it, without its credentials.
  ProxyOptions proxy;
};

/// A thread-safe libcurl transport. It keeps a pool of easy handles so connections are reused
/// (keep-alive); sets CURLOPT_NOSIGNAL; allows only http and https; never follows redirects;
/// decodes gzip answers (and asks for them with `compressed_answers`); verifies TLS by default;
/// bounds the answer's size and speed as the options say; never sends a plain-http request through
/// a proxy (the token would cross it in clear text). libcurl is initialised once, internally. Every
/// exception `send` throws is a `TransportError`. Throws `InvalidInputError` when the proxy
/// (`proxy.url`, or the environment's) is not a proxy URL; the message names the option or
/// variable, never its value.
INSTASENT_EXPORT std::shared_ptr<Transport> make_curl_transport(
    const CurlTransportOptions& options = {});

}  // namespace instasent
