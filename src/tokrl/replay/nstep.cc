#include "tokrl/replay/nstep.h"

#include <algorithm>
#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl {

NStepAccumulator::NStepAccumulator(int num_envs, int n_step, double gamma)
    : num_envs_(num_envs), n_(n_step), gamma_(gamma) {
  TOKRL_CHECK_GE(num_envs, 1) << "NStepAccumulator num_envs";
  TOKRL_CHECK_GE(n_step, 1) << "NStepAccumulator n_step";
  TOKRL_CHECK(gamma >= 0.0 && gamma <= 1.0)
      << "NStepAccumulator gamma must be in [0, 1], got " << gamma;
  gamma_pow_.resize(static_cast<size_t>(n_ + 1));
  gamma_pow_[0] = 1.0;
  for (int k = 1; k <= n_; ++k) gamma_pow_[k] = gamma_pow_[k - 1] * gamma_;
  count_.assign(static_cast<size_t>(num_envs_), 0);
  last_row_.assign(static_cast<size_t>(num_envs_), -1);
  returns_.assign(static_cast<size_t>(num_envs_) * n_, 0.0);
}

void NStepAccumulator::Step(int env, int64_t row, float reward, bool terminated,
                            bool truncated,
                            std::vector<NStepTransition>* ready) {
  TOKRL_DCHECK(env >= 0 && env < num_envs_);
  const auto e = static_cast<size_t>(env);
  int32_t& count = count_[e];
  TOKRL_CHECK(count == 0 || row == last_row_[e] + 1)
      << "NStepAccumulator: env " << env << " stepped at row " << row
      << " after row " << last_row_[e] << " with open transitions";

  // 1. A transition with all n rewards waited for its bootstrap observation,
  //    which the caller has just stored at `row`.
  if (count == n_) {
    const int64_t oldest = row - n_;
    ready->push_back({.env = env,
                      .row = oldest,
                      .ret = static_cast<float>(OpenReturn(env, oldest)),
                      .discount = static_cast<float>(gamma_pow_[n_]),
                      .steps = n_,
                      .bootstrap_is_final = false});
    --count;
  }

  // 2. Open a transition at `row` and add this reward to every open one:
  //    the transition at row p receives gamma^(row - p) * reward.
  OpenReturn(env, row) = 0.0;
  ++count;
  last_row_[e] = row;
  for (int32_t age = 0; age < count; ++age) {
    OpenReturn(env, row - age) += gamma_pow_[age] * static_cast<double>(reward);
  }

  // 3. An episode end closes every open transition; none crosses it.
  if (terminated || truncated) {
    for (int32_t age = count - 1; age >= 0; --age) {
      const int64_t p = row - age;
      const int32_t steps = age + 1;
      ready->push_back({.env = env,
                        .row = p,
                        .ret = static_cast<float>(OpenReturn(env, p)),
                        .discount = terminated
                                        ? 0.0f
                                        : static_cast<float>(gamma_pow_[steps]),
                        .steps = steps,
                        .bootstrap_is_final = true});
    }
    count = 0;
  }
}

void NStepAccumulator::Clear() {
  std::fill(count_.begin(), count_.end(), 0);
  std::fill(last_row_.begin(), last_row_.end(), -1);
  std::fill(returns_.begin(), returns_.end(), 0.0);
}

void NStepAccumulator::Save(ReplayFileWriter& out) const {
  out.WriteArray(count_);
  out.WriteArray(last_row_);
  out.WriteArray(returns_);
}

void NStepAccumulator::Load(ReplayFileReader& in) {
  in.ReadArray(&count_, num_envs_, "nstep.open_counts");
  in.ReadArray(&last_row_, num_envs_, "nstep.last_rows");
  in.ReadArray(&returns_, static_cast<int64_t>(num_envs_) * n_,
               "nstep.open_returns");
  for (int32_t c : count_) {
    if (c < 0 || c > n_) in.Fail("nstep open count out of range");
  }
}

}  // namespace tokrl
