// ReplayBuffer: circular experience replay for vectorized environments.
//
// The buffer is composed of three parts, as in Dopamine:
//   storage      (this class)   one uint8 frame plus per-step metadata per
//                               slot in a ring of rows; frame stacks are
//                               reassembled at sample time;
//   accumulator  (nstep.h)      per-env n-step returns that never cross an
//                               episode end or mix envs;
//   sampler      (sampler.h)    uniform, or proportional prioritized through
//                               a SumTree (sum_tree.h).
//
// Rows and slots
//   Every Add call writes one row: one step of each of the N = num_envs envs.
//   The ring holds R = capacity / N rows (capacity() = R * N; a capacity that
//   is not a multiple of N is rounded down). Slot index = (row % R) * N + env;
//   SampledBatch::indices are slot indices and are what UpdatePriorities
//   takes. When the ring is full, Add overwrites the oldest row.
//
// Typical use with a VecEnv (same-step auto-reset, see env/vec_env.h):
//   std::vector<uint8_t> obs(venv.obs().begin(), venv.obs().end());
//   venv.Step(actions);
//   buffer.Add(obs, actions, venv.reward(), venv.terminated(),
//              venv.truncated(), venv.next_obs());
//   obs.assign(venv.obs().begin(), venv.obs().end());   // and repeat
// `obs` is the observation each env acted on; `next_obs` is the observation
// the action led to, which for an ended episode is its final observation
// (not the first observation of the next episode).
//
// What a sampled transition contains (slot of env e acting at row t)
//   obs        the frame stack at t: frames t-F+1 .. t of env e (F =
//              frame_stack), oldest first along the channel axis, i.e.
//              channels [j*C, (j+1)*C) hold frame t-F+1+j. Frames from before
//              the episode's first step are all zeros (Dopamine's padding).
//              Stacks are rebuilt from single stored frames; stacked
//              observations are never stored.
//   action     the action taken at t.
//   return     sum_{k<K} gamma^k r_{t+k} over K <= n steps of the same env
//              and episode (see nstep.h for the exact rule).
//   discount   gamma^K, or 0 if the episode terminated within those K steps.
//              A truncation (time limit) ends the sum at K steps but keeps
//              gamma^K, bootstrapping from the truncated episode's final
//              observation.
//   next_obs   the frame stack of s_{t+K}: the stored obs at row t+n when
//              the episode did not end within n steps, else the episode's
//              final observation (also for terminations, although the target
//              ignores it there), stacked with the frames before it in the
//              same episode, zero-padded at the episode start.
//   weight     importance weight, see Sample.
//
// When does a transition become sampleable?
//   * If its episode ends (terminated or truncated) within n steps: in the
//     Add call that reports the end.
//   * Otherwise: in the Add call n calls after its own, i.e. when the
//     observation s_{t+n} it bootstraps from has been stored. So with n = 1 a
//     transition that does not end its episode becomes sampleable in the
//     next Add.
//   It stops being sampleable, for good, when its row is about to lose its
//   frame-stack history: writing row w removes row w - R + F - 1 (for F = 1,
//   the row being overwritten). Hence at most (F - 1) * N slots of a full
//   ring are unsampleable, plus the newest transitions still waiting for
//   their n-step lookahead (at most n * N). Sample never returns an
//   unwritten, overwritten, history-less or not-yet-complete slot.
//
// Memory: C*H*W bytes per slot for frames, ~20 bytes of metadata (plus 16-32
// for the sampler), and one extra frame per stored episode end (kept in a
// recycled pool, so steady-state Add calls do not allocate).
//
// Not thread-safe. Sampling randomness comes only from the Rng passed to
// Sample, so equal buffer state + equal Rng state give identical batches.
#ifndef TOKRL_REPLAY_REPLAY_BUFFER_H_
#define TOKRL_REPLAY_REPLAY_BUFFER_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "tokrl/core/options_table.h"
#include "tokrl/core/rng.h"
#include "tokrl/replay/nstep.h"
#include "tokrl/replay/sampler.h"

