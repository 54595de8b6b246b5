// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "instasent/client.hpp"
#include "instasent/contact.hpp"
#include "instasent/error.hpp"
#include "instasent/event.hpp"
#include "instasent/http.hpp"
#include "json_text.hpp"
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

TEST(BaseUrl, AcceptsHttpsAndLoopbackHttp) {
  EXPECT_EQ(detail::normalize_base_url("https://api.instasent.com/v1/", false, "u"),
            "https://api.instasent.com/v1");
  EXPECT_EQ(detail::normalize_base_url("http://127.0.0.1:8080/v1", false, "u"),
            "http://127.0.0.1:8080/v1");
  EXPECT_NO_THROW(detail::normalize_base_url("http://localhost/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://[::1]:9/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://127.9.9.9/v1", false, "u"));
  EXPECT_NO_THROW(detail::normalize_base_url("http://example.com/v1", true, "u"));
}

TEST(BaseUrl, RefusesInsecureOrMalformed) {
  for (const char* url :
       {"http://example.com/v1", "http://127.0.0.1.evil.com/v1", "http://128.0.0.1/v1",
        "ftp://example.com", "example.com/v1", "https://user:pw@example.com/v1",
        "https://example.com/v1?x=1", "https://exa mple.com", "https:///v1", "file:///etc"}) {
    EXPECT_THROW(detail::normalize_base_url(url, false, "base URL"), InvalidInputError) << url;
  }
}

