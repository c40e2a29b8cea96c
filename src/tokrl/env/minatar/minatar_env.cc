#include "tokrl/env/minatar/minatar_env.h"

#include <sstream>

#include "tokrl/core/bytes.h"
#include "tokrl/core/check.h"
#include "tokrl/env/registry.h"

namespace tokrl::minatar {
namespace {

const char* const kFullActionNames[kNumFullActions] = {"noop",  "left", "up",
                                                       "right", "down", "fire"};

// Canonical id: the game plus every option that differs from its default, so
// the id alone recreates the env.
std::string CanonicalId(const std::string& game, const MinAtarOptions& o) {
  const MinAtarOptions defaults;
  std::ostringstream opts;
  const char* sep = "";
  opts << std::boolalpha;
  if (o.max_episode_steps != defaults.max_episode_steps) {
    opts << sep << "max_episode_steps=" << o.max_episode_steps;
    sep = ",";
  }
  if (o.minimal_actions != defaults.minimal_actions) {
    opts << sep << "minimal_actions=" << o.minimal_actions;
    sep = ",";
  }
  if (o.ramping != defaults.ramping) {
    opts << sep << "ramping=" << o.ramping;
    sep = ",";
  }
  if (o.sticky != defaults.sticky) opts << sep << "sticky=" << o.sticky;
  const std::string options = opts.str();
  return "minatar/" + game + (options.empty() ? "" : "(" + options + ")");
}

}  // namespace

MinAtarEnv::MinAtarEnv(const std::string& game, const MinAtarOptions& options)
    : game_(MakeGame(game, options.ramping)), options_(options) {
  TOKRL_CHECK(options.sticky >= 0.0 && options.sticky <= 1.0)
      << "sticky must be in [0, 1], got " << options.sticky;
  TOKRL_CHECK_GE(options.max_episode_steps, 0);
  if (options.minimal_actions) {
    action_map_ = game_->minimal_action_set();
  } else {
    for (int a = 0; a < kNumFullActions; ++a) action_map_.push_back(a);
  }
  spec_.id = CanonicalId(game, options);
  spec_.obs_shape = {game_->num_channels(), kGridSize, kGridSize};
  spec_.num_actions = static_cast<int>(action_map_.size());
  for (int a : action_map_) spec_.action_names.push_back(kFullActionNames[a]);
  spec_.max_episode_steps = options.max_episode_steps;
}

MinAtarEnv::MinAtarEnv(const MinAtarEnv& other)
    : game_(other.game_->Clone()),
      options_(other.options_),
      spec_(other.spec_),
      action_map_(other.action_map_),
      rng_(other.rng_),
      previous_action_(other.previous_action_),
      episode_steps_(other.episode_steps_) {}

std::unique_ptr<Env> MinAtarEnv::Clone() const {
  return std::make_unique<MinAtarEnv>(*this);
}

std::string MinAtarEnv::SaveState() const {
  ByteWriter w;
  w.PutString(spec_.id)
      .Put(rng_.state())
      .Put(previous_action_)
      .Put(episode_steps_);
  w.PutString(game_->SaveState());
  return w.str();
}

void MinAtarEnv::LoadState(std::string_view blob) {
  ByteReader r(blob, "saved state of " + spec_.id);
  const std::string id = r.GetString();
  TOKRL_CHECK_EQ(id, spec_.id) << "saved env state belongs to another env";
  const auto rng_state = r.Get<std::array<uint64_t, 4>>();
  const int previous = r.Get<int>();
  const int steps = r.Get<int>();
  const std::string game = r.GetString();
  r.ExpectDone();
  TOKRL_CHECK(previous >= 0 && previous < kNumFullActions && steps >= 0)
      << "saved state of " << spec_.id << " is corrupt";
  game_->LoadState(game);  // validates before anything else changes below
  rng_.set_state(rng_state);
  previous_action_ = previous;
  episode_steps_ = steps;
}

void MinAtarEnv::Reset(ObsSpan obs) {
  TOKRL_DCHECK(static_cast<int64_t>(obs.size()) == spec_.obs_size());
  // previous_action_ survives resets on purpose (spec pitfall 1).
  game_->Reset(rng_);
  episode_steps_ = 0;
  game_->Render(obs.data());
}

StepResult MinAtarEnv::Step(int action, ObsSpan obs) {
  TOKRL_DCHECK(static_cast<int64_t>(obs.size()) == spec_.obs_size());
  if (action < 0 || action >= spec_.num_actions) {
    TOKRL_FAIL() << "action " << action << " out of range [0, "
                 << spec_.num_actions << ") for " << spec_.id;
  }
  // The draw happens on every call, also when sticky == 0.
  const double u = rng_.Uniform();
  const int executed =
      u < options_.sticky ? previous_action_ : action_map_[action];
  previous_action_ = executed;
  StepResult result;
  result.reward = static_cast<float>(game_->Act(executed, rng_));
  ++episode_steps_;
  result.terminated = game_->terminal();
  result.truncated = !result.terminated && options_.max_episode_steps > 0 &&
                     episode_steps_ >= options_.max_episode_steps;
  game_->Render(obs.data());
  return result;
}

MinAtarOptions ParseMinAtarOptions(EnvOptions& options) {
  MinAtarOptions o;
  o.sticky = options.GetDouble("sticky", o.sticky, 0.0, 1.0);
  o.ramping = options.GetBool("ramping", o.ramping);
  o.minimal_actions = options.GetBool("minimal_actions", o.minimal_actions);
  o.max_episode_steps =
      options.GetInt("max_episode_steps", o.max_episode_steps, 0, 1 << 30);
  return o;
}

void RegisterMinAtarEnvs() {
  for (const std::string& game : GameNames()) {
    RegisterEnv("minatar/" + game,
                "MinAtar " + game + " (10x10, sticky actions 0.1, ramping)",
                [game](EnvOptions& options) -> std::unique_ptr<Env> {
                  return std::make_unique<MinAtarEnv>(
                      game, ParseMinAtarOptions(options));
                });
  }
}

}  // namespace tokrl::minatar
