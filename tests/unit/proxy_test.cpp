// SPDX-License-Identifier: Apache-2.0
// proxy.hpp: which requests go through which proxy: https only, an explicit proxy in place of the
// environment's, the no-proxy list, and a message that shows the proxy without its credentials.
#include "proxy.hpp"

#include <gtest/gtest.h>

#include <string>

#include "instasent/error.hpp"
#include "support/scoped_env.hpp"

namespace instasent {
namespace {

using detail::ProxyRoute;
using testing::ScopedEnv;

constexpr const char* kApi = "https://api.instasent.com/v1/project/p/datasource/d/stream";

ProxyOptions explicit_proxy(const std::string& url, const std::string& no_proxy = "") {
  ProxyOptions options;
  options.url = url;
  options.no_proxy = no_proxy;
  return options;
}

// Whether a request to `url` goes through the route's proxy.
bool proxied(const ProxyRoute& route, const std::string& url) {
  return route.proxy_for(url) != nullptr;
}

TEST(ProxyRoute, AnExplicitProxyCarriesHttpsOnlyAndShowsNoCredentials) {
  const ProxyRoute route(explicit_proxy("http://user:hunter2@proxy.example:3128"));
  ASSERT_TRUE(proxied(route, kApi));
  EXPECT_EQ(*route.proxy_for(kApi), "http://user:hunter2@proxy.example:3128");
  EXPECT_EQ(route.shown(), "http://proxy.example:3128");
  EXPECT_FALSE(proxied(route, "http://127.0.0.1:8080/v1/x"));
  EXPECT_FALSE(proxied(route, "HTTP://api.example.com/v1/x"));
}

TEST(ProxyRoute, TheSchemeDefaultsToHttpAndOthersAreKept) {
  const ProxyRoute bare(explicit_proxy("proxy.example:3128/"));
  EXPECT_EQ(*bare.proxy_for(kApi), "http://proxy.example:3128/");
  EXPECT_EQ(bare.shown(), "http://proxy.example:3128");
  EXPECT_EQ(ProxyRoute(explicit_proxy("SOCKS5H://[::1]:1080")).shown(), "socks5h://[::1]:1080");
  EXPECT_EQ(ProxyRoute(explicit_proxy("https://proxy")).shown(), "https://proxy");
}

TEST(ProxyRoute, TheNoProxyListMatchesHostsTheirSubdomainsAndAddresses) {
  const ProxyRoute route(
      explicit_proxy("proxy:3128", " .internal.example, 10.0.0.1 ,[::1],API.Other.org,,"));
  EXPECT_FALSE(proxied(route, "https://internal.example/v1"));
  EXPECT_FALSE(proxied(route, "https://a.b.INTERNAL.example:8443/v1"));
  EXPECT_FALSE(proxied(route, "https://10.0.0.1/v1"));
  EXPECT_FALSE(proxied(route, "https://[::1]:8443/v1"));
  EXPECT_FALSE(proxied(route, "https://api.other.org/v1"));
  EXPECT_TRUE(proxied(route, "https://notinternal.example/v1"));
  EXPECT_TRUE(proxied(route, "https://10.0.0.10/v1"));
  EXPECT_TRUE(proxied(route, "https://other.org/v1"));
  EXPECT_TRUE(proxied(route, kApi));
  EXPECT_FALSE(proxied(ProxyRoute(explicit_proxy("proxy:3128", "*")), kApi));
}

TEST(ProxyRoute, UrlsThatAreNotAProxysAreRefusedWithoutTheirValue) {
  for (const char* url :
       {"ftp://u:hunter2@proxy:21", "http://u:hunter2@proxy:3128/path", "http://u:hunter2@proxy:0",
        "http://u:hunter2@proxy:65536", "http://u:hunter2@", "http://u:hunter2@a..b",
        "http://u:hunter2@proxy:3128?x", "http://u:hunter2@proxy#x", "http://u:hunter2 @proxy",
        "http://u:hunter2@[::1", "http://u:hunter2@pr\xC3\xB6xy"}) {
    try {
      ProxyRoute route(explicit_proxy(url));
      ADD_FAILURE() << url << " was accepted";
    } catch (const InvalidInputError& e) {
      EXPECT_EQ(e.field(), "curl.proxy.url") << url;
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
  }
}

class EnvironmentProxy : public ::testing::Test {
 protected:
  // None of the variables the route reads is set unless a test sets it.
  ScopedEnv https_{"https_proxy"}, https_upper_{"HTTPS_PROXY"}, all_{"all_proxy"},
      all_upper_{"ALL_PROXY"}, no_{"no_proxy"}, no_upper_{"NO_PROXY"}, http_{"http_proxy"};
};

TEST_F(EnvironmentProxy, NoneSetIsNoProxy) {
  const ScopedEnv http("http_proxy", "http://ignored:1");  // plain http never goes through one
  EXPECT_FALSE(proxied(ProxyRoute(ProxyOptions{}), kApi));
}

TEST_F(EnvironmentProxy, TheFirstVariableSetApplies) {
  {
    const ScopedEnv all("ALL_PROXY", "http://all:1");
    EXPECT_EQ(*ProxyRoute(ProxyOptions{}).proxy_for(kApi), "http://all:1");
    const ScopedEnv https("HTTPS_PROXY", "http://upper:1");
    EXPECT_EQ(*ProxyRoute(ProxyOptions{}).proxy_for(kApi), "http://upper:1");
    const ScopedEnv lower("https_proxy", "http://lower:1");
    EXPECT_EQ(*ProxyRoute(ProxyOptions{}).proxy_for(kApi), "http://lower:1");
    const ScopedEnv empty("https_proxy", "");  // empty is unset
    EXPECT_EQ(*ProxyRoute(ProxyOptions{}).proxy_for(kApi), "http://upper:1");
  }
  const ScopedEnv https("https_proxy", "http://env:1");
  const ScopedEnv bypass("NO_PROXY", "api.instasent.com");
  EXPECT_FALSE(proxied(ProxyRoute(ProxyOptions{}), kApi));
  EXPECT_TRUE(proxied(ProxyRoute(ProxyOptions{}), "https://other.example/v1"));
}

TEST_F(EnvironmentProxy, AnExplicitProxyOrTurningItOffIgnoresTheEnvironment) {
  const ScopedEnv https("https_proxy", "http://env:1");
  const ScopedEnv bypass("no_proxy", "*");
  EXPECT_EQ(*ProxyRoute(explicit_proxy("http://mine:2")).proxy_for(kApi), "http://mine:2");
  ProxyOptions off;
  off.from_environment = false;
  EXPECT_FALSE(proxied(ProxyRoute(off), kApi));
}

TEST_F(EnvironmentProxy, ABadValueNamesTheVariable) {
  const ScopedEnv https("HTTPS_PROXY", "http://u:hunter2@proxy:port");
  try {
    ProxyRoute route{ProxyOptions{}};
    ADD_FAILURE() << "accepted";
  } catch (const InvalidInputError& e) {
    EXPECT_EQ(e.field(), "HTTPS_PROXY (environment)");
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace instasent
