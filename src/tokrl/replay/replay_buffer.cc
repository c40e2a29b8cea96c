#include "tokrl/replay/replay_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/replay/serialization.h"

namespace tokrl {

namespace {

constexpr char kMagic[8] = {'T', 'O', 'K', 'R', 'L', 'R', 'P', 'B'};
constexpr uint32_t kVersion = 1;

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << "]";
  return out.str();
}

std::unique_ptr<Sampler> MakeSampler(const ReplayOptions& options,
                                     int64_t capacity) {
  if (options.prioritized) {
    return std::make_unique<PrioritizedSampler>(capacity, options.alpha,
                                                options.priority_eps);
  }
  return std::make_unique<UniformSampler>(capacity);
}

// Validates the options and returns the number of rows in the ring.
int64_t CheckedRows(const ReplayOptions& o) {
  TOKRL_CHECK_GE(o.num_envs, 1) << "ReplayOptions.num_envs";
  TOKRL_CHECK_EQ(o.obs_shape.size(), 3u)
      << "ReplayOptions.obs_shape must be {C, H, W}, got "
      << ShapeString(o.obs_shape);
  for (int64_t d : o.obs_shape) {
    TOKRL_CHECK_GT(d, 0) << "ReplayOptions.obs_shape "
                         << ShapeString(o.obs_shape);
  }
  TOKRL_CHECK_GE(o.frame_stack, 1) << "ReplayOptions.frame_stack";
  TOKRL_CHECK_GE(o.n_step, 1) << "ReplayOptions.n_step";
  TOKRL_CHECK(o.gamma >= 0.0 && o.gamma <= 1.0)
      << "ReplayOptions.gamma must be in [0, 1], got " << o.gamma;
  TOKRL_CHECK(o.capacity >= 1 && o.capacity <= INT32_MAX)
      << "ReplayOptions.capacity " << o.capacity << " out of range";
  const int64_t rows = o.capacity / o.num_envs;
  // A transition needs its own row, n rows of lookahead and F - 1 rows of
  // stack history alive at once; see the invalidation rule in the header.
  TOKRL_CHECK_GE(rows, o.n_step + o.frame_stack)
      << "ReplayOptions.capacity " << o.capacity << " / num_envs " << o.num_envs
      << " gives too few rows for n_step " << o.n_step << " and frame_stack "
      << o.frame_stack;
  return rows;
}

}  // namespace

ReplayBuffer::ReplayBuffer(const ReplayOptions& options)
    : options_(options),
      num_envs_(options.num_envs),
      frame_stack_(options.frame_stack),
      frame_size_(0),
      rows_(CheckedRows(options)),
      nstep_(options.num_envs, options.n_step, options.gamma),
      sampler_(MakeSampler(options, rows_ * options.num_envs)) {
  frame_size_ =
      options_.obs_shape[0] * options_.obs_shape[1] * options_.obs_shape[2];
  const auto slots = static_cast<size_t>(capacity());
  frames_.assign(slots * static_cast<size_t>(frame_size_), 0);
  actions_.assign(slots, 0);
  returns_.assign(slots, 0.0f);
  discounts_.assign(slots, 0.0f);
  steps_.assign(slots, 0);
  flags_.assign(slots, 0);
  final_ref_.assign(slots, -1);
  episode_start_.assign(static_cast<size_t>(num_envs_), 1);
  ready_.reserve(static_cast<size_t>(num_envs_) * (options_.n_step + 1));
}

ReplayBuffer::ReplayBuffer(ReplayBuffer&&) noexcept = default;
ReplayBuffer& ReplayBuffer::operator=(ReplayBuffer&&) noexcept = default;
ReplayBuffer::~ReplayBuffer() = default;

void ReplayBuffer::Add(std::span<const uint8_t> obs,
                       std::span<const int32_t> actions,
                       std::span<const float> rewards,
                       std::span<const uint8_t> terminated,
                       std::span<const uint8_t> truncated,
                       std::span<const uint8_t> next_obs) {
  AddImpl(obs, actions, rewards, terminated, truncated, next_obs);
}

