#include "tokrl/env/toy/catch.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "tokrl/core/bytes.h"
#include "tokrl/core/check.h"
#include "tokrl/env/registry.h"

namespace tokrl {

CatchEnv::CatchEnv(int rows, int columns) : rows_(rows), columns_(columns) {
  TOKRL_CHECK_GE(rows, 2) << "catch needs at least 2 rows";
  TOKRL_CHECK_GE(columns, 1) << "catch needs at least 1 column";
  spec_.id = "toy/catch(columns=" + std::to_string(columns) +
             ",rows=" + std::to_string(rows) + ")";
  spec_.obs_shape = {2, rows, columns};
  spec_.num_actions = 3;
  spec_.action_names = {"left", "stay", "right"};
}

std::unique_ptr<Env> CatchEnv::Clone() const {
  return std::make_unique<CatchEnv>(*this);
}

std::string CatchEnv::SaveState() const {
  ByteWriter w;
  w.PutString(spec_.id).Put(rng_.state()).Put(ball_row_).Put(ball_column_);
  w.Put(paddle_column_).Put(terminated_);
  return w.str();
}

void CatchEnv::LoadState(std::string_view blob) {
  ByteReader r(blob, "saved state of " + spec_.id);
  TOKRL_CHECK_EQ(r.GetString(), spec_.id)
      << "saved env state belongs to another env";
  const auto rng_state = r.Get<std::array<uint64_t, 4>>();
  const int ball_row = r.Get<int>(), ball_column = r.Get<int>();
  const int paddle = r.Get<int>();
  const bool terminated = r.Get<bool>();
  r.ExpectDone();
  TOKRL_CHECK(ball_row >= 0 && ball_row < rows_ && ball_column >= 0 &&
              ball_column < columns_ && paddle >= 0 && paddle < columns_)
      << "saved state of " << spec_.id << " is corrupt";
  rng_.set_state(rng_state);
  ball_row_ = ball_row;
  ball_column_ = ball_column;
  paddle_column_ = paddle;
  terminated_ = terminated;
}

void CatchEnv::Render(ObsSpan obs) const {
  std::memset(obs.data(), 0, obs.size());
  const int plane = rows_ * columns_;
  obs[ball_row_ * columns_ + ball_column_] = 1;
  obs[plane + (rows_ - 1) * columns_ + paddle_column_] = 1;
}

void CatchEnv::Reset(ObsSpan obs) {
  ball_row_ = 0;
  ball_column_ =
      static_cast<int>(rng_.UniformInt(static_cast<uint32_t>(columns_)));
  paddle_column_ = columns_ / 2;
  terminated_ = false;
  Render(obs);
}

StepResult CatchEnv::Step(int action, ObsSpan obs) {
  if (action < 0 || action >= 3) {
    TOKRL_FAIL() << "action " << action << " out of range [0, 3) for toy/catch";
  }
  StepResult result;
  if (terminated_) {  // Stepping a finished episode changes nothing.
    result.terminated = true;
    Render(obs);
    return result;
  }
  paddle_column_ = std::clamp(paddle_column_ + action - 1, 0, columns_ - 1);
  ++ball_row_;
  if (ball_row_ == rows_ - 1) {
    result.terminated = terminated_ = true;
    result.reward = ball_column_ == paddle_column_ ? 1.0f : -1.0f;
  }
  Render(obs);
  return result;
}

void RegisterCatchEnv() {
  RegisterEnv("toy/catch",
              "Catch: a falling ball and a paddle (bsuite-style toy)",
              [](EnvOptions& options) -> std::unique_ptr<Env> {
                const int rows = options.GetInt("rows", 10, 2, 1000);
                const int columns = options.GetInt("columns", 5, 1, 1000);
                return std::make_unique<CatchEnv>(rows, columns);
              });
}

}  // namespace tokrl
