#include "tokrl/replay/replay_buffer.h"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/fuzz.h"
#include "tokrl/core/rng.h"

namespace tokrl {
namespace {

// ---- A fake vectorized env whose frames name themselves ---------------------
//
// Every frame is 2x2x3 = 12 bytes: byte 0 = env + 1 (never 0, so padding is
// recognisable), bytes 1-2 = the step (row) t, byte 3 = kind (1 = observation
// acted on at t, 2 = final observation of the episode that ended at t), the
// rest a checksum-like pattern. A sampled stack can thus be decoded and
// compared with a brute-force reconstruction from the recorded history.

constexpr int kC = 2, kH = 2, kW = 3;
constexpr int kFrame = kC * kH * kW;

std::vector<uint8_t> Frame(int env, int64_t t, int kind) {
  std::vector<uint8_t> f(kFrame);
  f[0] = static_cast<uint8_t>(env + 1);
  f[1] = static_cast<uint8_t>(t & 0xFF);
  f[2] = static_cast<uint8_t>((t >> 8) & 0xFF);
  f[3] = static_cast<uint8_t>(kind);
  for (int j = 4; j < kFrame; ++j) {
    f[j] = static_cast<uint8_t>(env * 31 + t * 7 + kind * 13 + j);
  }
  return f;
}

struct StepRecord {
  int32_t action;
  float reward;
  bool terminated, truncated;
  int64_t episode_start;  // row of the first step of this step's episode
};

class FakeVecEnv {
 public:
  FakeVecEnv(int num_envs, uint64_t seed, double end_prob = 0.15,
             double truncate_share = 0.4)
      : n_(num_envs),
        rng_(seed),
        end_prob_(end_prob),
        truncate_share_(truncate_share),
        history_(num_envs),
        episode_start_(num_envs, 0) {}

  // Produces the next step of every env (row = rows() before the call).
  void Step() {
    const int64_t t = rows();
    obs.clear();
    next_obs.clear();
    actions.assign(n_, 0);
    rewards.assign(n_, 0.0f);
    terminated.assign(n_, 0);
    truncated.assign(n_, 0);
    for (int e = 0; e < n_; ++e) {
      const bool end = rng_.Bernoulli(end_prob_);
      const bool trunc = end && rng_.Bernoulli(truncate_share_);
      StepRecord r{static_cast<int32_t>(rng_.UniformInt(6)),
                   static_cast<float>(rng_.UniformRange(-4, 4)) * 0.5f,
                   end && !trunc, trunc, episode_start_[e]};
      history_[e].push_back(r);
      actions[e] = r.action;
      rewards[e] = r.reward;
      terminated[e] = r.terminated;
      truncated[e] = r.truncated;
      const auto o = Frame(e, t, 1);
      obs.insert(obs.end(), o.begin(), o.end());
      // next_obs: the final frame for an ended episode, else s_{t+1}.
      const auto no = end ? Frame(e, t, 2) : Frame(e, t + 1, 1);
      next_obs.insert(next_obs.end(), no.begin(), no.end());
      if (end) episode_start_[e] = t + 1;
    }
  }
  void AddTo(ReplayBuffer& buffer) const {
    buffer.Add(obs, actions, rewards, terminated, truncated, next_obs);
  }

  int64_t rows() const { return static_cast<int64_t>(history_[0].size()); }
  const StepRecord& at(int env, int64_t t) const {
    return history_[env][static_cast<size_t>(t)];
  }

  std::vector<uint8_t> obs, next_obs;
  std::vector<int32_t> actions;
  std::vector<float> rewards;
  std::vector<uint8_t> terminated, truncated;

 private:
  int n_;
  Rng rng_;
  double end_prob_, truncate_share_;
  std::vector<std::vector<StepRecord>> history_;
  std::vector<int64_t> episode_start_;
};

// What the buffer must return for (env, t), computed from the history alone.
struct Expected {
  std::vector<uint8_t> obs, next_obs;
  int32_t action;
  double ret, discount;
};

class Oracle {
 public:
  Oracle(const FakeVecEnv& env, const ReplayOptions& options, int64_t rows)
      : env_(env), o_(options), rows_(rows) {}

  // Frames t-F+1..t of the episode containing t, zero before its start; if
  // `final_obs`, the newest frame is the final obs of t and the others are
  // t-F+2..t.
  std::vector<uint8_t> Stack(int env, int64_t t, bool final_obs) const {
    const int f = o_.frame_stack;
    const int64_t start = env_.at(env, t).episode_start;
    std::vector<uint8_t> out;
    for (int j = 0; j < f; ++j) {
      std::vector<uint8_t> frame(kFrame, 0);
      if (final_obs && j == f - 1) {
        frame = Frame(env, t, 2);
      } else {
        const int64_t s = final_obs ? t - (f - 2) + j : t - (f - 1) + j;
        if (s >= start) frame = Frame(env, s, 1);
      }
      out.insert(out.end(), frame.begin(), frame.end());
    }
    return out;
  }

