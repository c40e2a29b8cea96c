// Score normalization: normalized = (score - random) / (reference - random),
// so a random policy scores 0 and the reference scores 1 (the optimality
// gap's threshold gamma = 1 is "reference level").
//
// Tables (facts only; sources and caveats in docs/normalization.md):
//   * Atari (57 games): random and human scores, human-normalized score
//     (Mnih et al. 2015; Badia et al. 2020, Agent57 appendix; the Atari-57
//     table used by Dopamine and rliable; shared/spec/paper.md 4.1).
//     Game names in any case, with or without underscores:
//     "SpaceInvaders", "space_invaders" and "spaceinvaders" match.
//   * MinAtar (5 games): random = mean return of the uniform-random policy
//     in the original Python MinAtar v1.0.15 with its defaults (sticky 0.1,
//     ramping), measured for tests/golden/minatar_reference_stats.json;
//     reference = DQN's final return at 5M frames in Young & Tian 2019
//     (shared/spec/minatar.md 4.1). MinAtar-normalized 1.0 = "as good as the
//     MinAtar paper's DQN".
//
// Env ids map to a table by prefix: "minatar/<game>(...)" -> MinAtar,
// "ale/<game>(...)" and "atari/<game>(...)" -> Atari. Options in
// parentheses are ignored.
#ifndef TOKRL_STATS_NORMALIZATION_H_
#define TOKRL_STATS_NORMALIZATION_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokrl::stats {

struct ScoreRange {
  double random = 0;
  double reference = 1;  // human (Atari) or DQN (MinAtar)
};

enum class Normalization { kNone, kMinAtar, kAtariHuman };

// "none", "minatar", "atari-human".
std::string_view NormalizationName(Normalization n);
// Inverse of NormalizationName; throws tokrl::Error listing the choices.
Normalization ParseNormalization(std::string_view name);

// nullopt when the game is not in the table.
std::optional<ScoreRange> MinAtarScoreRange(std::string_view game);
std::optional<ScoreRange> AtariHumanScoreRange(std::string_view game);

// The table an env id belongs to (kNone for any other prefix, e.g. toy/).
Normalization NormalizationForEnv(std::string_view env_id);
// "minatar/space_invaders(sticky=0)" -> "space_invaders".
std::string GameOfEnv(std::string_view env_id);

// The range of env_id's game in `table`; throws tokrl::Error naming the game
// and the table when it is missing. kNone gives {0, 1} (identity).
ScoreRange ScoreRangeFor(Normalization table, std::string_view env_id);

inline double Normalize(double score, const ScoreRange& range) {
  return (score - range.random) / (range.reference - range.random);
}

// Canonical game names of each table, in the table's order.
std::vector<std::string> MinAtarGames();
std::vector<std::string> AtariGames();

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_NORMALIZATION_H_