namespace tokrl {

struct ReplayOptions {
  // Transitions held (rounded down to a multiple of num_envs). The ring must
  // hold at least n_step + frame_stack rows.
  int64_t capacity = 100'000;
  int num_envs = 1;
  // {C, H, W} of ONE frame, as EnvSpec::obs_shape.
  std::vector<int64_t> obs_shape;
  // Frames per sampled observation (1 = no stacking).
  int frame_stack = 1;
  // Steps per return (1 = one-step TD).
  int n_step = 1;
  double gamma = 0.99;
  // Proportional prioritized replay (Schaul et al. 2016) instead of uniform.
  bool prioritized = false;
  // Priority exponent: tree priority = (p + priority_eps)^alpha.
  double alpha = 0.5;
  // Importance-sampling exponent used by Sample(batch, rng): fixed, as in
  // Dopamine; Sample(batch, rng, beta) takes an annealed one.
  double beta = 0.5;
  // Added to raw priorities before the exponent. 1e-10 with alpha 0.5
  // reproduces Dopamine Rainbow's sqrt(loss + 1e-10).
  double priority_eps = 1e-10;
  // On a CUDA train.device, the trainer mirrors the stored frames there
  // (MirrorFrames), so batches are assembled on the device. Changes no
  // result; no effect on the CPU.
  bool device_frames = true;
};

// The config keys of ReplayOptions (`replay.<name>`): capacity,
// prioritized, alpha, beta, priority_eps, device_frames. The others come from
// the env (num_envs, obs_shape, frame_stack) and the agent (n_step, gamma).
const OptionsTable<ReplayOptions>& ReplayOptionsTable();

// One sampled batch, B = batch size, F = frame_stack. On the CPU, except
// with MirrorFrames(device): then every field but `indices` is on `device`.
struct SampledBatch {
  torch::Tensor obs;        // uint8 [B, C*F, H, W]
  torch::Tensor actions;    // int64 [B]
  torch::Tensor returns;    // float [B], n-step discounted reward sums
  torch::Tensor discounts;  // float [B], gamma^K or 0 (terminated)
  torch::Tensor next_obs;   // uint8 [B, C*F, H, W]
  torch::Tensor indices;    // int64 [B], slots (for UpdatePriorities)
  torch::Tensor weights;    // float [B], importance weights (max = 1)

  // The six fields an update reads (all but `indices`) in a fixed order:
  // what ToDevice moves and what a graphed update takes as static inputs.
  std::array<torch::Tensor*, 6> update_fields() {
    return {&obs, &actions, &returns, &discounts, &next_obs, &weights};
  }
  std::array<const torch::Tensor*, 6> update_fields() const {
    return {&obs, &actions, &returns, &discounts, &next_obs, &weights};
  }
};

class ReplayBuffer {
 public:
  // Throws tokrl::Error for invalid options.
  explicit ReplayBuffer(const ReplayOptions& options);
  ReplayBuffer(const ReplayBuffer&) = delete;
  ReplayBuffer& operator=(const ReplayBuffer&) = delete;
  ReplayBuffer(ReplayBuffer&&) noexcept;
  ReplayBuffer& operator=(ReplayBuffer&&) noexcept;
  ~ReplayBuffer();

  // Stores one VecEnv step of all N envs (see the header comment):
  //   obs, next_obs         N * C*H*W bytes, env-major ([N, C, H, W]);
  //   actions, rewards      N values;
  //   terminated, truncated N flags (0/1); both set counts as terminated.
  // Throws tokrl::Error on size mismatches or negative actions. No heap
  // allocation in steady state.
  void Add(std::span<const uint8_t> obs, std::span<const int32_t> actions,
           std::span<const float> rewards, std::span<const uint8_t> terminated,
           std::span<const uint8_t> truncated,
           std::span<const uint8_t> next_obs);
  void Add(std::span<const uint8_t> obs, std::span<const int64_t> actions,
           std::span<const float> rewards, std::span<const uint8_t> terminated,
           std::span<const uint8_t> truncated,
           std::span<const uint8_t> next_obs);

  // Draws batch_size >= 1 transitions with replacement (size() > 0).
  //   uniform:      each sampleable slot with probability 1/size();
  //                 weights are all 1.
  //   prioritized:  P(i) = q_i / sum_j q_j (stratified, see sampler.h);
  //                 weights w_i = (size() * P(i))^-beta / max_j w_j, the max
  //                 taken over the batch (as Dopamine), so weights are in
  //                 (0, 1]. beta >= 0.
  // The one-argument form uses options().beta.
  // With MirrorFrames, the same batch (equal bytes and values), gathered on
  // the mirror's device.
  SampledBatch Sample(int64_t batch_size, Rng& rng, double beta);
  SampledBatch Sample(int64_t batch_size, Rng& rng) {
    return Sample(batch_size, rng, options_.beta);
  }

  // Sets raw priorities p (finite, >= 0; e.g. |TD error| or the C51 loss) of
  // sampled slots; the tree stores (p + eps)^alpha. Slots that stopped being
  // sampleable since they were drawn are skipped. No-op for uniform replay
  // (after validating sizes). Tensors may be on any device, any numeric
  // dtype, shape [B].
  void UpdatePriorities(const torch::Tensor& indices,
                        const torch::Tensor& priorities);
  void UpdatePriorities(std::span<const int64_t> indices,
                        std::span<const double> priorities);

  // Sampleable transitions.
  int64_t size() const { return sampler_->size(); }
  // Slots: rows * num_envs.
  int64_t capacity() const { return rows_ * num_envs_; }
  // Add calls so far (rows written, including overwritten ones).
  int64_t num_adds() const { return rows_written_; }
  const ReplayOptions& options() const { return options_; }
  const Sampler& sampler() const { return *sampler_; }

