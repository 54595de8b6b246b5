// SPDX-License-Identifier: Apache-2.0
// Where the tool's client settings come from: the INSTASENT_* environment variables, overridden
// by flags, with the token optionally read from a file so that it never appears in the process
// list.
#pragma once

#include <string>

#include "instasent/client.hpp"
#include "instasent/options.hpp"

namespace instasent::cli {

struct ConnectionFlags {
  std::string project;     ///< --project (INSTASENT_PROJECT)
  std::string datasource;  ///< --datasource (INSTASENT_DATASOURCE)
  std::string base_url;    ///< --base-url (INSTASENT_BASE_URL)
  std::string token_file;  ///< --token-file; otherwise INSTASENT_TOKEN
  int max_attempts = 0;    ///< --max-attempts; 0 keeps the SDK's default
  int verbose = 0;         ///< -v (info) or -vv (debug): the SDK's log on stderr
};

/// The token a token file holds: its one non-blank line, without surrounding blanks, a trailing CR
/// or a leading UTF-8 byte order mark. Throws `UsageError` (naming the file, never its content)
/// when it cannot be read, holds no token, more than one line, or a token the SDK would refuse
/// (a space, a control character or a non-ASCII byte in it). Warns on stderr when other users
/// may read or change the file.
std::string read_token_file(const std::string& path);

/// `ClientOptions::from_env()` with the flags that were given winning over the environment.
ClientOptions client_options(const ConnectionFlags& flags);

/// A client for those options; a missing or bad setting is a `UsageError` that says which
/// variable or flag to set. The token is never part of a message.
Client make_client(const ClientOptions& options);

}  // namespace instasent::cli
