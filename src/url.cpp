// SPDX-License-Identifier: Apache-2.0
#include "url.hpp"

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
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) throw InvalidInputError(field, "has no host");
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
