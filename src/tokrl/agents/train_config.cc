#include "tokrl/agents/train_config.h"

#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/thread_pool.h"

namespace tokrl {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

}  // namespace

const OptionsTable<ExperimentOptions>& ExperimentOptionsTable() {
  using O = ExperimentOptions;
  static const OptionsTable<O> table = {
      StringOption("name", &O::name,
                   "experiment (sweep) this run belongs to; set by `tokrl "
                   "sweep`"),
      StringOption("variant", &O::variant,
                   "variant label used by `tokrl report` to group runs "
                   "(default: derived from agent and network)"),
  };
  return table;
}

const OptionsTable<TrainOptions>& TrainEnvOptionsTable() {
  using O = TrainOptions;
  static const OptionsTable<O> table = {
      StringOption("id", &O::env_id,
                   "env id, options allowed: minatar/breakout(sticky=0.1)"),
      IntOption("num_envs", &O::num_envs, 1, 1 << 16,
                "parallel training envs (a VecEnv)"),
      IntOption("num_threads", &O::env_threads, 0, ThreadPool::kMaxThreads,
                "VecEnv threads (0 = all cores)"),
  };
  return table;
}

const OptionsTable<TrainOptions>& TrainOptionsTable() {
  using O = TrainOptions;
  static const OptionsTable<O> table = {
      IntOption("total_steps", &O::total_steps, 1, kMax,
                "env steps to train for"),
      IntOption("seed", &O::seed, 0, kMax,
                "root seed (envs, exploration, replay, network init)"),
      StringOption("device", &O::device, "auto | cpu | cuda | cuda:N"),
      IntOption("torch_threads", &O::torch_threads, 1, ThreadPool::kMaxThreads,
                "CPU threads of the network's kernels (LibTorch's and "
                "tokrl's)"),
      IntOption("eval_every", &O::eval_every, 0, kMax,
                "env steps between evaluations (0 = never)"),
      IntOption("eval_episodes", &O::eval_episodes, 1,
                std::numeric_limits<int>::max(), "episodes per evaluation"),
      IntOption("eval_max_steps", &O::eval_max_steps, 1, kMax,
                "step cap per evaluation episode"),
      IntOption("log_every", &O::log_every, 1, kMax,
                "env steps between progress lines and metric rows"),
      IntOption("checkpoint_every", &O::checkpoint_every, 0, kMax,
                "env steps between checkpoints (0 = at the end)"),
      IntOption("stats_every", &O::stats_every, 0, kMax,
                "env steps between network statistics rows (stats/*: "
                "dormant units, srank, expert use; 0 = never)"),
      IntOption("stats_batch", &O::stats_batch, 2, 1 << 16,
                "replay transitions in the statistics' probe batch"),
      BoolOption("tensorboard", &O::tensorboard,
                 "also write TensorBoard event files"),
      IntOption("episode_window", &O::episode_window, 1, 1 << 24,
                "episodes in the running training return"),
  };
  return table;
}

Config MakeTrainConfig() {
  std::vector<ConfigField> schema;
  AppendSchema(schema, "experiment", ExperimentOptionsTable());
  AppendSchema(schema, "env", TrainEnvOptionsTable());
  AppendSchema(schema, "network", nn::QNetworkOptionsTable());
  AppendSchema(schema, "agent", AgentOptionsTable());
  AppendSchema(schema, "replay", ReplayOptionsTable());
  AppendSchema(schema, "interventions", InterventionOptionsTable());
  AppendSchema(schema, "train", TrainOptionsTable());
  return Config(std::move(schema));
}

ResolvedConfig Resolve(const Config& config, const EnvSpec& spec) {
  ResolvedConfig r;
  ReadOptions(config, "experiment", ExperimentOptionsTable(), r.experiment);
  ReadOptions(config, "env", TrainEnvOptionsTable(), r.train);
  ReadOptions(config, "train", TrainOptionsTable(), r.train);
  ReadOptions(config, "agent", AgentOptionsTable(), r.agent);
  ReadOptions(config, "network", nn::QNetworkOptionsTable(), r.network);
  ReadOptions(config, "replay", ReplayOptionsTable(), r.replay);
  ReadOptions(config, "interventions", InterventionOptionsTable(),
              r.interventions);

  const AgentOptions& a = r.agent;
  if (!(a.v_min < a.v_max)) {
    TOKRL_FAIL() << "config key 'agent.v_min' (" << a.v_min
                 << ") must be below 'agent.v_max' (" << a.v_max << ")";
  }
  nn::QNetworkOptions& n = r.network;
  n.obs_shape = spec.obs_shape;
  TOKRL_CHECK(!n.obs_shape.empty()) << "env without an observation shape";
  n.obs_shape[0] *= a.frame_stack;
  n.num_actions = spec.num_actions;
  n.head = a.distributional ? nn::HeadType::kC51 : nn::HeadType::kLinear;
  n.num_atoms = a.num_atoms;
  n.v_min = a.v_min;
  n.v_max = a.v_max;
  ReplayOptions& p = r.replay;
  p.num_envs = r.train.num_envs;
  p.obs_shape = spec.obs_shape;
  p.frame_stack = a.frame_stack;
  p.n_step = a.n_step;
  p.gamma = a.gamma;
  // Every intervention group must name parameters of this network.
  const InterventionOptions& iv = r.interventions;
  for (const auto& [every, groups, key] :
       {std::tuple(iv.reset_every, &iv.reset_groups,
                   "interventions.reset_groups"),
        std::tuple(iv.shrink_perturb_every, &iv.shrink_perturb_groups,
                   "interventions.shrink_perturb_groups")}) {
    if (every == 0) continue;
    try {
      GroupParameterNames(*FreshNetwork(n, 0), *groups);
    } catch (const Error& e) {
      TOKRL_FAIL() << "config key '" << key << "': " << e.what();
    }
  }
  return r;
}

std::string VariantLabel(const ResolvedConfig& r) {
  if (!r.experiment.variant.empty()) return r.experiment.variant;
  const nn::QNetworkOptions& n = r.network;
  std::string label = r.agent.distributional ? "rainbow" : "dqn";
  label.append(" ")
      .append(nn::ToString(n.tokenizer))
      .append("+")
      .append(nn::ToString(n.penultimate));
  if (n.penultimate == nn::Penultimate::kSoftMoE ||
      n.penultimate == nn::Penultimate::kMoE) {
    label.append(" x").append(std::to_string(n.experts)).append(" experts");
  }
  if (n.scale != 1) label.append(" scale").append(std::to_string(n.scale));
  return label;
}

}  // namespace tokrl