void ReplayBuffer::Add(std::span<const uint8_t> obs,
                       std::span<const int64_t> actions,
                       std::span<const float> rewards,
                       std::span<const uint8_t> terminated,
                       std::span<const uint8_t> truncated,
                       std::span<const uint8_t> next_obs) {
  AddImpl(obs, actions, rewards, terminated, truncated, next_obs);
}

void ReplayBuffer::InvalidateRow(int64_t row) {
  for (int env = 0; env < num_envs_; ++env) {
    const int64_t slot = Slot(row, env);
    if (flags_[static_cast<size_t>(slot)] & kSampleable) {
      sampler_->Remove(slot);
      flags_[static_cast<size_t>(slot)] &= ~kSampleable;
    }
  }
}

template <typename ActionT>
void ReplayBuffer::AddImpl(std::span<const uint8_t> obs,
                           std::span<const ActionT> actions,
                           std::span<const float> rewards,
                           std::span<const uint8_t> terminated,
                           std::span<const uint8_t> truncated,
                           std::span<const uint8_t> next_obs) {
  const auto n = static_cast<size_t>(num_envs_);
  const auto batch_bytes = n * static_cast<size_t>(frame_size_);
  TOKRL_CHECK_EQ(obs.size(), batch_bytes) << "ReplayBuffer::Add obs bytes";
  TOKRL_CHECK_EQ(next_obs.size(), batch_bytes)
      << "ReplayBuffer::Add next_obs bytes";
  TOKRL_CHECK_EQ(actions.size(), n) << "ReplayBuffer::Add actions";
  TOKRL_CHECK_EQ(rewards.size(), n) << "ReplayBuffer::Add rewards";
  TOKRL_CHECK_EQ(terminated.size(), n) << "ReplayBuffer::Add terminated";
  TOKRL_CHECK_EQ(truncated.size(), n) << "ReplayBuffer::Add truncated";
  for (size_t e = 0; e < n; ++e) {
    TOKRL_CHECK(actions[e] >= 0 && actions[e] <= INT32_MAX)
        << "ReplayBuffer::Add: invalid action " << actions[e] << " of env "
        << e;
  }

  const int64_t row = rows_written_;
  const int64_t prow = row % rows_;
  // Row `row - rows_ + F - 1` would need the frame about to be overwritten
  // for its stack (for F = 1 it is the overwritten row itself): it stops
  // being sampleable now. Older rows were removed by earlier Adds.
  const int64_t stale = row - rows_ + frame_stack_ - 1;
  if (stale >= 0) InvalidateRow(stale);
  // The overwritten row's final observations are no longer referenced: any
  // transition bootstrapping from them is at or before that row.
  if (row >= rows_) {
    for (int env = 0; env < num_envs_; ++env) {
      int32_t& ref = final_ref_[static_cast<size_t>(prow * num_envs_ + env)];
      if (ref >= 0) free_finals_.push_back(ref);
      ref = -1;
    }
  }

  // Store the row: frames are [N, C, H, W] like the VecEnv batch, so one copy.
  std::memcpy(frames_.data() + prow * num_envs_ * frame_size_, obs.data(),
              batch_bytes);
  if (mirror_.defined()) {
    mirror_.narrow(0, prow * num_envs_, num_envs_)
        .copy_(torch::from_blob(frames_.data() + prow * num_envs_ * frame_size_,
                                {num_envs_, frame_size_}, torch::kUInt8));
  }
  ready_.clear();
  for (int env = 0; env < num_envs_; ++env) {
    const auto e = static_cast<size_t>(env);
    const auto slot = static_cast<size_t>(prow * num_envs_ + env);
    const bool is_terminated = terminated[e] != 0;
    const bool ended = is_terminated || truncated[e] != 0;
    actions_[slot] = static_cast<int32_t>(actions[e]);
    returns_[slot] = 0.0f;
    discounts_[slot] = 0.0f;
    steps_[slot] = 0;
    flags_[slot] = episode_start_[e] ? kFirstStep : 0;
    if (ended) {
      int32_t ref;
      if (!free_finals_.empty()) {
        ref = free_finals_.back();
        free_finals_.pop_back();
      } else {
        ref = static_cast<int32_t>(final_frames_.size() /
                                   static_cast<size_t>(frame_size_));
        final_frames_.resize(final_frames_.size() +
                             static_cast<size_t>(frame_size_));
      }
      std::memcpy(final_frames_.data() + ref * frame_size_,
                  next_obs.data() + env * frame_size_,
                  static_cast<size_t>(frame_size_));
      if (mirror_.defined()) MirrorFinal(ref);
      final_ref_[slot] = ref;
      flags_[slot] |= kEpisodeEnd;
    }
    episode_start_[e] = ended ? 1 : 0;
    nstep_.Step(env, row, rewards[e], is_terminated, !is_terminated && ended,
                &ready_);
  }
  ++rows_written_;

  // Publish the transitions whose return and bootstrap observation are now
  // both stored.
  for (const NStepTransition& t : ready_) {
    const int64_t slot = Slot(t.row, t.env);
    const auto s = static_cast<size_t>(slot);
    returns_[s] = t.ret;
    discounts_[s] = t.discount;
    steps_[s] = t.steps;
    flags_[s] |= kSampleable | (t.bootstrap_is_final ? kBootstrapFinal : 0);
    sampler_->Add(slot);
  }
}

