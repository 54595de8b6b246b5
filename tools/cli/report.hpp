// SPDX-License-Identifier: Apache-2.0
// The end of an import: its exit code, and what it says on stderr.
#pragma once

#include <cstddef>
#include <cstdint>

#include "import.hpp"
#include "import_state.hpp"
#include "progress.hpp"

namespace instasent::cli {

/// The exit code of a run that sends items (an import or `consume`), the first that applies: 3
/// (`access_denied`), 4 (`gave_up`, or items not delivered without a signal to explain it), 2
/// (`fatal`), 128 + the signal, 1 (`bad` items: rejected or unreadable), 0.
int send_exit_code(bool access_denied, bool gave_up, bool fatal, std::uint64_t not_delivered,
                   std::uint64_t bad, int signal_number);

/// The first that applies: 3 (credentials refused), 4 (gave up, or items not delivered without
/// a signal to explain it), 2 (a fatal error), 128 + the signal, 1 (bad lines), 0.
int import_exit_code(const ImportSummary& summary, const ImportState::Stops& stops,
                     int signal_number);

/// Why the import stopped early, how many bad lines were not described (`reported` counts them
/// all), the summary line, where the rejects and the checkpoint are, and the signal if any. Only
/// the summary and the pointers to the files are left out with --quiet.
void print_import_report(Console& console, const ImportOptions& options,
                         const ImportSummary& summary, const ImportState::Stops& stops,
                         std::size_t reported, int signal_number);

}  // namespace instasent::cli