  // Whether (env, t) must be sampleable after `now + 1` Add calls.
  bool Sampleable(int env, int64_t t, int64_t now) const {
    if (t < 0 || t > now) return false;
    if (t < now - rows_ + o_.frame_stack) return false;  // history lost
    for (int k = 0; k < o_.n_step && t + k <= now; ++k) {
      const auto& s = env_.at(env, t + k);
      if (s.terminated || s.truncated) return true;
    }
    return t + o_.n_step <= now;
  }

  Expected Expect(int env, int64_t t) const {
    Expected e;
    e.obs = Stack(env, t, false);
    e.action = env_.at(env, t).action;
    e.ret = 0.0;
    double disc = 1.0;
    for (int k = 0; k < o_.n_step; ++k) {
      const auto& s = env_.at(env, t + k);
      e.ret += disc * s.reward;
      disc *= o_.gamma;
      if (s.terminated || s.truncated) {
        e.discount = s.terminated ? 0.0 : disc;
        e.next_obs = Stack(env, t + k, true);
        return e;
      }
    }
    e.discount = disc;
    e.next_obs = Stack(env, t + o_.n_step, false);
    return e;
  }

 private:
  const FakeVecEnv& env_;
  ReplayOptions o_;
  int64_t rows_;
};

ReplayOptions Options(int64_t capacity, int num_envs, int n_step,
                      int frame_stack, bool prioritized = false) {
  ReplayOptions o;
  o.capacity = capacity;
  o.num_envs = num_envs;
  o.obs_shape = {kC, kH, kW};
  o.n_step = n_step;
  o.frame_stack = frame_stack;
  o.gamma = 0.9;
  o.prioritized = prioritized;
  return o;
}

std::pair<int, int64_t> Decode(const uint8_t* frame) {
  EXPECT_NE(frame[0], 0) << "newest frame of a stack is padding";
  EXPECT_EQ(frame[3], 1) << "obs frame is not an acted-on observation";
  return {frame[0] - 1, frame[1] | (frame[2] << 8)};
}

// Checks every sample of `batch` against the oracle; returns the decoded ids.
std::vector<std::pair<int, int64_t>> CheckBatch(const SampledBatch& batch,
                                                const Oracle& oracle,
                                                const ReplayOptions& o,
                                                int64_t now) {
  const int64_t b = batch.obs.size(0);
  const int64_t stack_bytes = kFrame * o.frame_stack;
  EXPECT_EQ(batch.obs.sizes(),
            torch::IntArrayRef({b, kC * o.frame_stack, kH, kW}));
  EXPECT_EQ(batch.next_obs.sizes(), batch.obs.sizes());
  EXPECT_EQ(batch.obs.dtype(), torch::kUInt8);
  EXPECT_EQ(batch.actions.dtype(), torch::kInt64);
  EXPECT_EQ(batch.returns.dtype(), torch::kFloat32);
  EXPECT_EQ(batch.discounts.dtype(), torch::kFloat32);
  EXPECT_EQ(batch.indices.dtype(), torch::kInt64);
  EXPECT_EQ(batch.weights.dtype(), torch::kFloat32);
  const uint8_t* obs = batch.obs.data_ptr<uint8_t>();
  const uint8_t* next_obs = batch.next_obs.data_ptr<uint8_t>();
  const int64_t* actions = batch.actions.data_ptr<int64_t>();
  const float* returns = batch.returns.data_ptr<float>();
  const float* discounts = batch.discounts.data_ptr<float>();
  std::vector<std::pair<int, int64_t>> ids;
  for (int64_t i = 0; i < b; ++i) {
    const uint8_t* stack = obs + i * stack_bytes;
    const auto [env, t] =
        Decode(stack + static_cast<int64_t>(o.frame_stack - 1) * kFrame);
    ids.emplace_back(env, t);
    if (!oracle.Sampleable(env, t, now)) {
      ADD_FAILURE() << "sampled (env " << env << ", t " << t
                    << ") which is not sampleable after row " << now;
      continue;
    }
    const Expected e = oracle.Expect(env, t);
    EXPECT_EQ(std::vector<uint8_t>(stack, stack + stack_bytes), e.obs)
        << "obs stack of env " << env << " t " << t;
    const uint8_t* next = next_obs + i * stack_bytes;
    EXPECT_EQ(std::vector<uint8_t>(next, next + stack_bytes), e.next_obs)
        << "next_obs stack of env " << env << " t " << t;
    EXPECT_EQ(actions[i], e.action);
    EXPECT_NEAR(returns[i], e.ret, 1e-5);
    EXPECT_NEAR(discounts[i], e.discount, 1e-6);
  }
  return ids;
}

// Steps `env` for `rows` rows; after each Add checks size() against the
// oracle and that a batch holds only valid, correct transitions.
void RunAndCheck(const ReplayOptions& o, uint64_t seed, int64_t rows,
                 double end_prob) {
  ReplayBuffer buffer(o);
  FakeVecEnv env(o.num_envs, seed, end_prob);
  const Oracle oracle(env, o, buffer.capacity() / o.num_envs);
  Rng rng(seed + 1);
  for (int64_t now = 0; now < rows; ++now) {
    env.Step();
    env.AddTo(buffer);
    int64_t expected_size = 0;
    for (int e = 0; e < o.num_envs; ++e) {
      for (int64_t t = 0; t <= now; ++t)
        expected_size += oracle.Sampleable(e, t, now);
    }
    ASSERT_EQ(buffer.size(), expected_size) << "after row " << now;
    if (buffer.size() > 0) CheckBatch(buffer.Sample(16, rng), oracle, o, now);
    if (::testing::Test::HasFailure()) FAIL() << "after row " << now;
  }
  // Full coverage: with many draws every sampleable transition shows up.
  const int64_t now = rows - 1;
  std::set<std::pair<int, int64_t>> seen;
  for (int round = 0; round < 40; ++round) {
    for (const auto& id :
         CheckBatch(buffer.Sample(buffer.size(), rng), oracle, o, now)) {
      seen.insert(id);
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), buffer.size());
}

// ---- n-step returns, truncation, stacking, slot validity --------------------

TEST(ReplayBuffer, NStepReturnsMatchBruteForceAcrossEnvsAndEpisodes) {
  // No wrap-around: every transition's return, discount, action and next
  // observation is checked, with ends falling at every offset within n.
  for (int n : {1, 3, 10}) {
    RunAndCheck(Options(3 * 400, 3, n, 1), 10 + n, 300, 0.15);
  }
}

TEST(ReplayBuffer, TruncationBootstrapsFromTheFinalObservation) {
  ReplayOptions o = Options(64, 1, 3, 1);
  o.gamma = 0.5;
  ReplayBuffer buffer(o);
  const auto obs0 = Frame(0, 0, 1), obs1 = Frame(0, 1, 1);
  const auto final1 = Frame(0, 1, 2), obs2 = Frame(0, 2, 1);
  const std::vector<int32_t> a = {0};
  const std::vector<uint8_t> no = {0}, yes = {1};
  buffer.Add(obs0, a, std::vector<float>{1.0f}, no, no, obs1);
  EXPECT_EQ(buffer.size(), 0);
  // Truncated at the second step: both transitions end here, discounted by
  // gamma^k for the k steps taken, bootstrapping from the final frame.
  buffer.Add(obs1, a, std::vector<float>{2.0f}, no, yes, final1);
  ASSERT_EQ(buffer.size(), 2);
  Rng rng(0);
  const SampledBatch batch = buffer.Sample(200, rng);
  for (int64_t i = 0; i < 200; ++i) {
    const auto [env, t] = Decode(batch.obs.data_ptr<uint8_t>() + i * kFrame);
    EXPECT_EQ(env, 0);
    const uint8_t* next = batch.next_obs.data_ptr<uint8_t>() + i * kFrame;
    EXPECT_EQ(std::vector<uint8_t>(next, next + kFrame), final1);
    const float ret = batch.returns[i].item<float>();
    const float discount = batch.discounts[i].item<float>();
    if (t == 0) {
      EXPECT_FLOAT_EQ(ret, 2.0f);  // 1 + 0.5 * 2
      EXPECT_FLOAT_EQ(discount, 0.25f);
    } else {
      EXPECT_EQ(t, 1);
      EXPECT_FLOAT_EQ(ret, 2.0f);
      EXPECT_FLOAT_EQ(discount, 0.5f);
    }
  }
  // The next episode starts fresh: its first transition does not reach back.
  buffer.Add(obs2, a, std::vector<float>{4.0f}, yes, no, Frame(0, 2, 2));
  ASSERT_EQ(buffer.size(), 3);
  bool saw_terminal = false;
  const SampledBatch b2 = buffer.Sample(300, rng);
  for (int64_t i = 0; i < 300; ++i) {
    if (Decode(b2.obs.data_ptr<uint8_t>() + i * kFrame).second == 2) {
      saw_terminal = true;
      EXPECT_FLOAT_EQ(b2.returns[i].item<float>(), 4.0f);
      EXPECT_EQ(b2.discounts[i].item<float>(), 0.0f);
    }
  }
  EXPECT_TRUE(saw_terminal);
}

TEST(ReplayBuffer, FrameStackingEqualsBruteForceWithZeroPadding) {
  // Short episodes (ends at every stack offset) and a small ring that wraps
  // many times.
  RunAndCheck(Options(2 * 12, 2, 2, 4), 21, 200, 0.3);
  RunAndCheck(Options(3 * 40, 3, 1, 4), 22, 300, 0.1);
}

TEST(ReplayBuffer, NeverReturnsUnwrittenOverwrittenOrIncompleteSlots) {
  // Minimal rings (rows = n + F) and a few larger ones, uniform and
  // prioritized, with long and short episodes.
  for (bool prioritized : {false, true}) {
    for (int n : {1, 3}) {
      for (int f : {1, 3}) {
        SCOPED_TRACE(::testing::Message() << "prioritized " << prioritized
                                          << " n " << n << " F " << f);
        RunAndCheck(Options(2 * (n + f), 2, n, f, prioritized), 30 + n * f, 80,
                    0.2);
        RunAndCheck(Options(4 * 17 + 3, 4, n, f, prioritized), 40 + n * f, 150,
                    0.05);
      }
    }
  }
}

TEST(ReplayBuffer, CapacityRoundsDownToWholeRows) {
  ReplayBuffer buffer(Options(4 * 17 + 3, 4, 1, 1));
  EXPECT_EQ(buffer.capacity(), 68);
  EXPECT_EQ(buffer.size(), 0);
  Rng rng(0);
  EXPECT_THROW(buffer.Sample(4, rng), Error);
}

// ---- prioritized sampling ---------------------------------------------------

// Fills a prioritized buffer and returns every sampleable slot with its env
// and step, found by sampling until all size() slots were seen.
std::map<int64_t, std::pair<int, int64_t>> FillAndDiscover(ReplayBuffer& buffer,
                                                           FakeVecEnv& env,
                                                           int64_t rows,
                                                           Rng& rng) {
  for (int64_t r = 0; r < rows; ++r) {
    env.Step();
    env.AddTo(buffer);
  }
  std::map<int64_t, std::pair<int, int64_t>> slots;
  const int f = buffer.options().frame_stack;
  while (static_cast<int64_t>(slots.size()) < buffer.size()) {
    const SampledBatch batch = buffer.Sample(64, rng);
    for (int64_t i = 0; i < 64; ++i) {
      const auto frames = batch.obs[i].flatten().contiguous();
      slots[batch.indices[i].item<int64_t>()] =
          Decode(frames.data_ptr<uint8_t>() + (f - 1) * kFrame);
    }
  }
  return slots;
}

double ChiSquareCritical999(int df) {
  const double z = 3.0902, a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

TEST(ReplayBuffer, PrioritizedSamplingFollowsPriorities) {
  ReplayOptions o = Options(2 * 40, 2, 2, 1, /*prioritized=*/true);
  o.alpha = 0.5;
  o.priority_eps = 0.0;
  ReplayBuffer buffer(o);
  FakeVecEnv env(2, 5);
  Rng rng(6);
  const auto slots = FillAndDiscover(buffer, env, 30, rng);
  ASSERT_GT(slots.size(), 40u);

  // Raw priority p = (t % 4) * 4: tree priority p^0.5, some of them 0.
  std::vector<int64_t> idx;
  std::vector<double> pri;
  std::map<int64_t, double> q;
  double total = 0.0;
  for (const auto& [slot, id] : slots) {
    idx.push_back(slot);
    pri.push_back(static_cast<double>(id.second % 4) * 4.0);
    q[slot] = std::sqrt(pri.back());
    total += q[slot];
  }
  buffer.UpdatePriorities(torch::tensor(idx), torch::tensor(pri));

  std::map<int64_t, int64_t> counts;
  const int64_t draws = 200'000;
  for (int64_t d = 0; d < draws / 100; ++d) {
    const SampledBatch batch = buffer.Sample(100, rng);
    const auto* ind = batch.indices.data_ptr<int64_t>();
    for (int64_t i = 0; i < 100; ++i) ++counts[ind[i]];
  }
  double chi2 = 0.0;
  int df = -1;
  for (const auto& [slot, qs] : q) {
    const double expected = draws * qs / total;
    if (expected == 0.0) {
      EXPECT_EQ(counts[slot], 0) << "zero-priority slot " << slot << " sampled";
      continue;
    }
    const double diff = static_cast<double>(counts[slot]) - expected;
    chi2 += diff * diff / expected;
    ++df;
  }
  EXPECT_LT(chi2, ChiSquareCritical999(df));

  // New transitions enter with the largest priority recorded so far.
  const auto& tree =
      dynamic_cast<const PrioritizedSampler&>(buffer.sampler()).tree();
  const double max_q = std::sqrt(12.0);
  env.Step();
  env.AddTo(buffer);
  int fresh = 0;
  for (int64_t s = 0; s < buffer.capacity(); ++s) {
    if (buffer.sampler().Contains(s) && !slots.count(s)) {
      EXPECT_DOUBLE_EQ(tree.Get(s), max_q);
      ++fresh;
    }
  }
  EXPECT_GT(fresh, 0);
}

TEST(ReplayBuffer, ImportanceWeightsAreNormalisedPowersOfProbabilities) {
  ReplayOptions o = Options(3 * 30, 3, 1, 2, /*prioritized=*/true);
  ReplayBuffer buffer(o);
  FakeVecEnv env(3, 8);
  Rng rng(9);
  const auto slots = FillAndDiscover(buffer, env, 25, rng);
  std::vector<int64_t> idx;
  std::vector<double> pri;
  for (const auto& [slot, id] : slots) {
    idx.push_back(slot);
    pri.push_back(0.1 + static_cast<double>(id.second % 7));
  }
  buffer.UpdatePriorities(idx, pri);
  const auto& tree =
      dynamic_cast<const PrioritizedSampler&>(buffer.sampler()).tree();
  for (double beta : {0.0, 0.4, 1.0}) {
    const SampledBatch batch = buffer.Sample(32, rng, beta);
    const auto n = static_cast<double>(buffer.size());
    std::vector<double> w;
    for (int64_t i = 0; i < 32; ++i) {
      const double p =
          tree.Get(batch.indices[i].item<int64_t>()) / tree.Total();
      w.push_back(std::pow(n * p, -beta));
    }
    const double max_w = *std::max_element(w.begin(), w.end());
    for (int64_t i = 0; i < 32; ++i) {
      EXPECT_NEAR(batch.weights[i].item<float>(),
                  w[static_cast<size_t>(i)] / max_w, 1e-6);
    }
    EXPECT_FLOAT_EQ(batch.weights.max().item<float>(), 1.0f);
  }
  // Tree priorities are (p + eps)^alpha.
  EXPECT_NEAR(tree.Get(idx[0]), std::sqrt(pri[0] + o.priority_eps), 1e-12);

  // Uniform replay: all ones.
  ReplayBuffer uniform(Options(3 * 30, 3, 1, 2));
  FakeVecEnv env2(3, 8);
  for (int r = 0; r < 10; ++r) {
    env2.Step();
    env2.AddTo(uniform);
  }
  EXPECT_TRUE(torch::equal(uniform.Sample(16, rng, 0.7).weights,
                           torch::ones({16}, torch::kFloat32)));
}

TEST(ReplayBuffer, PriorityUpdatesForStaleSlotsAreIgnored) {
  ReplayOptions o = Options(1 * 4, 1, 1, 1, /*prioritized=*/true);
  ReplayBuffer buffer(o);
  FakeVecEnv env(1, 3, /*end_prob=*/0.0);
  for (int r = 0; r < 4; ++r) {
    env.Step();
    env.AddTo(buffer);
  }
  // Slots of rows 0..2 are sampleable; row 3 waits for its bootstrap row.
  EXPECT_EQ(buffer.size(), 3);
  env.Step();
  env.AddTo(buffer);  // overwrites row 0's slot: row 4 is not complete yet
  EXPECT_EQ(buffer.size(), 3);
  EXPECT_FALSE(buffer.sampler().Contains(0));
  buffer.UpdatePriorities(std::vector<int64_t>{0}, std::vector<double>{5.0});
  EXPECT_FALSE(buffer.sampler().Contains(0));
  EXPECT_THROW(buffer.UpdatePriorities(std::vector<int64_t>{4},
                                       std::vector<double>{1.0}),
               Error);
  EXPECT_THROW(buffer.UpdatePriorities(std::vector<int64_t>{1},
                                       std::vector<double>{-1.0}),
               Error);
}

// ---- Add validation and overloads -------------------------------------------

TEST(ReplayBuffer, AddValidatesSizesAndAcceptsInt64Actions) {
  ReplayBuffer buffer(Options(2 * 8, 2, 1, 1));
  FakeVecEnv env(2, 1);
  env.Step();
  const std::vector<int64_t> actions64(env.actions.begin(), env.actions.end());
  buffer.Add(env.obs, actions64, env.rewards, env.terminated, env.truncated,
             env.next_obs);
  const std::vector<int32_t> one_action = {0};
  EXPECT_THROW(buffer.Add(env.obs, one_action, env.rewards, env.terminated,
                          env.truncated, env.next_obs),
               Error);
  std::vector<uint8_t> short_obs(env.obs.begin(), env.obs.end() - 1);
  EXPECT_THROW(buffer.Add(short_obs, env.actions, env.rewards, env.terminated,
                          env.truncated, env.next_obs),
               Error);
  std::vector<int32_t> negative = env.actions;
  negative[1] = -1;
  EXPECT_THROW(buffer.Add(env.obs, negative, env.rewards, env.terminated,
                          env.truncated, env.next_obs),
               Error);
}

TEST(ReplayBuffer, RejectsInvalidOptions) {
  EXPECT_THROW(ReplayBuffer{Options(2 * 4, 2, 3, 2)}, Error);  // rows < n + F
  ReplayOptions no_shape = Options(100, 1, 1, 1);
  no_shape.obs_shape = {10, 10};
  EXPECT_THROW(ReplayBuffer{no_shape}, Error);
  ReplayOptions bad_gamma = Options(100, 1, 1, 1);
  bad_gamma.gamma = 1.5;
  EXPECT_THROW(ReplayBuffer{bad_gamma}, Error);
}

// ---- Save / Load ------------------------------------------------------------

class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              (name + "_" + std::to_string(::getpid()) + ".bin")) {}
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Equal bytes and values, wherever either batch lives.
void ExpectSameBatch(const SampledBatch& a, const SampledBatch& b) {
  const auto same = [](const torch::Tensor& x, const torch::Tensor& y) {
    return torch::equal(x.cpu(), y.cpu());
  };
  EXPECT_TRUE(same(a.obs, b.obs));
  EXPECT_TRUE(same(a.next_obs, b.next_obs));
  EXPECT_TRUE(same(a.actions, b.actions));
  EXPECT_TRUE(same(a.returns, b.returns));
  EXPECT_TRUE(same(a.discounts, b.discounts));
  EXPECT_TRUE(same(a.indices, b.indices));
  EXPECT_TRUE(same(a.weights, b.weights));
}

TEST(ReplayBuffer, SaveLoadRoundTripGivesIdenticalSamples) {
  for (bool prioritized : {false, true}) {
    const ReplayOptions o = Options(3 * 20, 3, 3, 2, prioritized);
    ReplayBuffer original(o);
    FakeVecEnv env(3, 50);
    Rng rng(51);
    // Wrap the ring and stop mid-episode with open n-step returns.
    for (int r = 0; r < 47; ++r) {
      env.Step();
      env.AddTo(original);
      if (prioritized && original.size() > 0) {
        const SampledBatch batch = original.Sample(8, rng);
        original.UpdatePriorities(batch.indices,
                                  batch.returns.abs() + batch.actions);
      }
    }
    TempFile file("tokrl_replay_roundtrip");
    original.Save(file.path());
    for (const auto& entry :
         std::filesystem::directory_iterator(file.path().parent_path())) {
      EXPECT_EQ(entry.path().filename().string().find(
                    "." + file.path().filename().string() + ".tmp"),
                std::string::npos)
          << "temporary file left behind: " << entry.path();
    }
    ReplayBuffer restored(o);
    restored.Load(file.path());
    EXPECT_EQ(restored.size(), original.size());
    EXPECT_EQ(restored.num_adds(), original.num_adds());

    Rng ra(7), rb(7);
    ExpectSameBatch(original.Sample(32, ra, 0.5), restored.Sample(32, rb, 0.5));
    // Both continue identically: open returns and episode starts survived.
    for (int r = 0; r < 10; ++r) {
      env.Step();
      env.AddTo(original);
      env.AddTo(restored);
      ExpectSameBatch(original.Sample(32, ra), restored.Sample(32, rb));
    }
  }
}

// Buffers mirrored on `device` sample exactly the host buffer's batches:
// mirrored from the start (the final observations' pool grows on the
// device) and from midway (an upload), through ring wraps and episode ends,
// after a Load into an empty and into a full mirrored buffer, and after a
// Clear.
void ExpectMirrorsSampleAsTheHost(torch::Device device) {
  for (bool prioritized : {false, true}) {
    SCOPED_TRACE(prioritized ? "prioritized" : "uniform");
    const ReplayOptions o = Options(3 * 20, 3, 3, 4, prioritized);
    ReplayBuffer host(o), early(o), late(o);
    early.MirrorFrames(device);
    EXPECT_TRUE(early.frames_mirrored());
    EXPECT_FALSE(host.frames_mirrored());
    FakeVecEnv env(3, 60, /*end_prob=*/0.3);
    std::vector<ReplayBuffer*> mirrors = {&early, &late};
    Rng host_rng(61);
    std::vector<Rng> rngs(2, Rng(61));
    const auto check = [&] {
      const SampledBatch want = host.Sample(32, host_rng);
      for (size_t m = 0; m < mirrors.size(); ++m) {
        const SampledBatch got = mirrors[m]->Sample(32, rngs[m]);
        // `late` samples on the host until it is mirrored.
        const torch::Device where =
            mirrors[m]->frames_mirrored() ? device : torch::kCPU;
        EXPECT_EQ(got.obs.device(), where);
        EXPECT_EQ(got.next_obs.device(), where);
        EXPECT_EQ(got.weights.device(), where);
        EXPECT_TRUE(got.indices.device().is_cpu());
        ExpectSameBatch(want, got);
        mirrors[m]->UpdatePriorities(got.indices,
                                     want.returns.abs() + want.actions);
      }
      host.UpdatePriorities(want.indices, want.returns.abs() + want.actions);
    };
    const auto step = [&] {
      env.Step();
      env.AddTo(host);
      for (ReplayBuffer* m : mirrors) env.AddTo(*m);
      if (host.size() > 0) check();
    };
    for (int r = 0; r < 70; ++r) {
      if (r == 25) late.MirrorFrames(device);
      step();
    }

    TempFile file("tokrl_replay_mirror");
    host.Save(file.path());
    ReplayBuffer loaded(o);
    loaded.MirrorFrames(device);  // an empty pool, grown by the Load
    loaded.Load(file.path());
    late.Load(file.path());
    mirrors = {&loaded, &late};
    for (int r = 0; r < 10; ++r) step();

    host.Clear();
    for (ReplayBuffer* m : mirrors) m->Clear();
    for (int r = 0; r < 30; ++r) step();
  }
}

TEST(ReplayBuffer, MirroredFramesSampleExactlyTheHostsBatches) {
  ExpectMirrorsSampleAsTheHost(torch::kCPU);
}

TEST(ReplayBuffer, MirroredOnCudaSampleExactlyTheHostsBatches) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ExpectMirrorsSampleAsTheHost(torch::Device(torch::kCUDA, 0));
}

// The type of the memory totals in LibTorch's reporter interface (int64_t in
// 1.13, size_t in 2.x), so PeakBytes overrides it under either.
template <typename F>
struct ThirdArgument;
template <typename C, typename R, typename A0, typename A1, typename A2,
          typename... Rest>
struct ThirdArgument<R (C::*)(A0, A1, A2, Rest...)> {
  using type = A2;
};
using MemoryTotal = ThirdArgument<
    decltype(&c10::MemoryReportingInfoBase::reportMemoryUsage)>::type;

// The most bytes of tensors on one device type live at once, while it is
// installed (c10::DebugInfoGuard) on the allocating thread: LibTorch's CPU
// and CUDA allocators report every allocation and release to it.
class PeakBytes : public c10::MemoryReportingInfoBase {
 public:
  PeakBytes(c10::DeviceType type, int64_t large) : type_(type), large_(large) {}
  bool memoryProfilingEnabled() const override { return true; }
  void reportMemoryUsage(void* /*ptr*/, int64_t alloc_size,
                         MemoryTotal /*total_allocated*/,
                         MemoryTotal /*total_reserved*/,
                         c10::Device device) override {
    if (device.type() != type_) return;
    live_ += alloc_size;
    peak_ = std::max(peak_, live_);
    if (alloc_size >= large_) ++large_allocations_;
  }
  int64_t peak() const { return peak_; }
  // Allocations of at least `large` bytes.
  int large_allocations() const { return large_allocations_; }

