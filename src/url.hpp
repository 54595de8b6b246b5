// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace instasent::detail {

/// Percent-encodes everything but RFC 3986 unreserved characters, so that the result is exactly
/// one path segment ("a/b" -> "a%2Fb", "ñ" -> "%C3%B1").
std::string encode_path_segment(std::string_view segment);

/// A URL's host (an IPv6 address keeps its brackets) and port, if it has one.
struct HostPort {
  std::string_view host;
  std::optional<std::string_view> port;
};

/// Splits `host[:port]` or `[v6][:port]` and checks both: a port from 1 to 65535, a host name of
/// letters, digits, '.', '-' and '_' (not starting with '.' or '-', no ".."). Throws
/// InvalidInputError naming `field`.
HostPort check_authority(std::string_view authority, const char* field);

/// Checks a base URL (`http[s]://host[:port][/path]`, no user info, query or fragment) and returns
/// it without a trailing '/'. Plain http is allowed only for loopback hosts unless
/// `allow_insecure_http`. Throws InvalidInputError naming `field`.
std::string normalize_base_url(std::string_view url, bool allow_insecure_http, const char* field);

/// True for localhost, 127.0.0.0/8 and ::1.
bool is_loopback_host(std::string_view host);

}  // namespace instasent::detail
