// The ALE backend's stand-in in builds without ALE (TOKRL_WITH_ALE off).
#include "tokrl/core/check.h"
#include "tokrl/env/ale/ale_env.h"

namespace tokrl::ale {

bool AleAvailable() { return false; }

std::unique_ptr<Env> MakeAleEnv(const std::string& game, const AleOptions&) {
  TOKRL_FAIL() << "cannot make 'ale/" << game
               << "': " << AleUnavailableMessage();
}

}  // namespace tokrl::ale