void ReplayBuffer::StackSources(int64_t prow, int env, bool final_obs,
                                int64_t* src) const {
  const int64_t zero = capacity();
  const int64_t slot = prow * num_envs_ + env;
  int64_t prev;
  bool in_episode;
  if (final_obs) {
    const int32_t ref = final_ref_[static_cast<size_t>(slot)];
    TOKRL_DCHECK(ref >= 0);
    src[frame_stack_ - 1] = zero + 1 + ref;
    prev = prow;  // the final obs follows the episode's last stored frame
    in_episode = true;
  } else {
    src[frame_stack_ - 1] = slot;
    prev = (prow + rows_ - 1) % rows_;
    in_episode = !(flags_[static_cast<size_t>(slot)] & kFirstStep);
  }
  for (int j = frame_stack_ - 2; j >= 0; --j) {
    if (in_episode) {
      const int64_t s = prev * num_envs_ + env;
      src[j] = s;
      in_episode = !(flags_[static_cast<size_t>(s)] & kFirstStep);
      prev = (prev + rows_ - 1) % rows_;
    } else {
      src[j] = zero;
    }
  }
}

void ReplayBuffer::WriteFrames(const int64_t* src, int64_t n,
                               uint8_t* out) const {
  const auto frame = static_cast<size_t>(frame_size_);
  const int64_t zero = capacity();
  for (int64_t j = 0; j < n; ++j, out += frame) {
    if (src[j] < zero) {
      std::memcpy(out, frames_.data() + src[j] * frame_size_, frame);
    } else if (src[j] == zero) {
      std::memset(out, 0, frame);
    } else {
      std::memcpy(out, final_frames_.data() + (src[j] - zero - 1) * frame_size_,
                  frame);
    }
  }
}

void ReplayBuffer::MirrorFrames(torch::Device device) {
  const int64_t pool = static_cast<int64_t>(final_frames_.size()) / frame_size_;
  AllocateMirror(std::max<int64_t>(pool, num_envs_), device);
  UploadMirror();
}

