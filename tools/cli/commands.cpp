// SPDX-License-Identifier: Apache-2.0
#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

#include "connection.hpp"
#include "exit_codes.hpp"
#include "ids.hpp"  // the SDK's rule for ids in a path
#include "instasent/client.hpp"
#include "instasent/error.hpp"
#include "instasent/limits.hpp"
#include "line_source.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

void print_json(const json& value, const std::string& token) {
  const std::string text =
      mask_token(value.dump(2, ' ', false, json::error_handler_t::replace), token) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The SDK's message (operation, status, request id; never the token) and the server's own
// words, which the SDK has already masked.
int report(const Error& error, const std::string& token) {
  std::string text = error.what();
  if (text.rfind("instasent: ", 0) != 0) text = "instasent: " + text;
  if (!error.server_message().empty()) {
    text += ": " + mask_token(printable(error.server_message(), 300), token);
  }
  std::fprintf(stderr, "%s\n", text.c_str());
  return exit_code_for(error.kind());
}

// Runs one call with a client for `options`, mapping SDK errors to exit codes.
int with_client(const ClientOptions& options, const std::function<void(const Client&)>& call) {
  const Client client = make_client(options);  // UsageError: the caller exits with 2
  try {
    call(client);
    return exit_code::ok;
  } catch (const Error& error) {
    return report(error, options.token);
  }
}

std::string ids_from_name(const std::string& path) {
  return path == "-" ? "standard input" : display_path(path);
}

// Appends the ids of `path`: one per line, without the line's end; blank lines are skipped.
void read_ids(const std::string& path, std::vector<std::string>& ids) {
  try {
    // A line longer than an id can be is refused whole, so it is never held in full.
    LineSource source(path, kMaxIdBytes);
    std::string line;
    for (;;) {
      switch (source.next(line)) {
        case LineSource::Status::end:
          return;
        case LineSource::Status::too_long:
          throw UsageError("line " + std::to_string(source.line_number()) + " of " +
                           ids_from_name(path) + ": a user id is at most " +
                           std::to_string(kMaxIdBytes) + " bytes; nothing was deleted");
        case LineSource::Status::line:
          if (!line.empty()) ids.push_back(line);
          break;
      }
    }
  } catch (const InputError& error) {
    throw UsageError(ids_from_name(path) + ": " + error.what() + "; nothing was deleted");
  }
}

}  // namespace

std::string mask_token(std::string text, const std::string& token) {
  if (token.empty()) return text;
  std::string escaped = json(token).dump();  // quoted and escaped as it would appear in JSON
  escaped = escaped.substr(1, escaped.size() - 2);
  for (const std::string& form : {token, escaped}) {
    for (auto at = text.find(form); at != std::string::npos; at = text.find(form, at + 3)) {
      text.replace(at, form.size(), "***");
    }
  }
  return text;
}

int run_stream(const ClientOptions& options) {
  return with_client(
      options, [&](const Client& client) { print_json(client.stream_info().raw, options.token); });
}

int run_get(const ClientOptions& options, const std::string& user_id) {
  return with_client(options, [&](const Client& client) {
    print_json(client.get_contact(user_id).raw, options.token);
  });
}

int run_delete(const ClientOptions& options, std::vector<std::string> user_ids,
               const std::string& ids_from) {
  // Every id is checked before the first is deleted: a mistyped list deletes nothing, rather
  // than the ids before the mistake.
  const std::size_t given = user_ids.size();
  if (!ids_from.empty()) read_ids(ids_from, user_ids);
  if (user_ids.empty()) {
    throw UsageError("no user id to delete: give them as arguments or with --ids-from FILE");
  }
  for (std::size_t i = 0; i < user_ids.size(); ++i) {
    if (const auto problem = detail::path_segment_problem(user_ids[i])) {
      const std::string where = i < given ? ""
                                          : " (" + ids_from_name(ids_from) + ", id " +
                                                std::to_string(i - given + 1) + ")";
      throw UsageError("user id '" + printable(user_ids[i], 200) + "'" + where + " " + *problem +
                       "; nothing was deleted");
    }
  }
  const Client client = make_client(options);
  int worst = exit_code::ok;
  for (const std::string& user_id : user_ids) {
    try {
      client.delete_contact(user_id);
      std::printf("deleted %s\n", printable(user_id, 200).c_str());
      std::fflush(stdout);
    } catch (const Error& error) {
      const int code = report(error, options.token);
      worst = std::max(worst, code);
      // A missing contact concerns that id only; anything else (credentials, the server, the
      // network, an invalid id) would fail the next ones too, or is the caller's to fix first.
      if (error.kind() != ErrorKind::not_found) return code;
    }
  }
  return worst;
}

int run_specs(const ClientOptions& options, SpecsKind kind, const std::string& event_type) {
  return with_client(options, [&](const Client& client) {
    json specs = json::array();
    switch (kind) {
      case SpecsKind::attributes:
        for (const auto& spec : client.attribute_specs()) specs.push_back(spec.raw);
        break;
      case SpecsKind::events:
        for (const auto& spec : client.event_specs()) specs.push_back(spec.raw);
        break;
      case SpecsKind::event_parameters:
        for (const auto& spec : client.event_parameter_specs(event_type)) specs.push_back(spec.raw);
        break;
    }
    print_json(specs, options.token);
  });
}

}  // namespace instasent::cli
