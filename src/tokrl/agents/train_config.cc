#include "tokrl/agents/train_config.h"

#include <string>
#include <vector>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

using S = std::string;

}  // namespace

Config MakeTrainConfig() {
  return Config({
      // [experiment]: labels only; they change nothing in training.
      {"experiment.name", S(""),
       "experiment (sweep) this run belongs to; set by `tokrl sweep`"},
      {"experiment.variant", S(""),
       "variant label used by `tokrl report` to group runs (default: "
       "derived from agent and network)"},
      // [env]
      {"env.id", S("minatar/breakout"),
       "env id, options allowed: minatar/breakout(sticky=0.1)"},
      {"env.num_envs", int64_t{1}, "parallel training envs (a VecEnv)"},
      {"env.num_threads", int64_t{1}, "VecEnv threads (0 = all cores)"},
      // [network]
      {"network.encoder", S("minatar"), "minatar | nature | impala"},
      {"network.padding", S("same"),
       "minatar/nature conv padding: same | valid"},
      {"network.tokenizer", S("flatten"),
       "flatten | perconv | perfeat | persamp | perpatch | shuffled"},
      {"network.penultimate", S("dense"),
       "dense | softmoe | moe | tokenized_avg | tokenized_sum"},
      {"network.hidden", int64_t{512},
       "penultimate base width (dense width, expert hidden)"},
      {"network.scale", int64_t{1},
       "penultimate width multiplier (x4 = DFT's scaled)"},
      {"network.experts", int64_t{4}, "SoftMoE / MoE experts"},
      {"network.slots", int64_t{0},
       "slots per expert / MoE capacity (0 = ceil(m c / n))"},
      {"network.capacity_factor", 1.0, "c in the default slot count"},
      {"network.normalize", false, "SoftMoE normalization with learned scale"},
      {"network.routing", S("token_choice"),
       "MoE routing: token_choice | expert_choice"},
      {"network.k", int64_t{1}, "MoE token choice: experts per token"},
      {"network.patch_size", int64_t{3}, "PerPatch patch side"},
      {"network.patch_embedding", S("conv"),
       "PerPatch embedding: conv | avg_pool"},
      {"network.shuffle_seed", int64_t{0},
       "Shuffled tokenizer permutation seed"},
      {"network.extra_layer", false,
       "extra Dense(hidden)+ReLU before the head"},
      {"network.dueling", false, "dueling head"},
      {"network.noisy", false, "NoisyNet head layers"},
      {"network.noisy_sigma0", 0.5, "NoisyNet sigma0"},
      // [agent]
      {"agent.type", S("dqn"), "dqn (scalar Q) | rainbow (C51 distributional)"},
      {"agent.gamma", 0.99, "discount"},
      {"agent.n_step", int64_t{1}, "multi-step returns"},
      {"agent.lr", 2.5e-4, "Adam learning rate"},
      {"agent.adam_eps", 3.125e-4, "Adam epsilon"},
      {"agent.batch_size", int64_t{32}, "minibatch size"},
      {"agent.loss", S("mse"), "dqn TD loss: mse | huber"},
      {"agent.double_q", false, "double DQN targets"},
      {"agent.grad_clip_norm", 0.0, "global gradient norm clip (0 = off)"},
      {"agent.min_replay", int64_t{1000}, "env steps before learning starts"},
      {"agent.update_period", int64_t{4}, "env steps per gradient update"},
      {"agent.target_update_period", int64_t{1000},
       "env steps per target copy"},
      {"agent.epsilon_start", 1.0, "epsilon during warm-up"},
      {"agent.epsilon_end", 0.01, "epsilon after decay"},
      {"agent.epsilon_decay_steps", int64_t{250000},
       "env steps of linear decay after warm-up"},
      {"agent.epsilon_eval", 0.001, "epsilon during evaluation"},
      {"agent.num_atoms", int64_t{51}, "rainbow: C51 atoms"},
      {"agent.v_min", -10.0, "rainbow: support minimum"},
      {"agent.v_max", 10.0, "rainbow: support maximum"},
      // [replay]
      {"replay.capacity", int64_t{100000}, "transitions held"},
      {"replay.prioritized", false, "proportional prioritized replay"},
      {"replay.alpha", 0.5, "priority exponent"},
      {"replay.beta", 0.5, "importance-sampling exponent (fixed, as Dopamine)"},
      {"replay.priority_eps", 1e-10, "added to priorities before the exponent"},
      // [train]
      {"train.total_steps", int64_t{10000000}, "env steps to train for"},
      {"train.seed", int64_t{0},
       "root seed (envs, exploration, replay, network init)"},
      {"train.device", S("auto"), "auto | cpu | cuda | cuda:N"},
      {"train.torch_threads", int64_t{1}, "LibTorch intra-op threads"},
      {"train.eval_every", int64_t{100000},
       "env steps between evaluations (0 = never)"},
      {"train.eval_episodes", int64_t{10}, "episodes per evaluation"},
      {"train.eval_max_steps", int64_t{27000},
       "step cap per evaluation episode"},
      {"train.log_every", int64_t{10000},
       "env steps between progress lines and metric rows"},
      {"train.checkpoint_every", int64_t{0},
       "env steps between checkpoints (0 = at the end)"},
      {"train.tensorboard", true, "also write TensorBoard event files"},
      {"train.episode_window", int64_t{100},
       "episodes in the running training return"},
  });
}