// Why the old mirror is released before the new one is allocated (and the
// new one filled from the host rather than from it): the mirror holds
// capacity() frames, 7 GB for a 1M-frame Atari replay; holding both for a
// copy (torch::cat) needed twice that on the device, at every growth of the
// final observations' pool. CUDA's caching allocator hands the released
// block back (or frees it) when the larger one does not fit beside it.
void ReplayBuffer::AllocateMirror(int64_t pool_rows, torch::Device device) {
  mirror_ = torch::Tensor();
  mirror_ =
      torch::empty({capacity() + 1 + pool_rows, frame_size_},
                   torch::TensorOptions().dtype(torch::kUInt8).device(device));
}

void ReplayBuffer::UploadMirror() {
  const int64_t slots = capacity();
  const int64_t pool = static_cast<int64_t>(final_frames_.size()) / frame_size_;
  if (mirror_.size(0) < slots + 1 + pool) {
    AllocateMirror(pool, mirror_.device());
  }
  const auto host = [this](uint8_t* data, int64_t rows) {
    return torch::from_blob(data, {rows, frame_size_}, torch::kUInt8);
  };
  mirror_.narrow(0, 0, slots).copy_(host(frames_.data(), slots));
  mirror_[slots].zero_();
  if (pool > 0) {
    mirror_.narrow(0, slots + 1, pool).copy_(host(final_frames_.data(), pool));
  }
}

void ReplayBuffer::MirrorFinal(int32_t ref) {
  const int64_t row = capacity() + 1 + ref;
  if (row >= mirror_.size(0)) {
    // Double the pool (it only grows until episode ends are recycled as fast
    // as they are stored) and upload everything, `ref` included.
    const int64_t pool = mirror_.size(0) - capacity() - 1;
    AllocateMirror(std::max<int64_t>(2 * pool, ref + 1), mirror_.device());
    UploadMirror();
    return;
  }
  mirror_[row].copy_(torch::from_blob(final_frames_.data() + ref * frame_size_,
                                      {frame_size_}, torch::kUInt8));
}

