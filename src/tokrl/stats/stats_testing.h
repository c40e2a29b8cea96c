// Helpers for the tokrl/stats tests (never used by the library).
#ifndef TOKRL_STATS_STATS_TESTING_H_
#define TOKRL_STATS_STATS_TESTING_H_

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats::testing {

using ::tokrl::Contains;

// tests/golden/stats_reference.json, written by tools/gen_stats_golden.py
// (scipy / numpy reference values).
inline nlohmann::json LoadStatsGolden() {
  const auto path = SourceDir() / "tests/golden/stats_reference.json";
  std::ifstream in(path);
  TOKRL_CHECK(in.good()) << "cannot open " << Quoted(path);
  return nlohmann::json::parse(in);
}

inline ScoreMatrix MatrixFromJson(const nlohmann::json& rows) {
  return ScoreMatrix::FromRows(rows.get<std::vector<std::vector<double>>>());
}

// A runs x tasks matrix of N(mean, sd^2)-ish values (sum of uniforms), or
// integers in [0, levels) when levels > 0 (to get ties).
inline ScoreMatrix RandomMatrix(Rng& rng, int64_t runs, int64_t tasks,
                                double mean = 0, double sd = 1,
                                int levels = 0) {
  std::vector<double> values(static_cast<size_t>(runs * tasks));
  for (double& v : values) {
    if (levels > 0) {
      v = static_cast<double>(rng.UniformInt(static_cast<uint32_t>(levels)));
    } else {
      double s = 0;
      for (int i = 0; i < 12; ++i) s += rng.Uniform();
      v = mean + sd * (s - 6);
    }
  }
  return ScoreMatrix(runs, tasks, std::move(values));
}

}  // namespace tokrl::stats::testing

#endif  // TOKRL_STATS_STATS_TESTING_H_
