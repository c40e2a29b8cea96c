#include "tokrl/stats/normalization.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tokrl/core/testing.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;

TEST(NormalizationTest, NamesRoundTrip) {
  for (Normalization n : {Normalization::kNone, Normalization::kMinAtar,
                          Normalization::kAtariHuman}) {
    EXPECT_EQ(ParseNormalization(NormalizationName(n)), n);
  }
  EXPECT_EQ(NormalizationName(Normalization::kAtariHuman), "atari-human");
  const std::string error = ErrorOf([] { ParseNormalization("human"); });
  EXPECT_TRUE(Contains(error, "unknown normalization 'human'"));
  EXPECT_TRUE(Contains(error, "none, minatar, atari-human"));
}

// The MinAtar random scores are the fixture's random-policy means, and the
// references are the DQN values of shared/spec/minatar.md 4.1.
TEST(NormalizationTest, MinAtarTableMatchesReferenceFixture) {
  const auto path = SourceDir() / "tests/golden/minatar_reference_stats.json";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  const auto fixture = nlohmann::json::parse(in);
  EXPECT_EQ(fixture["source"]["version"], "1.0.15");
  const std::vector<std::string> games = MinAtarGames();
  EXPECT_EQ(games, (std::vector<std::string>{"asterix", "breakout", "freeway",
                                             "seaquest", "space_invaders"}));
  for (const std::string& game : games) {
    const auto range = MinAtarScoreRange(game);
    ASSERT_TRUE(range.has_value()) << game;
    EXPECT_DOUBLE_EQ(range->random,
                     fixture["games"][game]["policies"]["random"]["return_mean"]
                         .get<double>())
        << game;
  }
  EXPECT_EQ(MinAtarScoreRange("asterix")->reference, 17.1);
  EXPECT_EQ(MinAtarScoreRange("breakout")->reference, 10.0);
  EXPECT_EQ(MinAtarScoreRange("freeway")->reference, 50.2);
  EXPECT_EQ(MinAtarScoreRange("seaquest")->reference, 20.2);
  EXPECT_EQ(MinAtarScoreRange("space_invaders")->reference, 43.3);
  EXPECT_FALSE(MinAtarScoreRange("pong").has_value());
}

// Spot checks against Dopamine's normalization_utils.py / Agent57 table H.4
// (docs/normalization.md).
TEST(NormalizationTest, AtariSpotChecks) {
  struct Case {
    const char* game;
    double random, human;
  };
  for (const Case& c :
       {Case{"pong", -20.7, 14.6}, Case{"breakout", 1.7, 30.5},
        Case{"montezuma_revenge", 0.0, 4753.3},
        Case{"skiing", -17098.1, -4336.9}, Case{"video_pinball", 0.0, 17667.9},
        Case{"defender", 2874.5, 18688.9}, Case{"surround", -10.0, 6.5},
        Case{"private_eye", 24.9, 69571.3}, Case{"seaquest", 68.4, 42054.7}}) {
    const auto range = AtariHumanScoreRange(c.game);
    ASSERT_TRUE(range.has_value()) << c.game;
    EXPECT_EQ(range->random, c.random) << c.game;
    EXPECT_EQ(range->reference, c.human) << c.game;
  }
}

TEST(NormalizationTest, AtariTableShape) {
  const std::vector<std::string> games = AtariGames();
  EXPECT_EQ(games.size(), 57u);
  EXPECT_TRUE(std::is_sorted(games.begin(), games.end()));
  EXPECT_EQ(std::set<std::string>(games.begin(), games.end()).size(), 57u);
  for (const std::string& game : games) {
    const auto range = AtariHumanScoreRange(game);
    ASSERT_TRUE(range.has_value()) << game;
    EXPECT_GT(range->reference, range->random) << game;
  }
  // Games of the 60-game set with no human score in the standard table.
  for (const char* game : {"air_raid", "carnival", "pooyan", "journey_escape",
                           "elevator_action"}) {
    EXPECT_FALSE(AtariHumanScoreRange(game).has_value()) << game;
  }
}

