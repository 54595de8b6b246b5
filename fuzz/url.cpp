// SPDX-License-Identifier: Apache-2.0
// Base URLs and ids as path segments: an accepted base URL is clean; an id accepted as a segment
// encodes to exactly one segment that no HTTP stack resolves away.
#include <string>

#include "fuzz_support.hpp"
#include "ids.hpp"
#include "instasent/error.hpp"
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
  return 0;
}
