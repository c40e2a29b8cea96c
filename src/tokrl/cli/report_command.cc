// tokrl report (being written; see src/tokrl/report/).
#include <CLI/CLI.hpp>

#include "tokrl/cli/commands.h"

namespace tokrl::cli {

void AddReportCommand(CLI::App& app) {
  app.add_subcommand("report", "Statistics and plots over finished runs");
}

}  // namespace tokrl::cli
