// SPDX-License-Identifier: Apache-2.0
// The single-call commands: stream, get, delete and specs. Each prints the server's JSON on
// stdout and returns the exit code.
#pragma once

#include <string>
#include <vector>

#include "instasent/options.hpp"

namespace instasent::cli {

/// `instasent stream`: GET /stream, the credential check, and the stream's metadata.
int run_stream(const ClientOptions& options);
/// `instasent get USER_ID`: the stored contact.
int run_get(const ClientOptions& options, const std::string& user_id);
/// `instasent delete USER_ID...`: deletes each; a missing contact does not stop the others. An id
/// that cannot be sent ("", ".", "..", ...) is a `UsageError` before anything is deleted.
/// Deletes `user_ids`, then the ids of `ids_from` (one per line, "-" for standard input, gzip
/// or not), after checking every one of them: one that cannot be sent deletes nothing.
int run_delete(const ClientOptions& options, std::vector<std::string> user_ids,
               const std::string& ids_from);

enum class SpecsKind { attributes, events, event_parameters };
/// `instasent specs attributes|events|event-parameters TYPE`.
int run_specs(const ClientOptions& options, SpecsKind kind, const std::string& event_type);

/// `text` with every occurrence of `token` (raw or JSON-escaped) replaced by "***": whatever the
/// server echoes, the token is not printed.
std::string mask_token(std::string text, const std::string& token);

}  // namespace instasent::cli
