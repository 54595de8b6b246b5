// SPDX-License-Identifier: Apache-2.0
// The 202/422 readers in both shapes, and error bodies: the fast reader of plain answers must
// agree with the full reader wherever it answers; every item keeps its index and id; what is kept
// of the server's text is bounded and printable, the token masked.
#include <string>
#include <vector>

#include "batch_reader.hpp"
#include "fuzz_support.hpp"
#include "instasent/batch_result.hpp"
#include "instasent/limits.hpp"
#include "outcome.hpp"

using namespace instasent;
using fuzz::require;

namespace {

constexpr const char* kToken = "FUZZ-TOKEN-123";

void check_items(const std::vector<ItemResult>& items, const std::vector<std::string>& ids) {
  require(items.size() == ids.size(), "one result per input item");
  for (std::size_t i = 0; i < items.size(); ++i) {
    require(items[i].index == 7 + i && items[i].id == ids[i], "index and id of the input");
    require(items[i].status != ItemStatus::not_sent, "a read answer never says not_sent");
    require(items[i].errors.size() <= kMaxErrorFields + 1, "bounded error fields");
    for (const auto& [field, messages] : items[i].errors) {
      require(field.size() <= kMaxErrorFieldBytes + 3 && fuzz::printable(field), "field name");
      require(messages.size() <= kMaxMessagesPerField + 1, "bounded messages");
      for (const auto& message : messages) {
        require(message.size() <= kMaxErrorMessageBytes + 3 && fuzz::printable(message),
                "message kept printable and bounded");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte: how many items were sent (1-8) and their kind; the rest: the answer.
  const std::size_t count = 1 + data[0] % 8;
  const detail::BatchKind kind =
      (data[0] & 0x80) != 0 ? detail::BatchKind::events : detail::BatchKind::contacts;
  const std::string body(fuzz::text_of(data + 1, size - 1));
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < count; ++i)
    ids.push_back((i % 2 == 0 ? "U" : "E") + std::to_string(i));
  const std::vector<std::string_view> views(ids.begin(), ids.end());

  std::vector<ItemResult> fast;
  const bool plain = detail::read_plain_documented_answer(body, kind, views, 7, fast);
  const std::vector<ItemResult> full =
      detail::parse_batch_items(detail::parse_body(body), kind, ids, 7);
  check_items(full, ids);
  if (plain) {
    check_items(fast, ids);
    for (std::size_t i = 0; i < full.size(); ++i) {
      require(fast[i].status == full[i].status && fast[i].errors == full[i].errors,
              "the fast reader agrees with the full reader");
    }
  } else {
    require(fast.empty(), "the fast reader appends nothing when it declines");
  }

  // The same bytes as an error answer, and as a request id.
  HttpResponse response;
  response.status = 400;
  response.body = body;
  response.headers.add("X-Request-Id", std::string(kToken) + body.substr(0, 300));
  detail::sanitize_answer(response, kToken);
  const std::string id = response.headers.get("X-Request-Id").value_or("");
  require(id.size() <= detail::kMaxRequestIdBytes + 3 && fuzz::printable(id), "request id");
  require(id.find(kToken) == std::string::npos, "request id masked");
  const std::string message = detail::server_message(response, kToken);
  require(message.size() <= 303 && fuzz::printable(message), "server message");
  require(message.find(kToken) == std::string::npos, "server message masked");
  return 0;
}