  // Keeps a copy of every stored frame (and final observation) on `device`,
  // updated by Add and Load, so Sample gathers stacks there: per batch only
  // the frame indices and the scalar fields cross to the device, and each
  // frame crosses once, when added (and again when the final observations'
  // pool outgrows its room: the pool doubles and the host storage is
  // uploaded anew). Costs capacity() frames of device memory, plus the
  // pool, and never twice that: a mirror is released before its
  // replacement is allocated. The buffer on the host stays
  // the state (Save, Load, sampling decisions); the mirror changes no
  // result. Calling it again moves the mirror.
  void MirrorFrames(torch::Device device);
  bool frames_mirrored() const { return mirror_.defined(); }

  // Drops every transition and open n-step return; keeps the options.
  void Clear();

  // Writes the complete state (storage, open n-step returns, episode
  // boundaries, sampler priorities) to `path`, atomically (temporary file +
  // rename). A buffer Loaded from it continues exactly: the same Adds and
  // Samples with equal Rng state give identical results.
  void Save(const std::filesystem::path& path) const;
  // Replaces this buffer's state with the file's. The file must have been
  // saved by a buffer with equal options (capacity, num_envs, obs_shape,
  // frame_stack, n_step, gamma, prioritized, alpha, priority_eps; beta may
  // differ). Throws tokrl::Error naming the file and the problem (bad magic,
  // unsupported version, option mismatch, truncation, corruption); on error
  // the buffer is left empty (as after Clear).
  void Load(const std::filesystem::path& path);

 private:
  // Per-slot flag bits.
  enum : uint8_t {
    kFirstStep = 1,       // first step of an episode (stack padding stops)
    kEpisodeEnd = 2,      // episode ended here; final_ref_ holds its obs
    kBootstrapFinal = 4,  // next_obs = final obs of row + steps - 1
    kSampleable = 8,
  };

  template <typename ActionT>
  void AddImpl(std::span<const uint8_t> obs, std::span<const ActionT> actions,
               std::span<const float> rewards,
               std::span<const uint8_t> terminated,
               std::span<const uint8_t> truncated,
               std::span<const uint8_t> next_obs);
  int64_t Slot(int64_t row, int env) const {
    return (row % rows_) * num_envs_ + env;
  }
  // Removes every slot of logical row `row` from the sampler.
  void InvalidateRow(int64_t row);
  // The F frames of the stack ending at physical row `prow` of `env`,
  // oldest first, into `src`, as frame numbers: slot s < capacity(), the
  // zero frame capacity(), or final observation r at capacity() + 1 + r
  // (the mirror's rows). If `final_obs`, the newest frame is the stored
  // final observation of that slot and `prow` supplies the frames before it.
  void StackSources(int64_t prow, int env, bool final_obs, int64_t* src) const;
  // Writes the n frames numbered `src` (as StackSources') into `out`
  // (n * frame bytes).
  void WriteFrames(const int64_t* src, int64_t n, uint8_t* out) const;
  // Copies final observation `ref` into the mirror, growing it if needed.
  void MirrorFinal(int32_t ref);
  // Replaces the mirror by an uninitialized one on `device` with room for
  // `pool_rows` final observations, releasing the old one first: the device
  // never holds two mirrors.
  void AllocateMirror(int64_t pool_rows, torch::Device device);
  // Copies the whole host storage into the mirror (reallocated if the host's
  // pool outgrew it).
  void UploadMirror();
  void WriteHeader(ReplayFileWriter& out) const;
  void ReadHeader(ReplayFileReader& in) const;
  void LoadState(ReplayFileReader& in);
  void ValidateState(ReplayFileReader& in) const;

  ReplayOptions options_;
  int num_envs_;
  int frame_stack_;
  int64_t frame_size_;  // C*H*W bytes
  int64_t rows_;        // R
  int64_t rows_written_ = 0;

  // Storage, indexed by slot.
  std::vector<uint8_t> frames_;  // [R * N * frame_size_]
  std::vector<int32_t> actions_;
  std::vector<float> returns_;
  std::vector<float> discounts_;
  std::vector<int32_t> steps_;  // K of the transition
  std::vector<uint8_t> flags_;
  std::vector<int32_t> final_ref_;  // index into final_frames_, or -1
  // Final observations of ended episodes, recycled through a free list.
  std::vector<uint8_t> final_frames_;
  std::vector<int32_t> free_finals_;
  // Per env: whether the next Add starts an episode.
  std::vector<uint8_t> episode_start_;

  NStepAccumulator nstep_;
  std::unique_ptr<Sampler> sampler_;

  // MirrorFrames' device copy: [capacity() + 1 + pool, frame_size_] uint8,
  // rows numbered as StackSources'; undefined without a mirror.
  torch::Tensor mirror_;

  // Scratch reused across calls.
  std::vector<NStepTransition> ready_;
  std::vector<int64_t> sample_slots_;
  std::vector<int64_t> sample_sources_;  // StackSources of obs, next_obs
  std::vector<double> sample_probs_;
};

}  // namespace tokrl

#endif  // TOKRL_REPLAY_REPLAY_BUFFER_H_