namespace {

int64_t Positive(const Config& c, const std::string& key) {
  const int64_t v = c.GetInt(key);
  TOKRL_CHECK_GT(v, 0) << "config key '" << key << "' must be positive";
  return v;
}

int64_t NonNegative(const Config& c, const std::string& key) {
  const int64_t v = c.GetInt(key);
  TOKRL_CHECK_GE(v, 0) << "config key '" << key << "' must be >= 0";
  return v;
}

double Probability(const Config& c, const std::string& key) {
  const double v = c.GetDouble(key);
  TOKRL_CHECK(v >= 0.0 && v <= 1.0)
      << "config key '" << key << "' must be in [0, 1], got " << v;
  return v;
}

}  // namespace

AgentOptions AgentOptionsFrom(const Config& c) {
  AgentOptions o;
  const std::string& type = c.GetString("agent.type");
  if (type != "dqn" && type != "rainbow") {
    TOKRL_FAIL() << "config key 'agent.type': unknown agent '" << type
                 << "'; valid choices: dqn, rainbow";
  }
  o.distributional = type == "rainbow";
  o.gamma = Probability(c, "agent.gamma");
  o.n_step = static_cast<int>(Positive(c, "agent.n_step"));
  o.lr = c.GetDouble("agent.lr");
  TOKRL_CHECK_GT(o.lr, 0.0) << "config key 'agent.lr' must be positive";
  o.adam_eps = c.GetDouble("agent.adam_eps");
  TOKRL_CHECK_GT(o.adam_eps, 0.0)
      << "config key 'agent.adam_eps' must be positive";
  o.batch_size = Positive(c, "agent.batch_size");
  const std::string& loss = c.GetString("agent.loss");
  if (loss == "mse") {
    o.loss = LossType::kMse;
  } else if (loss == "huber") {
    o.loss = LossType::kHuber;
  } else {
    TOKRL_FAIL() << "config key 'agent.loss': unknown loss '" << loss
                 << "'; valid choices: mse, huber";
  }
  o.double_q = c.GetBool("agent.double_q");
  o.grad_clip_norm = c.GetDouble("agent.grad_clip_norm");
  TOKRL_CHECK_GE(o.grad_clip_norm, 0.0)
      << "config key 'agent.grad_clip_norm' must be >= 0";
  o.min_replay = Positive(c, "agent.min_replay");
  o.update_period = Positive(c, "agent.update_period");
  o.target_update_period = Positive(c, "agent.target_update_period");
  o.epsilon_start = Probability(c, "agent.epsilon_start");
  o.epsilon_end = Probability(c, "agent.epsilon_end");
  o.epsilon_decay_steps = NonNegative(c, "agent.epsilon_decay_steps");
  o.epsilon_eval = Probability(c, "agent.epsilon_eval");
  o.num_atoms = c.GetInt("agent.num_atoms");
  TOKRL_CHECK_GE(o.num_atoms, 2) << "config key 'agent.num_atoms' must be >= 2";
  o.v_min = c.GetDouble("agent.v_min");
  o.v_max = c.GetDouble("agent.v_max");
  TOKRL_CHECK_LT(o.v_min, o.v_max)
      << "config keys 'agent.v_min' < 'agent.v_max' required";
  return o;
}

