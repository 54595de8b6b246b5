// SPDX-License-Identifier: Apache-2.0
// Base URLs and ids as path segments: an accepted base URL is clean; an id accepted as a segment
// encodes to exactly one segment that no HTTP stack resolves away. Proxy URLs: one accepted is
// shown without its credentials and never carries plain http; one refused is not quoted.
#include <string>

#include "fuzz_support.hpp"
#include "ids.hpp"
#include "instasent/error.hpp"
#include "proxy.hpp"
#include "url.hpp"

using namespace instasent;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  try {
    const std::string base = detail::normalize_base_url(text, (data[0] & 1) != 0, "base URL");
    require(base.find("://") != std::string::npos, "a scheme");
    require(fuzz::printable(base) && base.find(' ') == std::string::npos, "no blanks");
    const std::string path = base.substr(base.find('/', base.find("://") + 3) == std::string::npos
                                             ? base.size()
                                             : base.find('/', base.find("://") + 3));
    require((path + "/").find("/../") == std::string::npos &&
                (path + "/").find("/./") == std::string::npos,
            "no dot segments");
    require(base.empty() || base.back() != '/', "no trailing slash");
  } catch (const InvalidInputError& error) {
    require(error.field() == "base URL", "the field is named");
  }
  const std::string encoded = detail::encode_path_segment(text);
  require(encoded.find('/') == std::string::npos, "one segment");
  for (const char c : encoded) {
    require((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '%',
            "only unreserved characters and escapes");
  }
  if (!detail::path_segment_problem(text)) {
    require(encoded != "." && encoded != ".." && !encoded.empty(), "never a dot segment");
  }

  ProxyOptions proxy;
  proxy.url = std::string(text);
  proxy.no_proxy = "internal.example";
  proxy.from_environment = false;  // an empty URL is then no proxy at all
  try {
    const detail::ProxyRoute route(proxy);
    require(route.shown().find('@') == std::string::npos, "no credentials shown");
    require(fuzz::printable(route.shown()), "a printable proxy");
    require(route.proxy_for("http://api.example/v1") == nullptr, "plain http goes direct");
    require(route.proxy_for("https://internal.example/v1") == nullptr, "no_proxy goes direct");
    require(text.empty() == (route.proxy_for("https://api.example/v1") == nullptr),
            "https goes through it");
  } catch (const InvalidInputError& error) {
    require(error.field() == "curl.proxy.url", "the proxy's field is named");
    // One of the fixed problems, so that nothing of the URL (its credentials) is quoted.
    static const char* const problems[] = {
        "must not contain spaces, control or non-ASCII characters",
        "must use http, https, socks4, socks4a, socks5 or socks5h",
        "must be a proxy's address, [scheme://][user:password@]host[:port], without a path",
        "has an unclosed '['",
        "has text after the IPv6 address",
        "has no host",
        "has a port that is not a number from 1 to 65535",
        "has a host name a host cannot have"};
    bool known = false;
    for (const char* problem : problems) {
      known = known || std::string(error.what()) ==
                           std::string("instasent: invalid input: curl.proxy.url ") + problem;
    }
    require(known, "the message is a fixed one: the proxy URL is not quoted");
  }
  return 0;
}
