// tokrl sweep (being written; see src/tokrl/sweep/).
#include <CLI/CLI.hpp>

#include "tokrl/cli/commands.h"

namespace tokrl::cli {

void AddSweepCommand(CLI::App& app) {
  app.add_subcommand("sweep", "Run a sweep file");
}

}  // namespace tokrl::cli
