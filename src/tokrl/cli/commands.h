// Subcommands of the `tokrl` command-line tool. Each Add*Commands registers
// its subcommands on the app; the callbacks throw tokrl::Error on bad input,
// which main() prints as "error: ..." with exit code 1.
#ifndef TOKRL_CLI_COMMANDS_H_
#define TOKRL_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace tokrl::cli {

// envs, play, bench-env
void AddEnvCommands(CLI::App& app);

// train (only in builds with LibTorch); argv is recorded in run_info.json.
void AddTrainCommands(CLI::App& app, const std::vector<std::string>& argv);

// report: statistics and plots over finished runs (cli/report_command.cc).
void AddReportCommand(CLI::App& app);

// sweep: expand a sweep file into runs and launch them (only with LibTorch:
// it validates every run's config before launching).
void AddSweepCommand(CLI::App& app);

}  // namespace tokrl::cli

#endif  // TOKRL_CLI_COMMANDS_H_
