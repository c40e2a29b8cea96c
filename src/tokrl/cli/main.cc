// tokrl: command-line entry point.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tokrl/cli/commands.h"
#include "tokrl/core/check.h"

int main(int argc, char** argv) {
  CLI::App app{"tokrl: value-based deep RL with tokenized network heads"};
  app.set_version_flag("--version", std::string("tokrl ") + TOKRL_VERSION);
  app.require_subcommand(1);
  // ALE ROMs (ale/<game> envs): exported as TOKRL_ROM_DIR so that the
  // trainers a sweep starts see it too. Accepted after the subcommand.
  app.add_option_function<std::string>(
         "--rom-dir",
         [](const std::string& dir) {
           setenv("TOKRL_ROM_DIR", dir.c_str(), 1);
         },
         "folder with ALE ROMs <game>.bin (sets TOKRL_ROM_DIR)")
      ->trigger_on_parse();
  app.fallthrough();
  tokrl::cli::AddEnvCommands(app);
  tokrl::cli::AddReportCommand(app);
#ifdef TOKRL_WITH_TORCH
  tokrl::cli::AddTrainCommands(app,
                               std::vector<std::string>(argv, argv + argc));
  tokrl::cli::AddSweepCommand(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit with 2, like most Unix tools; --help/--version with 0.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const tokrl::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // LibTorch's errors append a C++ backtrace for its developers; users
    // get the sentence.
    std::string message = e.what();
    message = message.substr(0, message.find("\nException raised from"));
    std::cerr << "error: " << message << "\n";
    return 1;
  }
  return 0;
}
