// NStepAccumulator: per-env n-step returns that never cross episode ends.
//
// The replay buffer stores one row per Add (one step of every env). For each
// env the accumulator keeps the transitions whose n-step return is still
// open (at most n of them, all in the current episode) and reports each one,
// exactly once, at the moment it becomes sampleable.
//
// For the transition that acted at row t of env e, with rewards r_t, r_t+1, ...
// of the same env:
//
//   * No episode end within n steps (the steps at rows t..t+n-1 are neither
//     terminated nor truncated):
//       return   = sum_{k<n} gamma^k r_{t+k}
//       discount = gamma^n,  steps = n,  bootstrap_is_final = false
//     The bootstrap observation s_{t+n} is the observation stored at row t+n
//     (the one acted on next), so the transition is reported by the Step call
//     for row t+n, i.e. one Add after its n-th reward arrived.
//
//   * The episode ends at row t+k-1 with k <= n (the k-th step of the
//     transition is terminated or truncated):
//       return   = sum_{j<k} gamma^j r_{t+j}   (stops at the end)
//       discount = 0 if terminated, gamma^k if truncated
//       steps = k,  bootstrap_is_final = true
//     The bootstrap observation is the episode's final observation (VecEnv's
//     next_obs of the ending step), which the buffer keeps with row t+k-1.
//     Every open transition of the env is reported by the Step call for the
//     ending row, oldest first.
//
// A Step call reports, in order: the transition waiting for its bootstrap row
// (if any), then, if the step ended the episode, all open transitions. Rows
// of one env must be consecutive (each Step's row = the previous one + 1)
// while transitions are open. Returns are accumulated in double precision
// and reported as float. If both terminated and truncated are set, the step
// counts as terminated.
//
// Torch-free; not thread-safe.
#ifndef TOKRL_REPLAY_NSTEP_H_
#define TOKRL_REPLAY_NSTEP_H_

#include <cstdint>
#include <vector>

#include "tokrl/replay/serialization.h"

namespace tokrl {

struct NStepTransition {
  int env = 0;
  int64_t row = 0;        // the row of s_t (where the transition is stored)
  float ret = 0.0f;       // discounted reward sum (see the header comment)
  float discount = 0.0f;  // gamma^steps, or 0 when terminated
  int32_t steps = 0;      // number of rewards summed, 1..n
  bool bootstrap_is_final = false;  // bootstrap from the episode's final obs
                                    // (kept with row + steps - 1), else from
                                    // the obs stored at row + n
};

class NStepAccumulator {
 public:
  NStepAccumulator(int num_envs, int n_step, double gamma);

  // Records the step of env `env` stored at `row` with its reward and end
  // flags; appends the transitions that became sampleable to *ready (which
  // is not cleared).
  void Step(int env, int64_t row, float reward, bool terminated, bool truncated,
            std::vector<NStepTransition>* ready);

  // Number of open transitions of `env` (0..n).
  int open(int env) const { return count_[static_cast<size_t>(env)]; }
  int num_envs() const { return num_envs_; }
  int n_step() const { return n_; }
  double gamma() const { return gamma_; }

  // Drops every open transition (e.g. when a buffer is cleared).
  void Clear();

  void Save(ReplayFileWriter& out) const;
  // Reads state written by Save of an accumulator with the same num_envs and
  // n_step; throws tokrl::Error (via `in`) otherwise.
  void Load(ReplayFileReader& in);

 private:
  double& OpenReturn(int env, int64_t row) {
    return returns_[static_cast<size_t>(env * n_ + row % n_)];
  }

  int num_envs_;
  int n_;
  double gamma_;
  std::vector<double> gamma_pow_;  // gamma^0 .. gamma^n
  // Per env: the open transitions are rows last_row_ - count_ + 1 .. last_row_
  // (consecutive, same episode); their partial returns live in a ring of n
  // slots indexed by row % n.
  std::vector<int32_t> count_;
  std::vector<int64_t> last_row_;
  std::vector<double> returns_;
};

}  // namespace tokrl

#endif  // TOKRL_REPLAY_NSTEP_H_
