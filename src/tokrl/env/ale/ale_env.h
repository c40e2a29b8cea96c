// Atari 2600 games through the Arcade Learning Environment (ALE), with
// Dopamine's preprocessing (paper.md 2.1; preprocess.h):
//
//   ale/<game>(sticky=0.25,full_action_space=false,frame_skip=4,
//              max_episode_frames=108000,terminal_on_life_loss=false,
//              noop_max=0)
//
//   * Each step repeats the action frame_skip times (ALE's sticky actions
//     with probability `sticky` on every frame) and sums the raw, unclipped
//     rewards (agents clip them: agent.reward_clip). The observation is the
//     max of the last two frames' grayscale screens, resized to 84x84 by area
//     averaging: uint8 {1, 84, 84}. The agent stacks frames (replay and
//     acting), not the env.
//   * terminated: the game is over (or a life was lost, with
//     terminal_on_life_loss); truncated: max_episode_frames emulator frames
//     have passed. Reset draws 0..noop_max no-op steps (0: none, Dopamine).
//   * Actions: the game's minimal action set, or all 18 with
//     full_action_space.
//   * ROM: <game>.bin, looked up in the folder given to SetRomDir (tokrl's
//     --rom-dir), then in $TOKRL_ROM_DIR. A missing ROM, or a file that ALE
//     does not know as that game, is an error naming the file and the
//     folders searched.
//   * Seed reloads the ROM with ALE's random_seed; SaveState holds ALE's
//     system state (RNG included) and the frame buffers, so a run resumes
//     exactly.
// Built only with -DTOKRL_WITH_ALE (AleAvailable()); otherwise every ale/
// id fails with a message saying how to build it.
#ifndef TOKRL_ENV_ALE_ALE_ENV_H_
#define TOKRL_ENV_ALE_ALE_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "tokrl/env/env.h"
#include "tokrl/env/env_options.h"

namespace tokrl::ale {

struct AleOptions {
  double sticky = 0.25;
  bool full_action_space = false;
  int frame_skip = 4;
  int max_episode_frames = 108'000;
  bool terminal_on_life_loss = false;
  int noop_max = 0;
};

// Reads the options above from an env id's options.
AleOptions ParseAleOptions(EnvOptions& options);

// Whether this build has the ALE backend.
bool AleAvailable();
// How to get it, for messages.
std::string AleUnavailableMessage();

// The ROM folder set by the CLI (empty = unset); thread-safe.
void SetRomDir(const std::string& dir);
// The folders searched for ROMs, in order (SetRomDir's, $TOKRL_ROM_DIR).
std::vector<std::string> RomDirs();
// The path of <game>.bin in the first folder that has it; throws
// tokrl::Error naming the file and the folders otherwise.
std::string FindRom(const std::string& game);

// The env for ale/<game> (throws AleUnavailableMessage() without ALE).
std::unique_ptr<Env> MakeAleEnv(const std::string& game,
                                const AleOptions& options);

// For checking configs where the env cannot be built (no ALE, or no ROMs on
// this machine): the spec of `id` ("ale/<game>(options)", options checked)
// with Dopamine's observation {1, 84, 84} and the full 18 actions (a game's
// minimal set is smaller; network shapes do not depend on it otherwise).
EnvSpec NominalAleSpec(const std::string& id);

// Registers the "ale" env family (registry.h).
void RegisterAleEnvs();

}  // namespace tokrl::ale

#endif  // TOKRL_ENV_ALE_ALE_ENV_H_
