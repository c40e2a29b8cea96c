#include "tokrl/stats/normalization.h"

#include <cctype>
#include <iterator>
#include <span>

#include "tokrl/core/check.h"

namespace tokrl::stats {
namespace {

struct GameRange {
  const char* game;  // canonical name
  double random;
  double reference;
};

// MinAtar (sources and caveats: docs/normalization.md).
//   random:    mean return of the uniform-random policy in the original
//              Python MinAtar v1.0.15 (kenjyoung/MinAtar 4241f24), sticky
//              0.1, difficulty ramping on: games.<game>.policies.random.
//              return_mean of tests/golden/minatar_reference_stats.json
//              (1000 episodes; Freeway 200). A test checks this table
//              against the fixture.
//   reference: DQN's final return at 5M frames, Young & Tian 2019
//              (arXiv:1903.03176), read off the MinAtar README's learning
//              curves (about +-2% reading error); shared/spec/minatar.md 4.1.
//              Seaquest's curve predates the v1.0.11 oxygen fix.
constexpr GameRange kMinAtar[] = {
    {"asterix", 0.581, 17.1},        {"breakout", 0.469, 10.0},
    {"freeway", 0.155, 50.2},        {"seaquest", 0.076, 20.2},
    {"space_invaders", 2.814, 43.3},
};

// Atari-57: random and average-human scores. The standard table of Mnih et
// al. 2015 (Nature DQN) as extended and tabulated in Badia et al. 2020
// (Agent57, appendix H "Atari 57 table of scores"); the same numbers are in
// Dopamine's dopamine/labs/atari_100k/normalization_utils.py (which has no
// human score for Defender and Surround; those two come from the Agent57
// table, also in DQN Zoo's atari_data.py). Checked entry by entry against
// Dopamine and DQN Zoo; the one disagreement is Video Pinball's random score
// (0.0 in Agent57/Dopamine, used here; 16256.9 in Nature DQN/DQN Zoo).
constexpr GameRange kAtari[] = {
    {"alien", 227.8, 7127.7},
    {"amidar", 5.8, 1719.5},
    {"assault", 222.4, 742.0},
    {"asterix", 210.0, 8503.3},
    {"asteroids", 719.1, 47388.7},
    {"atlantis", 12850.0, 29028.1},
    {"bank_heist", 14.2, 753.1},
    {"battle_zone", 2360.0, 37187.5},
    {"beam_rider", 363.9, 16926.5},
    {"berzerk", 123.7, 2630.4},
    {"bowling", 23.1, 160.7},
    {"boxing", 0.1, 12.1},
    {"breakout", 1.7, 30.5},
    {"centipede", 2090.9, 12017.0},
    {"chopper_command", 811.0, 7387.8},
    {"crazy_climber", 10780.5, 35829.4},
    {"defender", 2874.5, 18688.9},
    {"demon_attack", 152.1, 1971.0},
    {"double_dunk", -18.6, -16.4},
    {"enduro", 0.0, 860.5},
    {"fishing_derby", -91.7, -38.7},
    {"freeway", 0.0, 29.6},
    {"frostbite", 65.2, 4334.7},
    {"gopher", 257.6, 2412.5},
    {"gravitar", 173.0, 3351.4},
    {"hero", 1027.0, 30826.4},
    {"ice_hockey", -11.2, 0.9},
    {"jamesbond", 29.0, 302.8},
    {"kangaroo", 52.0, 3035.0},
    {"krull", 1598.0, 2665.5},
    {"kung_fu_master", 258.5, 22736.3},
    {"montezuma_revenge", 0.0, 4753.3},
    {"ms_pacman", 307.3, 6951.6},
    {"name_this_game", 2292.3, 8049.0},
    {"phoenix", 761.4, 7242.6},
    {"pitfall", -229.4, 6463.7},
    {"pong", -20.7, 14.6},
    {"private_eye", 24.9, 69571.3},
    {"qbert", 163.9, 13455.0},
    {"riverraid", 1338.5, 17118.0},
    {"road_runner", 11.5, 7845.0},
    {"robotank", 2.2, 11.9},
    {"seaquest", 68.4, 42054.7},
    {"skiing", -17098.1, -4336.9},
    {"solaris", 1236.3, 12326.7},
    {"space_invaders", 148.0, 1668.7},
    {"star_gunner", 664.0, 10250.0},
    {"surround", -10.0, 6.5},
    {"tennis", -23.8, -8.3},
    {"time_pilot", 3568.0, 5229.2},
    {"tutankham", 11.4, 167.6},
    {"up_n_down", 533.4, 11693.2},
    {"venture", 0.0, 1187.5},
    {"video_pinball", 0.0, 17667.9},
    {"wizard_of_wor", 563.5, 4756.5},
    {"yars_revenge", 3092.9, 54576.9},
    {"zaxxon", 32.5, 9173.3},
};
static_assert(std::size(kAtari) == 57);

// Lower case without underscores: "Space_Invaders" -> "spaceinvaders".
std::string MatchKey(std::string_view name) {
  std::string key;
  key.reserve(name.size());
  for (char c : name) {
    if (c == '_') continue;
    key.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return key;
}

std::optional<ScoreRange> Lookup(std::span<const GameRange> table,
                                 std::string_view game) {
  const std::string key = MatchKey(game);
  if (key.empty()) return std::nullopt;
  for (const GameRange& entry : table) {
    if (MatchKey(entry.game) == key) {
      return ScoreRange{.random = entry.random, .reference = entry.reference};
    }
  }
  return std::nullopt;
}

std::vector<std::string> Names(std::span<const GameRange> table) {
  std::vector<std::string> names;
  names.reserve(table.size());
  for (const GameRange& entry : table) names.emplace_back(entry.game);
  return names;
}

}  // namespace

std::string_view NormalizationName(Normalization n) {
  switch (n) {
    case Normalization::kNone:
      return "none";
    case Normalization::kMinAtar:
      return "minatar";
    case Normalization::kAtariHuman:
      return "atari-human";
  }
  TOKRL_FAIL() << "unknown normalization " << static_cast<int>(n);
}

Normalization ParseNormalization(std::string_view name) {
  for (Normalization n : {Normalization::kNone, Normalization::kMinAtar,
                          Normalization::kAtariHuman}) {
    if (name == NormalizationName(n)) return n;
  }
  TOKRL_FAIL() << "unknown normalization '" << name
               << "' (choices: none, minatar, atari-human)";
}

std::optional<ScoreRange> MinAtarScoreRange(std::string_view game) {
  return Lookup(kMinAtar, game);
}

std::optional<ScoreRange> AtariHumanScoreRange(std::string_view game) {
  return Lookup(kAtari, game);
}

Normalization NormalizationForEnv(std::string_view env_id) {
  const size_t slash = env_id.find('/');
  if (slash == std::string_view::npos) return Normalization::kNone;
  const std::string_view prefix = env_id.substr(0, slash);
  if (prefix == "minatar") return Normalization::kMinAtar;
  if (prefix == "ale" || prefix == "atari") return Normalization::kAtariHuman;
  return Normalization::kNone;
}

std::string GameOfEnv(std::string_view env_id) {
  std::string_view game = env_id.substr(0, env_id.find('('));
  const size_t slash = game.find('/');
  if (slash != std::string_view::npos) game.remove_prefix(slash + 1);
  return std::string(game);
}

ScoreRange ScoreRangeFor(Normalization table, std::string_view env_id) {
  const std::string game = GameOfEnv(env_id);
  std::optional<ScoreRange> range;
  switch (table) {
    case Normalization::kNone:
      return ScoreRange{.random = 0, .reference = 1};
    case Normalization::kMinAtar:
      range = MinAtarScoreRange(game);
      break;
    case Normalization::kAtariHuman:
      range = AtariHumanScoreRange(game);
      break;
  }
  if (!range) {
    std::string choices;
    for (const std::string& name :
         table == Normalization::kMinAtar ? MinAtarGames() : AtariGames()) {
      if (!choices.empty()) choices.append(", ");
      choices.append(name);
    }
    TOKRL_FAIL() << "no '" << NormalizationName(table)
                 << "' normalization scores for game '" << game << "' (env '"
                 << env_id << "'); the table has: " << choices
                 << " (see docs/normalization.md)";
  }
  return *range;
}

std::vector<std::string> MinAtarGames() { return Names(kMinAtar); }
std::vector<std::string> AtariGames() { return Names(kAtari); }

}  // namespace tokrl::stats
