// SPDX-License-Identifier: Apache-2.0
// instasent: the Instasent Ingest API from the command line. Arguments are parsed here; the
// commands live in instasent_cli_core.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.hpp"
#include "connection.hpp"
#include "consume.hpp"
#include "exit_codes.hpp"
#include "import.hpp"
#include "instasent/version.hpp"
#include "text.hpp"

namespace {

using namespace instasent::cli;

constexpr const char* kFooter =
    "Configuration: INSTASENT_PROJECT, INSTASENT_DATASOURCE, INSTASENT_TOKEN and "
    "INSTASENT_BASE_URL, or the flags, which win.\n"
    "Exit codes: 0 everything accepted; 1 some items rejected or some lines unreadable; 2 usage, "
    "configuration or input error; 3 unauthorized or not found; 4 gave up after retries; 130 "
    "(SIGINT) or 143 (SIGTERM) interrupted.\nSee man instasent, or " INSTASENT_DOC_DIR "/cli.md.";

// The import's flags, shared by `import contacts` and `import events` (only one runs).
struct ImportFlags {
  std::string input;
  std::string format;
  std::string delimiter = ",";
  std::vector<std::string> maps;
  std::vector<std::string> types;
  std::string rejects;
  std::string checkpoint;
  bool force_resume = false;
  bool dry_run = false;
  bool validate = false;
  int max_in_flight = 4;
  double shutdown_timeout = 5;
  double progress_interval = 5;
  bool quiet = false;
  bool json = false;
};

// The flags of `consume contacts` and `consume events` (only one runs).
struct ConsumeFlags {
  std::string brokers;
  std::vector<std::string> topics;
  std::string group;
  std::vector<std::string> kafka_settings;
  std::string rejects_topic;
  std::string rejects;
  int max_in_flight = 4;
  int max_pending = 5'000;
  double commit_interval = 1;
  double revoke_timeout = 10;
  double shutdown_timeout = 10;
  double exit_when_idle = -1;  // not given
  double progress_interval = 5;
  bool quiet = false;
  bool json = false;
};

void add_connection_options(CLI::App& command, ConnectionFlags& flags) {
  command.add_option("--project", flags.project, "Project id (default: $INSTASENT_PROJECT)")
      ->type_name("ID");
  command
      .add_option("--datasource", flags.datasource,
                  "Datasource id (default: $INSTASENT_DATASOURCE)")
      ->type_name("ID");
  command
      .add_option("--base-url", flags.base_url,
                  "API base URL, e.g. http://127.0.0.1:8080/v1 (default: $INSTASENT_BASE_URL, "
                  "else https://api.instasent.com/v1)")
      ->type_name("URL");
  command
      .add_option("--token-file", flags.token_file,
                  "Read the token from FILE (the token alone on a line; chmod 600) instead of "
                  "$INSTASENT_TOKEN, so that it is not in the environment or the process list")
      ->type_name("FILE");
  command
      .add_option("--max-attempts", flags.max_attempts,
                  "Attempts per request (per item for import and consume) before giving up "
                  "(default: 5; import and consume 10)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000).description(""));
  command.add_flag("-v,--verbose", flags.verbose,
                   "Log retries, rate-limit pauses and dropped items on stderr; twice (-vv) every "
                   "request and answer too");
}

// An option of SECONDS, from 0 to `max`.
void add_seconds_option(CLI::App& command, const char* name, double& seconds, const char* help,
                        double max) {
  command.add_option(name, seconds, help)
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, max).description(""));
}