SampledBatch ReplayBuffer::Sample(int64_t batch_size, Rng& rng, double beta) {
  TOKRL_CHECK_GE(batch_size, 1) << "ReplayBuffer::Sample batch size";
  TOKRL_CHECK_GT(size(), 0) << "ReplayBuffer::Sample from an empty buffer";
  TOKRL_CHECK(std::isfinite(beta) && beta >= 0.0)
      << "ReplayBuffer::Sample beta must be >= 0, got " << beta;
  sampler_->Sample(batch_size, rng, &sample_slots_, &sample_probs_);

  const int64_t b = batch_size;
  const int64_t f = frame_stack_;
  const int64_t stacked_c = options_.obs_shape[0] * f;
  const int64_t h = options_.obs_shape[1], w = options_.obs_shape[2];
  SampledBatch batch;
  batch.indices = torch::empty({b}, torch::kInt64);
  auto* indices = batch.indices.data_ptr<int64_t>();
  // Where the loop below writes: the batch's own tensors, or for a mirror
  // two staging tensors (one copy each to the device): the obs and next_obs
  // frame numbers [2, B, F] then the actions [B]; returns, discounts and
  // weights [3, B].
  torch::Tensor ints, floats;
  int64_t *obs_src, *actions;
  float *returns, *discounts, *weights;
  if (mirror_.defined()) {
    ints = torch::empty({2 * b * f + b}, torch::kInt64);
    floats = torch::empty({3, b}, torch::kFloat32);
    obs_src = ints.data_ptr<int64_t>();
    actions = obs_src + 2 * b * f;
    returns = floats.data_ptr<float>();
    discounts = returns + b;
    weights = discounts + b;
  } else {
    sample_sources_.resize(static_cast<size_t>(2 * b * f));
    obs_src = sample_sources_.data();
    batch.actions = torch::empty({b}, torch::kInt64);
    batch.returns = torch::empty({b}, torch::kFloat32);
    batch.discounts = torch::empty({b}, torch::kFloat32);
    batch.weights = torch::empty({b}, torch::kFloat32);
    actions = batch.actions.data_ptr<int64_t>();
    returns = batch.returns.data_ptr<float>();
    discounts = batch.discounts.data_ptr<float>();
    weights = batch.weights.data_ptr<float>();
  }
  int64_t* next_src = obs_src + b * f;

  for (int64_t i = 0; i < b; ++i) {
    const int64_t slot = sample_slots_[static_cast<size_t>(i)];
    const auto s = static_cast<size_t>(slot);
    TOKRL_DCHECK(flags_[s] & kSampleable);
    const int64_t prow = slot / num_envs_;
    const int env = static_cast<int>(slot % num_envs_);
    StackSources(prow, env, /*final_obs=*/false, obs_src + i * f);
    if (flags_[s] & kBootstrapFinal) {
      StackSources((prow + steps_[s] - 1) % rows_, env, /*final_obs=*/true,
                   next_src + i * f);
    } else {
      StackSources((prow + options_.n_step) % rows_, env, /*final_obs=*/false,
                   next_src + i * f);
    }
    actions[i] = actions_[s];
    returns[i] = returns_[s];
    discounts[i] = discounts_[s];
    indices[i] = slot;
  }

  if (sampler_->prioritized()) {
    // w_i = (N P(i))^-beta / max_j w_j. Computed in double; the batch max is
    // the largest weight, i.e. the one of the least likely sample.
    const auto n = static_cast<double>(size());
    double max_w = 0.0;
    for (double p : sample_probs_)
      max_w = std::max(max_w, std::pow(n * p, -beta));
    for (int64_t i = 0; i < b; ++i) {
      weights[i] = static_cast<float>(
          std::pow(n * sample_probs_[static_cast<size_t>(i)], -beta) / max_w);
    }
  } else {
    std::fill(weights, weights + b, 1.0f);
  }

  if (mirror_.defined()) {
    ints = ints.to(mirror_.device());
    floats = floats.to(mirror_.device());
    const torch::Tensor stacks =
        mirror_.index_select(0, ints.narrow(0, 0, 2 * b * f))
            .view({2, b, stacked_c, h, w});
    batch.obs = stacks[0];
    batch.next_obs = stacks[1];
    batch.actions = ints.narrow(0, 2 * b * f, b);
    batch.returns = floats[0];
    batch.discounts = floats[1];
    batch.weights = floats[2];
  } else {
    batch.obs = torch::empty({b, stacked_c, h, w}, torch::kUInt8);
    batch.next_obs = torch::empty({b, stacked_c, h, w}, torch::kUInt8);
    WriteFrames(obs_src, b * f, batch.obs.data_ptr<uint8_t>());
    WriteFrames(next_src, b * f, batch.next_obs.data_ptr<uint8_t>());
  }
  return batch;
}

void ReplayBuffer::UpdatePriorities(const torch::Tensor& indices,
                                    const torch::Tensor& priorities) {
  TOKRL_CHECK_EQ(indices.numel(), priorities.numel())
      << "UpdatePriorities: indices and priorities differ in size";
  const torch::Tensor idx =
      indices.detach().to(torch::kCPU, torch::kInt64).contiguous().view(-1);
  const torch::Tensor pri = priorities.detach()
                                .to(torch::kCPU, torch::kFloat64)
                                .contiguous()
                                .view(-1);
  UpdatePriorities(std::span<const int64_t>(idx.data_ptr<int64_t>(),
                                            static_cast<size_t>(idx.numel())),
                   std::span<const double>(pri.data_ptr<double>(),
                                           static_cast<size_t>(pri.numel())));
}

void ReplayBuffer::UpdatePriorities(std::span<const int64_t> indices,
                                    std::span<const double> priorities) {
  TOKRL_CHECK_EQ(indices.size(), priorities.size())
      << "UpdatePriorities: indices and priorities differ in size";
  for (size_t i = 0; i < indices.size(); ++i) {
    TOKRL_CHECK(indices[i] >= 0 && indices[i] < capacity())
        << "UpdatePriorities: slot " << indices[i] << " out of range [0, "
        << capacity() << ")";
  }
  if (!sampler_->prioritized()) return;
  for (size_t i = 0; i < indices.size(); ++i) {
    // The sampler skips slots that stopped being sampleable since the draw.
    sampler_->Update(indices[i], priorities[i]);
  }
}

