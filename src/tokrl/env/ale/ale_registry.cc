// The parts of the ALE backend that need no ALE: options, ROM lookup,
// registration. The env itself is ale_env.cc (built with ALE) or
// ale_missing.cc.
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "tokrl/core/check.h"
#include "tokrl/env/ale/ale_env.h"
#include "tokrl/env/registry.h"

namespace tokrl::ale {
namespace {

std::mutex& RomDirMutex() {
  static std::mutex mutex;
  return mutex;
}

std::string& CliRomDir() {
  static std::string dir;
  return dir;
}

}  // namespace

AleOptions ParseAleOptions(EnvOptions& options) {
  AleOptions o;
  o.sticky = options.GetDouble("sticky", o.sticky, 0.0, 1.0);
  // Dopamine's name for it, accepted as an alias.
  o.sticky = options.GetDouble("repeat_action_probability", o.sticky, 0.0, 1.0);
  o.full_action_space =
      options.GetBool("full_action_space", o.full_action_space);
  o.frame_skip = options.GetInt("frame_skip", o.frame_skip, 1, 64);
  o.max_episode_frames = options.GetInt("max_episode_frames",
                                        o.max_episode_frames, 1, 1'000'000'000);
  o.terminal_on_life_loss =
      options.GetBool("terminal_on_life_loss", o.terminal_on_life_loss);
  o.noop_max = options.GetInt("noop_max", o.noop_max, 0, 100'000);
  return o;
}

std::string AleUnavailableMessage() {
  return "this tokrl was built without the ALE backend: build ALE's C++ "
         "library (github.com/Farama-Foundation/Arcade-Learning-Environment, "
         "cmake -DSDL_SUPPORT=OFF -DBUILD_PYTHON_LIB=OFF "
         "-DBUILD_SHARED_LIBS=ON, then install it to a prefix) and configure "
         "tokrl with -DTOKRL_WITH_ALE=ON -DCMAKE_PREFIX_PATH=<that prefix>";
}

void SetRomDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(RomDirMutex());
  CliRomDir() = dir;
}

std::vector<std::string> RomDirs() {
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(RomDirMutex());
    if (!CliRomDir().empty()) dirs.push_back(CliRomDir());
  }
  if (const char* env = std::getenv("TOKRL_ROM_DIR"); env && *env) {
    dirs.emplace_back(env);
  }
  return dirs;
}

std::string FindRom(const std::string& game) {
  const std::string file = game + ".bin";
  const std::vector<std::string> dirs = RomDirs();
  if (dirs.empty()) {
    TOKRL_FAIL() << "no ROM folder for 'ale/" << game << "': put " << file
                 << " in a folder and pass --rom-dir or set TOKRL_ROM_DIR";
  }
  std::string searched;
  for (const auto& dir : dirs) {
    const std::filesystem::path path = std::filesystem::path(dir) / file;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
    searched.append(searched.empty() ? "" : ", ").append(dir);
  }
  TOKRL_FAIL() << "no ROM for 'ale/" << game << "': " << file << " is not in "
               << searched << " (--rom-dir, then TOKRL_ROM_DIR)";
}

EnvSpec NominalAleSpec(const std::string& id) {
  auto [name, options] = ParseEnvId(id);
  TOKRL_CHECK(name.rfind("ale/", 0) == 0 && name.size() > 4)
      << "'" << id << "' is not an ale/<game> id";
  ParseAleOptions(options);
  options.Finish(name);
  EnvSpec spec;
  spec.id = id;
  spec.obs_shape = {1, 84, 84};
  spec.num_actions = 18;
  return spec;
}

void RegisterAleEnvs() {
  RegisterEnvFamily(
      "ale",
      AleAvailable()
          ? "Atari 2600 through ALE, Dopamine preprocessing (ROM <game>.bin "
            "from --rom-dir or TOKRL_ROM_DIR)"
          : "Atari 2600 through ALE: not built (configure with "
            "-DTOKRL_WITH_ALE=ON)",
      [](const std::string& game, EnvOptions& options) {
        const AleOptions o = ParseAleOptions(options);
        options.Finish("ale/" + game);  // a misspelt option before a ROM
        return MakeAleEnv(game, o);
      });
}

}  // namespace tokrl::ale