TEST(NormalizationTest, GameNamesIgnoreCaseAndUnderscores) {
  const auto expected = AtariHumanScoreRange("space_invaders");
  ASSERT_TRUE(expected.has_value());
  for (const char* name :
       {"SpaceInvaders", "spaceinvaders", "SPACE_INVADERS", "Space_Invaders"}) {
    const auto range = AtariHumanScoreRange(name);
    ASSERT_TRUE(range.has_value()) << name;
    EXPECT_EQ(range->random, expected->random);
    EXPECT_EQ(range->reference, expected->reference);
  }
  EXPECT_TRUE(MinAtarScoreRange("SpaceInvaders").has_value());
  EXPECT_TRUE(AtariHumanScoreRange("MontezumaRevenge").has_value());
  EXPECT_FALSE(AtariHumanScoreRange("").has_value());
  EXPECT_FALSE(AtariHumanScoreRange("___").has_value());
  EXPECT_FALSE(AtariHumanScoreRange("space invaders").has_value());
}

TEST(NormalizationTest, EnvIds) {
  EXPECT_EQ(GameOfEnv("minatar/space_invaders(sticky=0)"), "space_invaders");
  EXPECT_EQ(GameOfEnv("minatar/breakout"), "breakout");
  EXPECT_EQ(GameOfEnv("ale/Pong(frameskip=4)"), "Pong");
  EXPECT_EQ(GameOfEnv("breakout"), "breakout");
  EXPECT_EQ(NormalizationForEnv("minatar/breakout(sticky=0.1)"),
            Normalization::kMinAtar);
  EXPECT_EQ(NormalizationForEnv("ale/pong"), Normalization::kAtariHuman);
  EXPECT_EQ(NormalizationForEnv("atari/Pong"), Normalization::kAtariHuman);
  EXPECT_EQ(NormalizationForEnv("toy/catch"), Normalization::kNone);
  EXPECT_EQ(NormalizationForEnv("breakout"), Normalization::kNone);
}

TEST(NormalizationTest, ScoreRangeFor) {
  const ScoreRange none = ScoreRangeFor(Normalization::kNone, "toy/catch");
  EXPECT_EQ(none.random, 0);
  EXPECT_EQ(none.reference, 1);
  const ScoreRange breakout =
      ScoreRangeFor(Normalization::kMinAtar, "minatar/breakout(sticky=0)");
  EXPECT_EQ(breakout.random, 0.469);
  EXPECT_EQ(breakout.reference, 10.0);
  const ScoreRange pong = ScoreRangeFor(Normalization::kAtariHuman, "ale/Pong");
  EXPECT_EQ(pong.random, -20.7);
}

TEST(NormalizationTest, MissingGameIsAnError) {
  const std::string minatar = ErrorOf(
      [] { ScoreRangeFor(Normalization::kMinAtar, "minatar/pong(sticky=0)"); });
  EXPECT_TRUE(Contains(minatar, "game 'pong'"));
  EXPECT_TRUE(Contains(minatar, "'minatar'"));
  EXPECT_TRUE(Contains(minatar, "asterix, breakout"));
  const std::string atari =
      ErrorOf([] { ScoreRangeFor(Normalization::kAtariHuman, "ale/AirRaid"); });
  EXPECT_TRUE(Contains(atari, "game 'AirRaid'"));
  EXPECT_TRUE(Contains(atari, "atari-human"));
}

TEST(NormalizationTest, NormalizeMapsRandomToZeroAndReferenceToOne) {
  for (const std::string& game : AtariGames()) {
    const ScoreRange r = *AtariHumanScoreRange(game);
    EXPECT_DOUBLE_EQ(Normalize(r.random, r), 0.0) << game;
    EXPECT_DOUBLE_EQ(Normalize(r.reference, r), 1.0) << game;
  }
  const ScoreRange breakout = *MinAtarScoreRange("breakout");
  // (5.2345 - 0.469) / (10 - 0.469) = 0.5
  EXPECT_DOUBLE_EQ(Normalize(5.2345, breakout), 0.5);
}

}  // namespace
}  // namespace tokrl::stats