void ReplayBuffer::Clear() {
  rows_written_ = 0;
  std::fill(flags_.begin(), flags_.end(), 0);
  std::fill(final_ref_.begin(), final_ref_.end(), -1);
  std::fill(steps_.begin(), steps_.end(), 0);
  final_frames_.clear();
  free_finals_.clear();
  std::fill(episode_start_.begin(), episode_start_.end(), 1);
  nstep_.Clear();
  sampler_->Clear();
}

const OptionsTable<ReplayOptions>& ReplayOptionsTable() {
  using O = ReplayOptions;
  static const OptionsTable<O> table = {
      IntOption("capacity", &O::capacity, 1, int64_t{1} << 32,
                "transitions held"),
      BoolOption("prioritized", &O::prioritized,
                 "proportional prioritized replay"),
      FloatOption("alpha", &O::alpha, 0.0, 100.0, "priority exponent"),
      FloatOption("beta", &O::beta, 0.0, 100.0,
                  "importance-sampling exponent (fixed, as Dopamine)"),
      FloatOption("priority_eps", &O::priority_eps, 0.0, 1e30,
                  "added to priorities before the exponent"),
      BoolOption("device_frames", &O::device_frames,
                 "on CUDA, keep the stored frames on the device and assemble "
                 "batches there (changes no result)"),
  };
  return table;
}

// ---- Save / Load ------------------------------------------------------------

void ReplayBuffer::WriteHeader(ReplayFileWriter& out) const {
  out.WriteBytes(kMagic, sizeof(kMagic));
  out.Write(kVersion);
  out.Write(capacity());
  out.Write(static_cast<int32_t>(num_envs_));
  out.WriteArray(options_.obs_shape);
  out.Write(static_cast<int32_t>(frame_stack_));
  out.Write(static_cast<int32_t>(options_.n_step));
  out.Write(options_.gamma);
  out.Write(static_cast<uint8_t>(options_.prioritized));
  out.Write(options_.alpha);
  out.Write(options_.priority_eps);
}

void ReplayBuffer::ReadHeader(ReplayFileReader& in) const {
  char magic[sizeof(kMagic)];
  in.ReadBytes(magic, sizeof(magic), "magic");
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    in.Fail("not a tokrl replay buffer file (bad magic)");
  }
  const auto version = in.Read<uint32_t>("version");
  if (version != kVersion) {
    in.Fail("unsupported replay file version " + std::to_string(version) +
            " (this build reads version " + std::to_string(kVersion) + ")");
  }
  auto mismatch = [&](const char* field, const auto& file_value,
                      const auto& buffer_value) {
    std::ostringstream msg;
    msg << field << " mismatch: file has " << file_value << ", this buffer has "
        << buffer_value;
    in.Fail(msg.str());
  };
  const auto capacity_in = in.Read<int64_t>("capacity");
  if (capacity_in != capacity()) mismatch("capacity", capacity_in, capacity());
  const auto envs = in.Read<int32_t>("num_envs");
  if (envs != num_envs_) mismatch("num_envs", envs, num_envs_);
  std::vector<int64_t> shape;
  in.ReadArray(&shape, -1, 16, "obs_shape");
  if (shape != options_.obs_shape) {
    mismatch("obs_shape", ShapeString(shape), ShapeString(options_.obs_shape));
  }
  const auto stack = in.Read<int32_t>("frame_stack");
  if (stack != frame_stack_) mismatch("frame_stack", stack, frame_stack_);
  const auto n_step = in.Read<int32_t>("n_step");
  if (n_step != options_.n_step) mismatch("n_step", n_step, options_.n_step);
  const auto gamma = in.Read<double>("gamma");
  if (gamma != options_.gamma) mismatch("gamma", gamma, options_.gamma);
  const auto prioritized = in.Read<uint8_t>("prioritized");
  if ((prioritized != 0) != options_.prioritized) {
    mismatch("prioritized", prioritized != 0, options_.prioritized);
  }
  const auto alpha = in.Read<double>("alpha");
  if (alpha != options_.alpha) mismatch("alpha", alpha, options_.alpha);
  const auto eps = in.Read<double>("priority_eps");
  if (eps != options_.priority_eps) {
    mismatch("priority_eps", eps, options_.priority_eps);
  }
}

