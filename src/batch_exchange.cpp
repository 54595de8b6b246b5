// SPDX-License-Identifier: Apache-2.0
#include "batch_exchange.hpp"

#include "batch_reader.hpp"
#include "retry_logic.hpp"
#include "url.hpp"

namespace instasent::detail {

namespace {

HttpRequest build_request(const ClientCore& client, const Batch& batch, bool dry_run) {
  if (batch.op == Operation::delete_contact) {
    return client.make_request(
        "DELETE", "/stream/contacts/" + encode_path_segment(batch.items.front().user_id), {});
  }
  std::string body = "[";
  for (const QueuedItem& item : batch.items) {
    if (body.size() > 1) body.push_back(',');
    body.append(item.json);
  }
  body.push_back(']');
  std::string path = batch.op == Operation::record_event ? "/stream/events" : "/stream/contacts";
  if (dry_run) path += "?_dryRun";
  return client.make_request("POST", path, std::move(body));
}

std::string refusal(const ClientCore& client, const HttpResponse& response) {
  std::string message = "request refused with HTTP " + std::to_string(response.status);
  const std::string server = server_message(response, client.token());
  if (!server.empty()) message += ": " + server;
  return message;
}

void reject_all(const ClientCore& client, const HttpResponse& response,
                std::vector<Verdict>& verdicts) {
  const std::string message = refusal(client, response);
  for (Verdict& verdict : verdicts) {
    verdict.kind = Verdict::rejected;
    verdict.errors[""].push_back(message);
  }
}

// The verdicts of a 2xx or 422 answer to a batch of upserts or events; an item the answer does
// not settle stays `retry`.
void read_verdicts(const ClientCore& client, const Batch& batch, const HttpResponse& response,
                   std::vector<Verdict>& verdicts) {
  const BatchKind kind =
      batch.op == Operation::record_event ? BatchKind::events : BatchKind::contacts;
  std::vector<std::string_view> ids;
  ids.reserve(batch.items.size());
  for (const QueuedItem& item : batch.items) {
    ids.emplace_back(kind == BatchKind::events ? item.event_id : item.user_id);
  }
  // The usual answer, every item a success, read for its statuses alone.
  std::vector<ItemStatus> statuses;
  if (read_plain_statuses(response.body, kind, ids, statuses)) {
    for (std::size_t i = 0; i < statuses.size() && i < verdicts.size(); ++i) {
      if (statuses[i] == ItemStatus::accepted) verdicts[i].kind = Verdict::delivered;
    }
    return;
  }
  std::vector<ItemResult> results;
  results.reserve(ids.size());
  client.read_answer(response.body, kind, ids, 0, results);
  for (std::size_t i = 0; i < results.size() && i < verdicts.size(); ++i) {
    if (results[i].status == ItemStatus::accepted) {
      verdicts[i].kind = Verdict::delivered;
    } else if (results[i].status == ItemStatus::rejected) {
      verdicts[i].kind = Verdict::rejected;
      verdicts[i].errors = std::move(results[i].errors);
    }
  }
}

BatchReply exchange(ClientCore& client, const Batch& batch, bool dry_run) {
  BatchReply result;
  result.verdicts.assign(batch.items.size(), Verdict{});
  const HttpRequest request = build_request(client, batch, dry_run);
  result.body_bytes = request.body.size();
  const Exchange sent =
      client.send_once(request, {to_string(batch.op), batch.attempt(), batch.items.size()});
  if (!sent.response) {
    const TransportError& error = *sent.transport_error;
    if (error.retryable()) {
      result.request_failed = true;  // connection failure or timeout: resend (idempotent)
      return result;
    }
    for (Verdict& verdict : result.verdicts) {
      verdict.kind = Verdict::unrecoverable;
      verdict.message = error.what();
    }
    return result;
  }
  const HttpResponse& response = *sent.response;
  const int status = response.status;
  for (Verdict& verdict : result.verdicts) verdict.http_status = status;
  result.allowance = rate_limit_allowance(response.headers, client.clock()->system_now());
  if (status == 429) {
    // The server's time when it gave one; otherwise the usual backoff (never a tight loop).
    result.pause = rate_limit_delay(response.headers, client.clock()->system_now())
                       .value_or(std::chrono::milliseconds(0));
    result.request_failed = true;
  } else if (is_retryable_status(status)) {
    result.request_failed = true;
  } else if (status == 401 || (status == 404 && batch.op != Operation::delete_contact)) {
    // The credentials, or the project or datasource: every later request would be refused too.
    result.refused_status = status;
    const std::string message = refusal(client, response);
    for (Verdict& verdict : result.verdicts) {
      verdict.kind = Verdict::refused;
      verdict.message = message;
    }
  } else if (batch.op == Operation::delete_contact) {
    if (is_success(status)) {
      result.verdicts.front().kind = Verdict::delivered;
    } else {
      reject_all(client, response, result.verdicts);
    }
  } else if ((status == 400 || status == 413) && batch.items.size() > 1) {
    // Refused as a whole, perhaps for one item (too large, too deep for the server): split the
    // batch until the culprit is alone, so that it cannot sink the others.
    for (Verdict& verdict : result.verdicts) verdict.kind = Verdict::split;
  } else if (!is_success(status) && status != 422) {
    reject_all(client, response, result.verdicts);
  } else {
    read_verdicts(client, batch, response, result.verdicts);
  }
  return result;
}

}  // namespace

BatchReply exchange_batch(ClientCore& client, const Batch& batch, bool dry_run) noexcept {
  try {
    return exchange(client, batch, dry_run);
  } catch (const std::exception&) {
    BatchReply failed;
    failed.verdicts.assign(batch.items.size(), Verdict{});
    failed.request_failed = true;
    return failed;
  }
}

}  // namespace instasent::detail
