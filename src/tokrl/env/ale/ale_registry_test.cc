// The ALE family's parts that need no ALE: listing, options, ROM lookup, and
// the message of a build without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/env/ale/ale_env.h"
#include "tokrl/env/registry.h"

namespace tokrl::ale {
namespace {

std::string ErrorOf(const std::string& id) {
  return ErrorText([&] { MakeEnv(id); });
}

TEST(AleRegistry, IsListedAsAFamily) {
  const auto envs = ListEnvs();
  EXPECT_TRUE(std::any_of(envs.begin(), envs.end(), [](const EnvInfo& e) {
    return e.id == "ale/<game>";
  }));
}

TEST(AleRegistry, WithoutAleEveryIdSaysHowToBuildIt) {
  if (AleAvailable()) GTEST_SKIP() << "this build has ALE";
  EXPECT_NE(ErrorOf("ale/pong").find("built without the ALE backend"),
            std::string::npos)
      << ErrorOf("ale/pong");
  EXPECT_NE(ErrorOf("ale/pong").find("-DTOKRL_WITH_ALE=ON"), std::string::npos);
  // Options are checked first.
  EXPECT_NE(ErrorOf("ale/pong(sticky=2)").find("sticky"), std::string::npos);
  EXPECT_NE(ErrorOf("ale/pong(stiky=0)").find("unknown option 'stiky'"),
            std::string::npos)
      << ErrorOf("ale/pong(stiky=0)");
}

TEST(AleRegistry, ParsesDopaminesOptions) {
  EnvOptions options =
      ParseEnvId(
          "ale/pong(sticky=0,frame_skip=3,terminal_on_life_loss=true,"
          "noop_max=30,full_action_space=true,max_episode_frames=1000)")
          .second;
  const AleOptions o = ParseAleOptions(options);
  EXPECT_EQ(o.sticky, 0.0);
  EXPECT_EQ(o.frame_skip, 3);
  EXPECT_TRUE(o.terminal_on_life_loss);
  EXPECT_EQ(o.noop_max, 30);
  EXPECT_TRUE(o.full_action_space);
  EXPECT_EQ(o.max_episode_frames, 1000);
  EnvOptions none;
  const AleOptions d = ParseAleOptions(none);
  EXPECT_EQ(d.sticky, 0.25);
  EXPECT_EQ(d.frame_skip, 4);
  EXPECT_EQ(d.max_episode_frames, 108000);
}

TEST(AleRegistry, FindRomNamesTheFileAndTheFolders) {
  const auto dir = std::filesystem::temp_directory_path() / "tokrl_rom_dir";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pong.bin") << "x";
  SetRomDir(dir.string());
  EXPECT_EQ(FindRom("pong"), (dir / "pong.bin").string());
  try {
    FindRom("seaquest");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("seaquest.bin is not in " + dir.string()),
              std::string::npos)
        << what;
  }
  SetRomDir(TOKRL_ALE_TEST_ROM_DIR);  // the build's test ROMs, if any
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tokrl::ale
