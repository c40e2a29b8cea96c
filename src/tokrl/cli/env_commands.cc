// tokrl envs | play | bench-env
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/cli/commands.h"
#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/core/thread_pool.h"
#include "tokrl/env/registry.h"
#include "tokrl/env/vec_env.h"

namespace tokrl::cli {
namespace {

// Mean, sample std, min and max in O(1) memory (Welford's update), so
// `play --episodes 2000000000` keeps no per-episode list.
class RunningStats {
 public:
  void Add(double x) {
    min_ = count_ == 0 ? x : std::min(min_, x);
    max_ = count_ == 0 ? x : std::max(max_, x);
    ++count_;
    const double delta = x - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (x - mean_);
  }
  double mean() const { return mean_; }
  double std() const {
    return count_ > 1 ? std::sqrt(m2_ / static_cast<double>(count_ - 1)) : 0.0;
  }
  double min() const { return min_; }
  double max() const { return max_; }

 private:
  int64_t count_ = 0;
  double mean_ = 0, m2_ = 0, min_ = 0, max_ = 0;
};

void RunEnvs() {
  for (const auto& info : ListEnvs()) {
    if (info.id.find('<') != std::string::npos) {  // a family (ale/<game>)
      std::printf("%-24s %s\n", info.id.c_str(), info.description.c_str());
      continue;
    }
    auto env = MakeEnv(info.id);
    const auto& shape = env->spec().obs_shape;
    std::printf("%-24s obs %lldx%lldx%lld  actions %d  %s\n", info.id.c_str(),
                static_cast<long long>(shape[0]),
                static_cast<long long>(shape[1]),
                static_cast<long long>(shape[2]), env->spec().num_actions,
                info.description.c_str());
  }
}

struct PlayArgs {
  std::string env = "minatar/breakout";
  std::string policy = "random";
  int episodes = 10;
  uint64_t seed = 0;
};

// Policies without learning: "random", or "constant:<action>".
int ParseConstantPolicy(const std::string& policy, int num_actions) {
  if (policy == "random") return -1;
  const std::string prefix = "constant:";
  if (policy.rfind(prefix, 0) == 0) {
    try {
      size_t used = 0;
      const int action = std::stoi(policy.substr(prefix.size()), &used);
      if (used == policy.size() - prefix.size() && action >= 0 &&
          action < num_actions) {
        return action;
      }
    } catch (const std::exception&) {
    }
  }
  TOKRL_FAIL() << "unknown policy '" << policy
               << "' (use random or constant:<action in [0, " << num_actions
               << ")>)";
}

void RunPlay(const PlayArgs& args) {
  auto env = MakeEnv(args.env);
  const int constant =
      ParseConstantPolicy(args.policy, env->spec().num_actions);
  env->Seed(args.seed);
  Rng policy(DeriveSeed(args.seed, 1'000'003));
  std::vector<uint8_t> obs(env->spec().obs_size());
  RunningStats returns, lengths;
  for (int e = 0; e < args.episodes; ++e) {
    env->Reset(obs);
    double ret = 0;
    int64_t length = 0;
    StepResult r;
    while (!r.done()) {
      const int action =
          constant >= 0
              ? constant
              : static_cast<int>(policy.UniformInt(env->spec().num_actions));
      r = env->Step(action, obs);
      ret += r.reward;
      ++length;
    }
    returns.Add(ret);
    lengths.Add(static_cast<double>(length));
  }
  std::printf("env %s  policy %s  episodes %d  seed %llu\n",
              env->spec().id.c_str(), args.policy.c_str(), args.episodes,
              static_cast<unsigned long long>(args.seed));
  std::printf("return  mean %.3f  std %.3f  min %.0f  max %.0f\n",
              returns.mean(), returns.std(), returns.min(), returns.max());
  std::printf("length  mean %.1f  std %.1f  min %.0f  max %.0f\n",
              lengths.mean(), lengths.std(), lengths.min(), lengths.max());
}

struct BenchArgs {
  std::vector<std::string> envs;
  int64_t steps = 2'000'000;
  int num_envs = 256;
  std::vector<int> threads;
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Raw single-env loop: the per-core number.
double SingleEnvStepsPerSecond(const std::string& id, int64_t steps) {
  auto env = MakeEnv(id);
  std::vector<uint8_t> obs(env->spec().obs_size());
  Rng policy(1);
  const auto n = static_cast<uint32_t>(env->spec().num_actions);
  env->Reset(obs);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    if (env->Step(static_cast<int>(policy.UniformInt(n)), obs).done())
      env->Reset(obs);
  }
  return static_cast<double>(steps) / Seconds(start);
}

double VecEnvStepsPerSecond(const std::string& id, int num_envs, int threads,
                            int64_t steps) {
  VecEnv venv(id, {.num_envs = num_envs, .num_threads = threads, .seed = 0});
  venv.Reset();
  Rng policy(1);
  const auto n = static_cast<uint32_t>(venv.spec().num_actions);
  std::vector<int32_t> actions(num_envs);
  const int64_t batches = std::max<int64_t>(1, steps / num_envs);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < batches; ++b) {
    for (auto& a : actions) a = static_cast<int32_t>(policy.UniformInt(n));
    venv.Step(actions);
  }
  return static_cast<double>(batches * num_envs) / Seconds(start);
}

void RunBenchEnv(BenchArgs args) {
  if (args.envs.empty()) {
    for (const auto& info : ListEnvs()) {
      if (info.id.rfind("minatar/", 0) == 0) args.envs.push_back(info.id);
    }
  }
  if (args.threads.empty()) args.threads = {ThreadPool::HardwareThreads()};
  std::printf("%-24s %16s", "env", "1 env steps/s");
  for (int t : args.threads) {
    std::printf("  %4d envs x%2d thr steps/s (per thread)", args.num_envs, t);
  }
  std::printf("\n");
  for (const auto& id : args.envs) {
    std::printf("%-24s %16.0f", id.c_str(),
                SingleEnvStepsPerSecond(id, args.steps));
    for (int t : args.threads) {
      const double sps = VecEnvStepsPerSecond(id, args.num_envs, t, args.steps);
      std::printf("  %27.0f (%9.0f)", sps, sps / t);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

}  // namespace

void AddEnvCommands(CLI::App& app) {
  app.add_subcommand("envs", "List the registered environments")
      ->callback(RunEnvs);

  auto play_args = std::make_shared<PlayArgs>();
  auto* play = app.add_subcommand("play",
                                  "Play episodes with a fixed policy and "
                                  "print return/length statistics");
  play->add_option("--env", play_args->env,
                   "Env id, options allowed: "
                   "minatar/breakout(sticky=0.1)")
      ->capture_default_str();
  play->add_option("--policy", play_args->policy, "random | constant:<action>")
      ->capture_default_str();
  play->add_option("--episodes", play_args->episodes, "Number of episodes")
      ->capture_default_str()
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  play->add_option("--seed", play_args->seed, "Env and policy seed")
      ->capture_default_str();
  play->callback([play_args] { RunPlay(*play_args); });

  auto bench_args = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand("bench-env",
                                   "Measure env steps per second, single "
                                   "env and VecEnv with a thread pool");
  bench->add_option("--env", bench_args->envs,
                    "Env ids (default: every MinAtar game)");
  bench->add_option("--steps", bench_args->steps, "Steps per measurement")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  bench->add_option("--num-envs", bench_args->num_envs, "Envs in the VecEnv")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  bench
      ->add_option(
          "--threads", bench_args->threads,
          "VecEnv thread counts to measure (default: all hardware threads)")
      ->check(CLI::Range(1, ThreadPool::kMaxThreads));
  bench->callback([bench_args] { RunBenchEnv(*bench_args); });
}

}  // namespace tokrl::cli
