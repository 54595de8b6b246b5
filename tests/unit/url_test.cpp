// SPDX-License-Identifier: Apache-2.0
// url.hpp: path segments are percent-encoded; base URLs are normalized, and refused when insecure
// or malformed.
#include <gtest/gtest.h>

#include "ids.hpp"
#include "instasent/error.hpp"
#include "instasent/limits.hpp"
#include "url.hpp"

namespace instasent {
namespace {

TEST(PathSegment, EncodesEverythingButUnreserved) {
  EXPECT_EQ(detail::encode_path_segment("USER-1_a.b~c"), "USER-1_a.b~c");
  EXPECT_EQ(detail::encode_path_segment("a/b"), "a%2Fb");
  EXPECT_EQ(detail::encode_path_segment("with space"), "with%20space");
  EXPECT_EQ(detail::encode_path_segment("q?x#y"), "q%3Fx%23y");
  EXPECT_EQ(detail::encode_path_segment("%"), "%25");
  EXPECT_EQ(detail::encode_path_segment("\xC3\xB1"
                                        "and"
                                        "\xC3\xBA"),
            "%C3%B1and%C3%BA");
  EXPECT_EQ(detail::encode_path_segment(".."), "..");
}

// An id is at most kMaxIdBytes: exactly that many is fine, one more is refused. As a path segment
// it may not be "." or "..", which would address another resource.
TEST(Ids, AreAtMostTheLimitAndNeverADotSegment) {
  EXPECT_FALSE(detail::id_problem(std::string(kMaxIdBytes, 'a')));
  EXPECT_TRUE(detail::id_problem(std::string(kMaxIdBytes + 1, 'a')));
  EXPECT_FALSE(detail::path_segment_problem(std::string(kMaxIdBytes, 'a')));
  EXPECT_TRUE(detail::path_segment_problem(std::string(kMaxIdBytes + 1, 'a')));
  EXPECT_TRUE(detail::path_segment_problem("."));
  EXPECT_TRUE(detail::path_segment_problem(".."));
  EXPECT_FALSE(detail::path_segment_problem("..."));
  EXPECT_FALSE(detail::id_problem(".."));  // in a body, ".." is just an id
}

TEST(BaseUrl, AcceptsHttpsAndLoopbackHttp) {
  EXPECT_EQ(detail::normalize_base_url("https://api.instasent.com/v1/", false, "u"),
            "https://api.instasent.com/v1");
  EXPECT_EQ(detail::normalize_base_url("http://127.0.0.1:8080/v1", false, "u"),
            "http://127.0.0.1:8080/v1");
  EXPECT_NO_THROW(detail::normalize_base_url("http://localhost/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://[::1]:9/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://127.9.9.9/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://example.com/v1", true, "u"));
  EXPECT_EQ(detail::normalize_base_url("http://127.255.0.1/v1", false, "u"),
            "http://127.255.0.1/v1");
}

// Paths are joined to the base URL with one slash: every trailing slash goes.
TEST(BaseUrl, DropsEveryTrailingSlash) {
  EXPECT_EQ(detail::normalize_base_url("https://api.instasent.com/v1//", false, "u"),
            "https://api.instasent.com/v1");
  EXPECT_EQ(detail::normalize_base_url("https://api.instasent.com///", false, "u"),
            "https://api.instasent.com");
}

TEST(BaseUrl, RefusesInsecureOrMalformed) {
  for (const char* url :
       {"http://example.com/v1", "http://127.0.0.1.evil.com/v1", "http://128.0.0.1/v1",
        "ftp://example.com", "example.com/v1", "https://user:pw@example.com/v1",
        "https://example.com/v1?x=1", "https://exa mple.com", "https:///v1", "file:///etc",
        // Not loopback addresses, so plain http is refused: a part over 255, three parts.
        "http://127.0.0.256/v1", "http://127.256.0.1/v1", "http://127.0.1/v1", "http://127.1/v1",
        "http://127.0.0.1.5/v1",
        // Port 0, an empty label in a host name, a path that climbs out of its base.
        "http://127.0.0.1:0/v1", "https://api..instasent.com/v1", "https://api.instasent.com/../v1",
        "https://api.instasent.com/v1/.."}) {
    EXPECT_THROW(detail::normalize_base_url(url, false, "base URL"), InvalidInputError) << url;
  }
}

}  // namespace
}  // namespace instasent
