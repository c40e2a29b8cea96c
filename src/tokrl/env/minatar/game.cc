#include "tokrl/env/minatar/game.h"

#include "tokrl/core/check.h"
#include "tokrl/env/minatar/asterix.h"
#include "tokrl/env/minatar/breakout.h"
#include "tokrl/env/minatar/freeway.h"
#include "tokrl/env/minatar/seaquest.h"
#include "tokrl/env/minatar/space_invaders.h"

namespace tokrl::minatar {

const std::vector<std::string>& GameNames() {
  static const std::vector<std::string> names = {
      "asterix", "breakout", "freeway", "seaquest", "space_invaders"};
  return names;
}

std::unique_ptr<Game> MakeGame(const std::string& name, bool ramping) {
  if (name == "asterix") return std::make_unique<Asterix>(ramping);
  if (name == "breakout") return std::make_unique<Breakout>(ramping);
  if (name == "freeway") return std::make_unique<Freeway>(ramping);
  if (name == "seaquest") return std::make_unique<Seaquest>(ramping);
  if (name == "space_invaders") return std::make_unique<SpaceInvaders>(ramping);
  TOKRL_FAIL() << "unknown MinAtar game '" << name
               << "' (known: asterix, breakout, freeway, seaquest, "
                  "space_invaders)";
}

}  // namespace tokrl::minatar