 private:
  c10::DeviceType type_;
  int64_t large_;
  int64_t live_ = 0, peak_ = 0;
  int large_allocations_ = 0;
};

// A mirror whose final observations' pool grows never holds its frames
// twice: the peak of live device memory stays below 1.5 times the frames
// (a mirror grown by concatenation, as before, peaked at twice them).
void ExpectMirrorGrowsInPlaceOfTheOld(torch::Device device) {
  const ReplayOptions o = Options(3 * 2000, 3, 3, 4);
  ReplayBuffer host(o), mirrored(o);
  const int64_t frames_bytes = (o.capacity + 1) * kFrame;
  FakeVecEnv env(3, 62, /*end_prob=*/0.02);
  auto peak =
      std::make_shared<PeakBytes>(device.type(), /*large=*/frames_bytes);
  {
    c10::DebugInfoGuard guard(c10::DebugInfoKind::PROFILER_STATE, peak);
    mirrored.MirrorFrames(device);  // room for 3 final observations
    for (int r = 0; r < 2000; ++r) {
      env.Step();
      env.AddTo(host);
      env.AddTo(mirrored);
    }
  }
  // 2000 x 3 steps ending with probability 0.02: ~120 episode ends, so the
  // pool doubled about five times.
  EXPECT_GE(peak->large_allocations(), 4);
  EXPECT_GE(peak->peak(), frames_bytes);
  EXPECT_LT(peak->peak(), frames_bytes * 3 / 2);
  Rng ra(3), rb(3);
  ExpectSameBatch(host.Sample(64, ra), mirrored.Sample(64, rb));
}

TEST(ReplayBuffer, MirrorGrowsWithoutHoldingTwoMirrors) {
  ExpectMirrorGrowsInPlaceOfTheOld(torch::kCPU);
}

TEST(ReplayBuffer, MirrorOnCudaGrowsWithoutHoldingTwoMirrors) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ExpectMirrorGrowsInPlaceOfTheOld(torch::Device(torch::kCUDA, 0));
}

