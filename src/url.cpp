// SPDX-License-Identifier: Apache-2.0
#include "url.hpp"

#include <optional>

#include "instasent/error.hpp"
#include "strings.hpp"

namespace instasent::detail {

namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_ipv4_loopback(std::string_view host) {
  // 127.x.y.z with four decimal parts of at most 255.
  int parts = 0;
  std::size_t start = 0;
  while (start <= host.size()) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const auto value = parse_non_negative(part);
    if (!value || *value > 255 || part.size() > 3) return false;
    if (parts == 0 && *value != 127) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

}  // namespace

std::string encode_path_segment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size() * 3);
  for (const char ch : segment) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  return iequals(host, "localhost") || host == "[::1]" || host == "::1" || is_ipv4_loopback(host);
}

HostPort check_authority(std::string_view authority, const char* field) {
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) throw InvalidInputError(field, "has an unclosed '['");
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      throw InvalidInputError(field, "has text after the IPv6 address");
    }
    if (!after.empty()) port = after.substr(1);
  } else if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw InvalidInputError(field, "has no host");
  if (port) {
    const auto number = parse_non_negative(*port);
    if (!number || port->size() > 5 || *number < 1 || *number > 65535) {
      throw InvalidInputError(field, "has a port that is not a number from 1 to 65535");
    }
  }
  if (host.front() != '[' &&
      (host.find_first_not_of(
           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
           std::string_view::npos ||
       host.front() == '.' || host.front() == '-' || host.find("..") != std::string_view::npos)) {
    throw InvalidInputError(field, "has a host name a host cannot have");
  }
  return {host, port};
}

std::string normalize_base_url(std::string_view url, bool allow_insecure_http, const char* field) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    throw InvalidInputError(field, "must start with https:// (or http:// for a loopback host)");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  const bool https = iequals(scheme, "https");
  if (!https && !iequals(scheme, "http")) {
    throw InvalidInputError(field, "must use https (or http for a loopback host)");
  }
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F)
      throw InvalidInputError(field, "must not contain spaces, control or non-ASCII characters");
  }
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find_first_of("@?#") != std::string_view::npos ||
      rest.find_first_of("?#") != std::string_view::npos) {
    throw InvalidInputError(field, "must not contain user info, a query or a fragment");
  }
  const std::string_view host = check_authority(authority, field).host;
  // Dot segments would be resolved away by the HTTP stack and address another path.
  const std::string_view path = rest.substr(authority.size());
  for (std::size_t start = 0; start < path.size();) {
    const std::size_t slash = path.find('/', start + 1);
    const std::string_view segment =
        path.substr(start + 1, (slash == std::string_view::npos ? path.size() : slash) - start - 1);
    if (segment == "." || segment == ".." || segment.find('%') != std::string_view::npos) {
      throw InvalidInputError(field, "has a path with \".\", \"..\" or '%' in it");
    }
    if (slash == std::string_view::npos) break;
    start = slash;
  }
  if (!https && !allow_insecure_http && !is_loopback_host(host)) {
    throw InvalidInputError(field,
                            "uses plain http to a host that is not loopback; use https, or set "
                            "allow_insecure_http");
  }
  std::string normalized(url);
  while (!normalized.empty() && normalized.back() == '/') normalized.pop_back();
  return normalized;
}

}  // namespace instasent::detail