TEST(Utf8, ValidatesStrictly) {
  EXPECT_TRUE(detail::is_valid_utf8(""));
  EXPECT_TRUE(detail::is_valid_utf8("plain"));
  EXPECT_TRUE(detail::is_valid_utf8("\xC3\xB1 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xC3"));
  EXPECT_FALSE(detail::is_valid_utf8("\xC0\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(detail::is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(detail::is_valid_utf8("\x80"));
}

TEST(PrintableName, EscapesUnsafeTextAndCuts) {
  EXPECT_EQ(detail::printable_name("plan"), "plan");
  EXPECT_EQ(detail::printable_name("a\nb\xC3"), "a\\x0Ab\\xC3");
  EXPECT_EQ(detail::printable_name(std::string(100, 'x')), std::string(64, 'x') + "...");
  EXPECT_EQ(detail::printable_name("\xC3\xB1"
                                   "and"
                                   "\xC3\xBA"),
            "\xC3\xB1"
            "and"
            "\xC3\xBA");
}

// What a hostile server could put in a request id or message to take over a terminal or forge a
// log line: each becomes a visible escape.
TEST(PrintableName, EscapesEveryTerminalControl) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x1B[2J", "\\x1B[2J"},                         // ESC: clear the screen
      {"\x1B]0;title\x07", "\\x1B]0;title\\x07"},      // OSC: set the title, BEL
      {"line\r\nFAKE: ok", "line\\x0D\\x0AFAKE: ok"},  // a forged log line
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"del\x7F", "del\\x7F"},
      {"\xC2\x9B"
       "31m",
       "\\u009B31m"},  // C1 CSI
      {"\xE2\x80\xAE"
       "txt.exe",
       "\\u202Etxt.exe"},                   // right-to-left override
      {"\xE2\x81\xA6x", "\\u2066x"},        // left-to-right isolate
      {"\xE2\x80\xA8", "\\u2028"},          // line separator
      {"\xFF\xFE", "\\xFF\\xFE"},           // not UTF-8
      {"\xED\xA0\x80", "\\xED\\xA0\\x80"},  // a surrogate
  };
  for (const auto& [raw, shown] : cases) EXPECT_EQ(detail::printable_name(raw), shown) << shown;
}

TEST(PrintableName, NeverCutsAnEscapeInTwo) {
  // 62 bytes, then an escape of 4 that does not fit in 64: cut before it.
  EXPECT_EQ(detail::printable_name(std::string(62, 'x') + "\n"), std::string(62, 'x') + "...");
  EXPECT_EQ(detail::printable_name(std::string(63, 'x') + "\xC3\xB1"),
            std::string(63, 'x') + "...");
}

TEST(JsonNesting, CountsBracketsOutsideStrings) {
  EXPECT_FALSE(detail::json_nested_deeper_than("", 0));
  EXPECT_FALSE(detail::json_nested_deeper_than("[[1]]", 2));
  EXPECT_TRUE(detail::json_nested_deeper_than("[[1]]", 1));
  EXPECT_FALSE(detail::json_nested_deeper_than(R"(["[[[[", "\"[[["])", 1));
  EXPECT_TRUE(detail::json_nested_deeper_than(std::string(200000, '['), 64));
  EXPECT_FALSE(detail::json_nested_deeper_than(std::string(64, '[') + std::string(64, ']'), 64));
  EXPECT_FALSE(detail::json_nested_deeper_than("]]]]][", 1));  // stray closers do not go negative
}

TEST(HeadersTest, LooksUpCaseInsensitively) {
  Headers headers;
  headers.add("X-Request-Id", "r1");
  headers.add("x-request-id", "r2");
  EXPECT_EQ(headers.get("x-REQUEST-id"), "r1");
  EXPECT_FALSE(headers.get("X-Request").has_value());
}

ClientOptions valid_options() {
  ClientOptions options;
  options.project = "proj";
  options.datasource = "ds";
  options.token = "token-123";
  return options;
}

TEST(ClientConfig, RefusesBadOptionsNamingThem) {
  const auto expect_refused = [](ClientOptions options, const std::string& field) {
    try {
      Client client(options);
      ADD_FAILURE() << "accepted options with a bad " << field;
    } catch (const InvalidInputError& error) {
      EXPECT_NE(error.field().find(field), std::string::npos) << error.field();
      EXPECT_EQ(std::string(error.what()).find(options.token.empty() ? "\x01" : options.token),
                std::string::npos);
    }
  };
  auto options = valid_options();
  options.project.clear();
  expect_refused(options, "project");
  options = valid_options();
  options.datasource.clear();
  expect_refused(options, "datasource");
  for (const char* token : {"", "abc\r\nX-Evil: 1", "tab\there", "sp ace", "nul\x01"}) {
    options = valid_options();
    options.token = token;
    expect_refused(options, "token");
  }
  options = valid_options();
  options.base_url = "http://api.example.com/v1";
  expect_refused(options, "base URL");
  options = valid_options();
  options.batch.max_items = 101;
  expect_refused(options, "batch.max_items");
}

TEST(ClientConfig, FromEnvReadsVariablesAndCodeWins) {
  setenv("INSTASENT_PROJECT", "env-proj", 1);
  setenv("INSTASENT_DATASOURCE", "env-ds", 1);
  setenv("INSTASENT_TOKEN", "env-token", 1);
  setenv("INSTASENT_BASE_URL", "http://127.0.0.1:1/v1", 1);
  auto options = ClientOptions::from_env();
  EXPECT_EQ(options.project, "env-proj");
  EXPECT_EQ(options.datasource, "env-ds");
  EXPECT_EQ(options.token, "env-token");
  EXPECT_EQ(options.base_url, "http://127.0.0.1:1/v1");
  unsetenv("INSTASENT_BASE_URL");
  setenv("INSTASENT_TOKEN", "", 1);  // empty counts as unset
  options = ClientOptions::from_env();
  EXPECT_EQ(options.base_url, kDefaultBaseUrl);
  EXPECT_TRUE(options.token.empty());
  unsetenv("INSTASENT_PROJECT");
  unsetenv("INSTASENT_DATASOURCE");
  unsetenv("INSTASENT_TOKEN");
  EXPECT_THROW(Client::from_env(), InvalidInputError);
}

TEST(ClientConfig, PathArgumentsMustBeNonEmptyUtf8) {
  auto client = Client(valid_options());
  EXPECT_THROW(client.delete_contact(""), InvalidInputError);
  EXPECT_THROW(client.get_contact("\xC3"), InvalidInputError);
  EXPECT_THROW(client.event_parameter_specs(""), InvalidInputError);
}

}  // namespace
}  // namespace instasent

namespace instasent {
namespace {

TEST(Members, ReplacesOnlyTopLevelKeys) {
  // "b" exists inside the object value of "a": setting "b" adds a member, it does not touch "a".
  Event event("U", "E", "t");
  event.parameter("a", Value::object({{"b", 1}, {"c", "x,\"b\":"}}));
  event.parameter("b", 2);
  event.parameter("a", "replaced");
  EXPECT_EQ(event.to_json(), R"({"_user_id":"U","_event_id":"E","_event_type":"t",)"
                             R"("_event_parameters":{"a":"replaced","b":2}})");
}

TEST(Members, ReplacesValuesOfEveryShapeInPlace) {
  Contact contact("U");
  contact.attribute("s", "a,\"b\\").attribute("n", -1.5).attribute("l", {"x", "]", 3});
  contact.attribute("t", true);
  contact.attribute("s", 1).attribute("n", "two").attribute("l", nullptr);
  EXPECT_EQ(contact.to_json(), R"({"_user_id":"U","s":1,"n":"two","l":null,"t":true})");
}

}  // namespace
}  // namespace instasent