void add_import_options(CLI::App& command, ImportFlags& flags) {
  command
      .add_option("FILE", flags.input,
                  "NDJSON or CSV file, optionally gzip-compressed; - reads standard input")
      ->required();
  command
      .add_option("--format", flags.format,
                  "ndjson, csv or rejects (a rejects file of an earlier import); default: from "
                  "the file name (.ndjson, .jsonl, .csv, each optionally .gz)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"ndjson", "csv", "rejects"}).description(""));
  command.add_option("--delimiter", flags.delimiter, "CSV field separator: one character, or tab")
      ->type_name("CHAR");
  command
      .add_option("--map", flags.maps,
                  "CSV: give the column's cells to FIELD (e.g. id=_user_id); COLUMN= ignores "
                  "the column. Repeatable")
      ->type_name("COLUMN=FIELD")
      ->allow_extra_args(false);
  command
      .add_option("--type", flags.types,
                  "CSV: read FIELD's cells as string (default), int, float, bool or json. "
                  "Repeatable")
      ->type_name("FIELD=TYPE")
      ->allow_extra_args(false);
  command
      .add_option("--rejects", flags.rejects,
                  "Write every unreadable or rejected line to FILE as NDJSON "
                  "{\"line\", \"item\", \"errors\"} (and \"types\" for CSV cells a --type "
                  "could not read); import it again with --format rejects")
      ->type_name("FILE");
  command
      .add_option("--checkpoint", flags.checkpoint,
                  "Record in FILE how far the input is done, and resume from it")
      ->type_name("FILE");
  command.add_flag("--force-resume", flags.force_resume,
                   "Resume from the checkpoint even when the input looks different");
  auto* dry_run = command.add_flag("--dry-run", flags.dry_run,
                                   "Send with _dryRun: the server validates, stores nothing");
  auto* validate = command.add_flag("--validate", flags.validate,
                                    "Check the input here only; send nothing, no credentials");
  dry_run->excludes(validate);
  command.add_option("--max-in-flight", flags.max_in_flight, "Requests at once (default: 4)")
      ->type_name("N")
      ->check(CLI::Range(1, 64).description(""));
  add_seconds_option(command, "--shutdown-timeout", flags.shutdown_timeout,
                     "Seconds to finish the requests in flight after Ctrl-C or a fatal answer "
                     "(default: 5)",
                     3600);
  add_seconds_option(command, "--progress-interval", flags.progress_interval,
                     "Seconds between progress lines when stderr is not a terminal; 0: none "
                     "(default: 5)",
                     86400);
  command.add_flag("-q,--quiet", flags.quiet, "No progress and no summary; errors only");
  command.add_flag("--json", flags.json, "Print a JSON summary on stdout at the end");
}

void add_consume_options(CLI::App& command, ConsumeFlags& flags) {
  command.add_option("--brokers", flags.brokers, "Kafka bootstrap servers")
      ->type_name("HOST:PORT[,...]")
      ->required();
  command.add_option("--topic", flags.topics, "The topics to read; repeatable")
      ->type_name("NAME[,...]")
      ->delimiter(',')
      ->required()
      ->allow_extra_args(false);
  command
      .add_option("--group", flags.group,
                  "The consumer group: instances with the same group share the partitions")
      ->type_name("ID")
      ->required();
  command
      .add_option("-X", flags.kafka_settings,
                  "A librdkafka setting (TLS, SASL, session.timeout.ms...), for the consumer and "
                  "the --rejects-topic producer; repeatable")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  auto* topic = command.add_option(
      "--rejects-topic", flags.rejects_topic,
      "Write every rejected or unreadable message to this topic (a dead-letter queue) as JSON "
      "{\"topic\", \"partition\", \"offset\", \"key\", \"item\", \"errors\"}; its offset is "
      "committed once the topic has it");
  topic->type_name("NAME");
  auto* file = command.add_option("--rejects", flags.rejects,
                                  "Or append those records to FILE (NDJSON); import it again with "
                                  "--format rejects");
  file->type_name("FILE");
  topic->excludes(file);
  command.add_option("--max-in-flight", flags.max_in_flight, "Requests at once (default: 4)")
      ->type_name("N")
      ->check(CLI::Range(1, 64).description(""));
  command
      .add_option("--max-pending", flags.max_pending,
                  "Messages read and not yet final, at most; beyond it the partitions are paused "
                  "(default: 5000)")
      ->type_name("N")
      ->check(CLI::Range(1, 1'000'000).description(""));
  add_seconds_option(command, "--commit-interval", flags.commit_interval,
                     "Seconds between offset commits (default: 1)", 3600);
  add_seconds_option(command, "--revoke-timeout", flags.revoke_timeout,
                     "Seconds to finish the messages of revoked partitions before giving them up "
                     "(default: 10)",
                     3600);
  add_seconds_option(command, "--shutdown-timeout", flags.shutdown_timeout,
                     "Seconds to finish the messages in flight after SIGINT or SIGTERM (default: "
                     "10)",
                     3600);
  add_seconds_option(command, "--exit-when-idle", flags.exit_when_idle,
                     "Exit once nothing new came for SECONDS, nothing is in flight and the group "
                     "has committed every partition to its end (batch jobs); default: run until "
                     "stopped",
                     86400 * 365.0);
  add_seconds_option(command, "--progress-interval", flags.progress_interval,
                     "Seconds between progress lines when stderr is not a terminal; 0: none "
                     "(default: 5)",
                     86400);
  command.add_flag("-q,--quiet", flags.quiet, "No progress and no summary; errors only");
  command.add_flag("--json", flags.json, "Print a JSON summary on stdout at the end");
}

// CLI11's range check lets NaN through (every comparison with it is false), and llround(NaN) is
// unspecified: a duration must be a number.
std::chrono::milliseconds seconds_to_ms(double seconds, const char* flag) {
  if (!std::isfinite(seconds)) throw UsageError(std::string(flag) + " takes a number of seconds");
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

ImportOptions import_options(const ImportFlags& flags, ItemKind kind, int max_attempts) {
  ImportOptions options;
  options.kind = kind;
  options.input = flags.input;
  if (!flags.format.empty()) options.format = parse_input_format(flags.format);
  if (flags.delimiter == "tab" || flags.delimiter == "\\t") {
    options.csv.delimiter = '\t';
  } else if (flags.delimiter.size() == 1 && flags.delimiter != "\"" && flags.delimiter != "\n") {
    options.csv.delimiter = flags.delimiter.front();
  } else {
    throw UsageError("--delimiter takes one character (or tab)");
  }
  options.csv.maps = flags.maps;
  options.csv.types = flags.types;
  options.rejects_path = flags.rejects;
  options.checkpoint_path = flags.checkpoint;
  options.force_resume = flags.force_resume;
  options.mode = flags.validate  ? ImportMode::validate
                 : flags.dry_run ? ImportMode::dry_run
                                 : ImportMode::send;
  options.max_in_flight = flags.max_in_flight;
  options.max_attempts = max_attempts;
  options.shutdown_timeout = seconds_to_ms(flags.shutdown_timeout, "--shutdown-timeout");
  options.progress_interval = seconds_to_ms(flags.progress_interval, "--progress-interval");
  options.quiet = flags.quiet;
  options.json_summary = flags.json;
  return options;
}

ConsumeOptions consume_options(const ConsumeFlags& flags, ItemKind kind,
                               const ConnectionFlags& connection) {
  ConsumeOptions options;
  options.kind = kind;
  options.brokers = flags.brokers;
  options.topics = flags.topics;
  options.group = flags.group;
  options.kafka_settings = flags.kafka_settings;
  options.rejects_topic = flags.rejects_topic;
  options.rejects_path = flags.rejects;
  options.max_in_flight = flags.max_in_flight;
  options.max_attempts = connection.max_attempts;
  options.max_pending = static_cast<std::size_t>(flags.max_pending);
  options.commit_interval = seconds_to_ms(flags.commit_interval, "--commit-interval");
  options.revoke_timeout = seconds_to_ms(flags.revoke_timeout, "--revoke-timeout");
  options.shutdown_timeout = seconds_to_ms(flags.shutdown_timeout, "--shutdown-timeout");
  if (flags.exit_when_idle >= 0) {
    options.exit_when_idle = seconds_to_ms(flags.exit_when_idle, "--exit-when-idle");
  }
  options.progress_interval = seconds_to_ms(flags.progress_interval, "--progress-interval");
  options.quiet = flags.quiet;
  options.json_summary = flags.json;
  options.verbose = connection.verbose;
  return options;
}

// Runs `run`, which returns the command's summary (exit_code, to_json()): a usage error is
// printed and ends in exit 2; with --json the summary, and the error if any, go to stdout.
template <typename Summary, typename Run>
int run_reporting(bool json, Run run) {
  Summary summary;
  std::string error;
  try {
    summary = run();
  } catch (const UsageError& usage) {
    error = usage.what();
    summary.exit_code = exit_code::usage;
    std::fprintf(stderr, "instasent: %s\n", error.c_str());
  }
  if (json) {
    nlohmann::json out = summary.to_json();
    if (!error.empty()) out["error"] = error;
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(stdout);
  }
  return summary.exit_code;
}

int consume(const ConsumeFlags& flags, ItemKind kind, const ConnectionFlags& connection) {
#ifdef INSTASENT_HAVE_KAFKA
  return run_reporting<ConsumeSummary>(flags.json, [&] {
    return run_consume(consume_options(flags, kind, connection),
                       [&] { return client_options(connection); });
  });
#else
  consume_options(flags, kind, connection);  // the same usage errors as where it is built
  std::fprintf(stderr,
               "instasent: this build has no Kafka support (librdkafka was not found when it was "
               "built): consume is not available\n");
  return exit_code::usage;
#endif
}

int import(const ImportFlags& flags, ItemKind kind, const ConnectionFlags& connection) {
  return run_reporting<ImportSummary>(flags.json, [&] {
    return run_import(import_options(flags, kind, connection.max_attempts),
                      [&] { return client_options(connection); });
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("instasent: stream contacts and events into Instasent (the Ingest API)",
               "instasent");
  app.set_version_flag("--version", std::string("instasent ") + instasent::kVersion);
  app.require_subcommand(1);
  app.footer(kFooter);

  ConnectionFlags connection;
  ImportFlags import_flags;
  std::string user_id;
  std::vector<std::string> user_ids;
  std::string ids_from;
  std::string event_type;

  CLI::App* stream = app.add_subcommand(
      "stream", "Check the credentials and show the stream's metadata (GET /stream)");
  add_connection_options(*stream, connection);

  CLI::App* import_command =
      app.add_subcommand("import", "Import contacts or events from an NDJSON or CSV file");
  import_command->require_subcommand(1);
  CLI::App* contacts = import_command->add_subcommand(
      "contacts", "Upsert contacts: each line (row) is one contact, identified by _user_id");
  CLI::App* events = import_command->add_subcommand(
      "events",
      "Record events: each line (row) is one event; one without _event_id gets an id derived "
      "from its content, so importing it again records nothing twice");
  for (CLI::App* command : {contacts, events}) {
    add_import_options(*command, import_flags);
    add_connection_options(*command, connection);
    command->footer(kFooter);
  }

  ConsumeFlags consume_flags;
  CLI::App* consume_command = app.add_subcommand(
      "consume", "Stream a Kafka topic's contacts or events into Instasent, as a consumer group");
  consume_command->require_subcommand(1);
  CLI::App* consume_contacts = consume_command->add_subcommand(
      "contacts", "Upsert contacts: each message's value is one contact, as an NDJSON line");
  CLI::App* consume_events = consume_command->add_subcommand(
      "events",
      "Record events: each message's value is one event, as an NDJSON line; one without "
      "_event_id gets kafka-TOPIC-PARTITION-OFFSET, so reading it again records nothing twice");
  for (CLI::App* command : {consume_contacts, consume_events}) {
    add_consume_options(*command, consume_flags);
    add_connection_options(*command, connection);
    command->footer(kFooter);
  }

  CLI::App* get = app.add_subcommand("get", "Show a stored contact (GET /stream/contacts/ID)");
  get->add_option("USER_ID", user_id, "The contact's _user_id")->required();
  add_connection_options(*get, connection);

  CLI::App* remove = app.add_subcommand("delete", "Delete contacts permanently");
  remove->add_option("USER_ID", user_ids, "The _user_id of each contact to delete");
  remove
      ->add_option("--ids-from", ids_from,
                   "Also delete the ids in FILE, one per line (- for standard input; gzip or not)")
      ->type_name("FILE");
  add_connection_options(*remove, connection);

  CLI::App* specs = app.add_subcommand("specs", "Show the datasource's specs");
  specs->require_subcommand(1);
  CLI::App* attributes = specs->add_subcommand("attributes", "The contact attributes");
  CLI::App* event_specs = specs->add_subcommand("events", "The event types");
  CLI::App* parameters =
      specs->add_subcommand("event-parameters", "The parameters of one event type");
  parameters->add_option("TYPE", event_type, "The event type (a uid from `specs events`)")
      ->required();
  for (CLI::App* command : {attributes, event_specs, parameters}) {
    add_connection_options(*command, connection);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);  // prints help, the version or the error
    return code == 0 ? exit_code::ok : exit_code::usage;
  }

  try {
    if (*contacts) return import(import_flags, ItemKind::contacts, connection);
    if (*events) return import(import_flags, ItemKind::events, connection);
    if (*consume_contacts) return consume(consume_flags, ItemKind::contacts, connection);
    if (*consume_events) return consume(consume_flags, ItemKind::events, connection);
    if (*stream) return run_stream(client_options(connection));
    if (*get) return run_get(client_options(connection), user_id);
    if (*remove) return run_delete(client_options(connection), user_ids, ids_from);
    if (*attributes) return run_specs(client_options(connection), SpecsKind::attributes, "");
    if (*event_specs) return run_specs(client_options(connection), SpecsKind::events, "");
    if (*parameters) {
      return run_specs(client_options(connection), SpecsKind::event_parameters, event_type);
    }
  } catch (const UsageError& error) {
    std::fprintf(stderr, "instasent: %s\n", error.what());
    return exit_code::usage;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "instasent: %s\n", printable(error.what(), 300).c_str());
    return exit_code::gave_up;
  } catch (...) {
    std::fprintf(stderr, "instasent: an unexpected error\n");
    return exit_code::gave_up;
  }
  return exit_code::usage;
}