TrainOptions TrainOptionsFrom(const Config& c) {
  TrainOptions o;
  o.env_id = c.GetString("env.id");
  o.num_envs = static_cast<int>(Positive(c, "env.num_envs"));
  o.env_threads = static_cast<int>(NonNegative(c, "env.num_threads"));
  o.total_steps = Positive(c, "train.total_steps");
  o.seed = static_cast<uint64_t>(NonNegative(c, "train.seed"));
  o.device = c.GetString("train.device");
  o.torch_threads = static_cast<int>(Positive(c, "train.torch_threads"));
  o.eval_every = NonNegative(c, "train.eval_every");
  o.eval_episodes = static_cast<int>(Positive(c, "train.eval_episodes"));
  o.eval_max_steps = Positive(c, "train.eval_max_steps");
  o.log_every = Positive(c, "train.log_every");
  o.checkpoint_every = NonNegative(c, "train.checkpoint_every");
  o.tensorboard = c.GetBool("train.tensorboard");
  o.episode_window = static_cast<int>(Positive(c, "train.episode_window"));
  return o;
}

nn::QNetworkOptions NetworkOptionsFrom(const Config& c, const EnvSpec& spec) {
  nn::QNetworkOptions o;
  o.obs_shape = spec.obs_shape;
  o.num_actions = spec.num_actions;
  o.encoder = nn::ParseEncoderType(c.GetString("network.encoder"));
  o.padding = nn::ParsePadding(c.GetString("network.padding"));
  o.tokenizer = nn::ParseTokenization(c.GetString("network.tokenizer"));
  o.penultimate = nn::ParsePenultimate(c.GetString("network.penultimate"));
  o.hidden = Positive(c, "network.hidden");
  o.scale = Positive(c, "network.scale");
  o.experts = Positive(c, "network.experts");
  o.slots = NonNegative(c, "network.slots");
  o.capacity_factor = c.GetDouble("network.capacity_factor");
  TOKRL_CHECK_GT(o.capacity_factor, 0.0)
      << "config key 'network.capacity_factor' must be > 0";
  o.normalize = c.GetBool("network.normalize");
  o.routing = nn::ParseMoERouting(c.GetString("network.routing"));
  o.k = Positive(c, "network.k");
  o.patch_size = Positive(c, "network.patch_size");
  o.patch_embedding =
      nn::ParsePatchEmbedding(c.GetString("network.patch_embedding"));
  o.shuffle_seed =
      static_cast<uint64_t>(NonNegative(c, "network.shuffle_seed"));
  o.extra_layer = c.GetBool("network.extra_layer");
  o.dueling = c.GetBool("network.dueling");
  o.noisy = c.GetBool("network.noisy");
  o.noisy_sigma0 = c.GetDouble("network.noisy_sigma0");
  const AgentOptions agent = AgentOptionsFrom(c);
  o.head = agent.distributional ? nn::HeadType::kC51 : nn::HeadType::kLinear;
  o.num_atoms = agent.num_atoms;
  o.v_min = agent.v_min;
  o.v_max = agent.v_max;
  return o;
}

ReplayOptions ReplayOptionsFrom(const Config& c, const EnvSpec& spec) {
  ReplayOptions o;
  o.capacity = Positive(c, "replay.capacity");
  o.num_envs = static_cast<int>(Positive(c, "env.num_envs"));
  o.obs_shape = spec.obs_shape;
  o.frame_stack = 1;
  o.n_step = static_cast<int>(Positive(c, "agent.n_step"));
  o.gamma = Probability(c, "agent.gamma");
  o.prioritized = c.GetBool("replay.prioritized");
  o.alpha = c.GetDouble("replay.alpha");
  TOKRL_CHECK_GE(o.alpha, 0.0) << "config key 'replay.alpha' must be >= 0";
  o.beta = c.GetDouble("replay.beta");
  TOKRL_CHECK_GE(o.beta, 0.0) << "config key 'replay.beta' must be >= 0";
  o.priority_eps = c.GetDouble("replay.priority_eps");
  TOKRL_CHECK_GE(o.priority_eps, 0.0)
      << "config key 'replay.priority_eps' must be >= 0";
  return o;
}

}  // namespace tokrl