std::string LoadError(ReplayBuffer& buffer, const std::filesystem::path& path) {
  try {
    buffer.Load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Fills `original` from 20 rounds of `env`, saves it to `file` and returns
// the file's bytes.
std::string SaveSmallBuffer(const TempFile& file, ReplayBuffer& original,
                            FakeVecEnv& env) {
  for (int r = 0; r < 20; ++r) {
    env.Step();
    env.AddTo(original);
  }
  original.Save(file.path());
  std::ifstream in(file.path(), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ReplayBuffer, LoadRejectsCorruptTruncatedAndMismatchedFiles) {
  const ReplayOptions o = Options(2 * 16, 2, 2, 2, /*prioritized=*/true);
  ReplayBuffer original(o);
  FakeVecEnv env(2, 60);
  TempFile file("tokrl_replay_corrupt");
  const std::string bytes = SaveSmallBuffer(file, original, env);
  ASSERT_GT(bytes.size(), 100u);
  auto write = [&](const std::string& data) {
    std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  };
  const std::string name = file.path().string();
  ReplayBuffer target(o);
  // Prime the target so that the "left empty on error" rule is visible.
  env.AddTo(target);

  // Truncations at several points.
  for (size_t keep :
       {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    write(bytes.substr(0, keep));
    const std::string error = LoadError(target, file.path());
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find("truncated"), std::string::npos) << error;
    EXPECT_EQ(target.size(), 0);
    EXPECT_EQ(target.num_adds(), 0);
  }
  // Flipped magic.
  std::string bad = bytes;
  bad[0] ^= 0x5A;
  write(bad);
  EXPECT_NE(LoadError(target, file.path()).find("bad magic"),
            std::string::npos);
  // Flipped payload byte (inside a stored frame): caught by the checksum.
  bad = bytes;
  const auto frame = Frame(1, 10, 1);
  const size_t at = bytes.find(std::string(frame.begin(), frame.end()));
  ASSERT_NE(at, std::string::npos);
  bad[at + 5] ^= 0x01;
  write(bad);
  EXPECT_NE(LoadError(target, file.path()).find("checksum"), std::string::npos);
  // Trailing garbage.
  write(bytes + "x");
  EXPECT_NE(LoadError(target, file.path()).find("trailing"), std::string::npos);
  // Unsupported version (bytes 8..11).
  bad = bytes;
  bad[8] = 99;
  write(bad);
  EXPECT_NE(LoadError(target, file.path()).find("version"), std::string::npos);
  // Missing file.
  EXPECT_NE(
      LoadError(target, file.path().string() + ".missing").find("cannot open"),
      std::string::npos);

  // Options mismatches, named in the message.
  write(bytes);
  ReplayOptions wrong_shape = o;
  wrong_shape.obs_shape = {kC, kH + 1, kW};
  ReplayBuffer shape_buffer(wrong_shape);
  const std::string shape_error = LoadError(shape_buffer, file.path());
  EXPECT_NE(shape_error.find("obs_shape mismatch"), std::string::npos)
      << shape_error;
  EXPECT_NE(shape_error.find(name), std::string::npos);
  ReplayOptions wrong_n = o;
  wrong_n.n_step = 3;
  ReplayBuffer n_buffer(wrong_n);
  EXPECT_NE(LoadError(n_buffer, file.path()).find("n_step"), std::string::npos);
  ReplayOptions uniform = o;
  uniform.prioritized = false;
  ReplayBuffer uniform_buffer(uniform);
  EXPECT_NE(LoadError(uniform_buffer, file.path()).find("prioritized"),
            std::string::npos);

  // And the intact file still loads.
  EXPECT_EQ(LoadError(target, file.path()), "");
  EXPECT_EQ(target.size(), original.size());
}

// Fuzz-style (issue 9): mutated replay files give a clean error or a valid
// load, never a crash or an exception other than tokrl::Error (a corrupt
// array length must not become a huge allocation before the checksum).
TEST(ReplayBuffer, MutatedFilesLoadOrFailCleanly) {
  const ReplayOptions o = Options(2 * 16, 2, 2, 2, /*prioritized=*/true);
  ReplayBuffer original(o);
  FakeVecEnv env(2, 60);
  TempFile file("tokrl_replay_fuzz");
  const std::string bytes = SaveSmallBuffer(file, original, env);
  ReplayBuffer target(o);
  Rng rng(7);
  Rng sample_rng(8);
  for (int i = 0; i < 2000; ++i) {
    const std::string mutated = Mutate(bytes, rng);
    {
      std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
      out.write(mutated.data(), static_cast<std::streamsize>(mutated.size()));
    }
    try {
      target.Load(file.path());
      if (target.size() > 0) target.Sample(4, sample_rng);
    } catch (const Error&) {
    } catch (const std::exception& e) {
      FAIL() << "iteration " << i << ": not a tokrl::Error: " << e.what();
    }
  }
}

}  // namespace
}  // namespace tokrl
