// SPDX-License-Identifier: Apache-2.0
#include "proxy.hpp"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <optional>

#include "instasent/error.hpp"
#include "strings.hpp"
#include "url.hpp"

namespace instasent::detail {

namespace {

constexpr std::string_view kSchemes[] = {"http", "https", "socks4", "socks4a", "socks5", "socks5h"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& ch : out) ch = ascii_lower(ch);
  return out;
}

// A variable of the environment, and how a message names it.
struct Setting {
  std::string value;
  std::string field;
};

// The first of `names` set to something, as libcurl would pick it.
std::optional<Setting> first_set(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      return Setting{value, std::string(name) + " (environment)"};
    }
  }
  return std::nullopt;
}

// The host of a request URL (checked when the client was made), without brackets or port.
std::string_view host_of(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (!rest.empty() && rest.front() == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

bool is_plain_http(std::string_view url) { return iequals(url.substr(0, 7), "http://"); }

}  // namespace

ProxyRoute::ProxyRoute(const ProxyOptions& options) {
  Setting proxy{options.url, "curl.proxy.url"};
  std::string no_proxy = options.no_proxy;
  if (proxy.value.empty()) {
    if (!options.from_environment) return;
    const std::optional<Setting> from_environment =
        first_set({"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
    if (!from_environment) return;
    proxy = *from_environment;
    const std::optional<Setting> bypass = first_set({"no_proxy", "NO_PROXY"});
    no_proxy = bypass ? bypass->value : "";
  }
  const char* field = proxy.field.c_str();
  for (const char ch : proxy.value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      throw InvalidInputError(field, "must not contain spaces, control or non-ASCII characters");
    }
  }
  std::string_view rest = proxy.value;
  std::string scheme = "http";
  if (const std::size_t end = rest.find("://"); end != std::string_view::npos) {
    scheme = lower(rest.substr(0, end));
    if (std::find(std::begin(kSchemes), std::end(kSchemes), scheme) == std::end(kSchemes)) {
      throw InvalidInputError(field, "must use http, https, socks4, socks4a, socks5 or socks5h");
    }
    rest.remove_prefix(end + 3);
  }
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);  // the credentials: for libcurl only
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    throw InvalidInputError(field,
                            "must be a proxy's address, [scheme://][user:password@]host[:port], "
                            "without a path");
  }
  check_authority(rest, field);
  url_ = proxy.value.find("://") == std::string::npos ? "http://" + proxy.value : proxy.value;
  shown_ = scheme + "://" + std::string(rest);

  for (std::size_t start = 0; start <= no_proxy.size();) {
    std::size_t comma = no_proxy.find(',', start);
    if (comma == std::string::npos) comma = no_proxy.size();
    std::string_view entry = trim(std::string_view(no_proxy).substr(start, comma - start));
    if (!entry.empty() && entry.front() == '.') entry.remove_prefix(1);
    if (entry.size() >= 2 && entry.front() == '[' && entry.back() == ']') {
      entry = entry.substr(1, entry.size() - 2);
    }
    if (!entry.empty()) no_proxy_.push_back(lower(entry));
    start = comma + 1;
  }
}

const std::string* ProxyRoute::proxy_for(std::string_view url) const {
  if (url_.empty() || is_plain_http(url)) return nullptr;
  return bypassed(lower(host_of(url))) ? nullptr : &url_;
}

bool ProxyRoute::bypassed(std::string_view host) const {
  for (const std::string& entry : no_proxy_) {
    if (entry == "*" || host == entry) return true;
    if (host.size() > entry.size() &&
        host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
        host[host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

}  // namespace instasent::detail