void ReplayBuffer::Save(const std::filesystem::path& path) const {
  ReplayFileWriter out(path);
  WriteHeader(out);
  out.Write(rows_written_);
  out.WriteArray(frames_);
  out.WriteArray(actions_);
  out.WriteArray(returns_);
  out.WriteArray(discounts_);
  out.WriteArray(steps_);
  out.WriteArray(flags_);
  out.WriteArray(final_ref_);
  out.WriteArray(final_frames_);
  out.WriteArray(free_finals_);
  out.WriteArray(episode_start_);
  nstep_.Save(out);
  sampler_->Save(out);
  out.Commit();
}

void ReplayBuffer::LoadState(ReplayFileReader& in) {
  const int64_t slots = capacity();
  rows_written_ = in.Read<int64_t>("rows_written");
  if (rows_written_ < 0) in.Fail("negative row count");
  in.ReadArray(&frames_, slots * frame_size_, "frames");
  in.ReadArray(&actions_, slots, "actions");
  in.ReadArray(&returns_, slots, "returns");
  in.ReadArray(&discounts_, slots, "discounts");
  in.ReadArray(&steps_, slots, "steps");
  in.ReadArray(&flags_, slots, "flags");
  in.ReadArray(&final_ref_, slots, "final_refs");
  in.ReadArray(&final_frames_, -1, slots * frame_size_, "final_frames");
  in.ReadArray(&free_finals_, -1, slots, "free_finals");
  in.ReadArray(&episode_start_, num_envs_, "episode_starts");
  nstep_.Load(in);
  sampler_->Load(in);
}

void ReplayBuffer::ValidateState(ReplayFileReader& in) const {
  // Cheap consistency checks, so that even a file with a forged checksum
  // cannot make Sample read out of bounds. They run after the checksum, so
  // accidental corruption is reported as such.
  const int64_t slots = capacity();
  if (final_frames_.size() % static_cast<size_t>(frame_size_) != 0) {
    in.Fail("final frame pool size is not a multiple of the frame size");
  }
  const auto pool = static_cast<int64_t>(final_frames_.size()) / frame_size_;
  for (int64_t s = 0; s < slots; ++s) {
    const auto i = static_cast<size_t>(s);
    const bool sampleable = flags_[i] & kSampleable;
    if (final_ref_[i] < -1 || final_ref_[i] >= pool ||
        ((flags_[i] & kEpisodeEnd) != 0) != (final_ref_[i] >= 0) ||
        sampleable != sampler_->Contains(s) ||
        (sampleable && (steps_[i] < 1 || steps_[i] > options_.n_step))) {
      in.Fail("inconsistent slot metadata at slot " + std::to_string(s));
    }
  }
  for (int32_t ref : free_finals_) {
    if (ref < 0 || ref >= pool) in.Fail("invalid final frame free list");
  }
}

void ReplayBuffer::Load(const std::filesystem::path& path) {
  try {
    ReplayFileReader in(path);
    ReadHeader(in);
    LoadState(in);
    in.Finish();
    ValidateState(in);
    if (mirror_.defined()) UploadMirror();
  } catch (...) {
    Clear();
    throw;
  }
}

}  // namespace tokrl
