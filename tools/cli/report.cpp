// SPDX-License-Identifier: Apache-2.0
#include "report.hpp"

#include <cmath>
#include <cstdio>

#include "exit_codes.hpp"
#include "stop_signals.hpp"
#include "text.hpp"

namespace instasent::cli {

using nlohmann::json;

namespace {

const char* mode_name(ImportMode mode) {
  switch (mode) {
    case ImportMode::send:
      return "import";
    case ImportMode::dry_run:
      return "dry_run";
    case ImportMode::validate:
      return "validate";
  }
  return "import";
}

}  // namespace

json ImportSummary::to_json() const {
  return {{"mode", mode_name(mode)},
          {"read", read},
          {"sent", sent},
          {"delivered", delivered},
          {"rejected", rejected},
          {"unreadable", unreadable},
          {"dropped", dropped},
          {"valid", valid},
          {"skipped_by_checkpoint", skipped_by_checkpoint},
          {"checkpoint_line", checkpoint_line ? json(*checkpoint_line) : json(nullptr)},
          {"seconds", std::round(seconds * 1000) / 1000},
          {"rate_limit_wait_seconds", std::round(rate_limit_wait_seconds * 1000) / 1000},
          {"retry_wait_seconds", std::round(retry_wait_seconds * 1000) / 1000},
          {"exit_code", exit_code}};
}

int send_exit_code(bool access_denied, bool gave_up, bool fatal, std::uint64_t not_delivered,
                   std::uint64_t bad, int signal_number) {
  if (access_denied) return exit_code::access;
  // Items not delivered without a signal to explain them: given up.
  if (gave_up || (not_delivered > 0 && signal_number == 0)) return exit_code::gave_up;
  if (fatal) return exit_code::usage;
  if (signal_number != 0) return exit_code::interrupted + signal_number;
  if (bad > 0) return exit_code::partial;
  return exit_code::ok;
}

int import_exit_code(const ImportSummary& summary, const ImportState::Stops& stops,
                     int signal_number) {
  return send_exit_code(!stops.access_denied.empty(), !stops.gave_up.empty(), !stops.fatal.empty(),
                        summary.dropped, summary.rejected + summary.unreadable, signal_number);
}

void print_import_report(Console& console, const ImportOptions& options,
                         const ImportSummary& summary, const ImportState::Stops& stops,
                         std::size_t reported, int signal_number) {
  if (!stops.access_denied.empty()) {
    console.message("instasent: the server refused the credentials (" + stops.access_denied +
                    "); stopped. Check the token, project and datasource");
  }
  if (!stops.gave_up.empty()) {
    console.message("instasent: gave up: " + stops.gave_up + "; stopped");
  }
  if (!stops.fatal.empty()) console.message("instasent: " + stops.fatal);
  if (reported > static_cast<std::size_t>(options.max_reported)) {
    console.message("instasent: " + with_thousands(reported - options.max_reported) +
                    " more bad lines not shown" +
                    (options.rejects_path.empty()
                         ? "; pass --rejects FILE to keep them"
                         : "; every one is in " + display_path(options.rejects_path)));
  }
  if (!options.quiet) {
    const std::string rate =
        summary.seconds > 0
            ? with_thousands(static_cast<unsigned long long>(
                  static_cast<double>(summary.read - summary.skipped_by_checkpoint) /
                  summary.seconds))
            : "0";
    std::string text = "instasent: " + with_thousands(summary.read) + " read";
    if (summary.skipped_by_checkpoint > 0) {
      text += " (" + with_thousands(summary.skipped_by_checkpoint) + " skipped: checkpoint)";
    }
    switch (options.mode) {
      case ImportMode::validate:
        text += ", " + with_thousands(summary.valid) + " valid";
        break;
      case ImportMode::dry_run:
        text += ", " + with_thousands(summary.sent) + " sent (dry run: nothing stored), " +
                with_thousands(summary.delivered) + " accepted, " +
                with_thousands(summary.rejected) + " rejected";
        break;
      case ImportMode::send:
        text += ", " + with_thousands(summary.sent) + " sent, " +
                with_thousands(summary.delivered) + " delivered, " +
                with_thousands(summary.rejected) + " rejected";
        break;
    }
    text += ", " + with_thousands(summary.unreadable) + " unreadable";
    if (summary.dropped > 0) text += ", " + with_thousands(summary.dropped) + " not delivered";
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", summary.seconds);
    text += " in " + std::string(seconds) + " s (" + rate + " lines/s)";
    if (summary.rate_limit_wait_seconds > 0 || summary.retry_wait_seconds > 0) {
      text += "; waited " + format_duration(summary.rate_limit_wait_seconds) + " on rate limits, " +
              format_duration(summary.retry_wait_seconds) + " on retries";
    }
    console.message(text);
    if (!options.rejects_path.empty() && summary.rejected + summary.unreadable > 0) {
      console.message("instasent: bad lines are in " + display_path(options.rejects_path) +
                      "; fix them and import it with --format rejects");
    }
    if (summary.checkpoint_line) {
      console.message("instasent: checkpoint " + display_path(options.checkpoint_path) +
                      ": every line up to " + with_thousands(*summary.checkpoint_line) +
                      " is done");
    }
  }
  if (signal_number != 0) {
    console.message(std::string("instasent: interrupted by ") + signal_name(signal_number) +
                    (summary.checkpoint_line ? "; run the same command again to resume" : ""));
  }
}

}  // namespace instasent::cli
