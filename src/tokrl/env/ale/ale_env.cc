// The ALE backend (compiled only with TOKRL_WITH_ALE; see ale_env.h).
#include "tokrl/env/ale/ale_env.h"

#include <ale/ale_interface.hpp>
#include <array>
#include <cstdint>
#include <exception>
#include <mutex>
#include <sstream>
#include <vector>

#include "tokrl/core/bytes.h"
#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/ale/preprocess.h"

namespace tokrl::ale {
namespace {

constexpr int kSize = 84;

constexpr std::array<const char*, 18> kActionNames = {
    "NOOP",       "FIRE",          "UP",          "RIGHT",     "LEFT",
    "DOWN",       "UPRIGHT",       "UPLEFT",      "DOWNRIGHT", "DOWNLEFT",
    "UPFIRE",     "RIGHTFIRE",     "LEFTFIRE",    "DOWNFIRE",  "UPRIGHTFIRE",
    "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE"};

// ALE's emulator keeps process-wide state while it loads a ROM; loads are
// serialised so that VecEnv threads may construct envs at once.
std::mutex& LoadMutex() {
  static std::mutex mutex;
  return mutex;
}

class AleEnv final : public Env {
 public:
  AleEnv(const std::string& game, const AleOptions& options)
      : game_(game), options_(options), rom_(FindRom(game)) {
    const auto supported = ::ale::ALEInterface::isSupportedROM(rom_);
    if (!supported) {
      TOKRL_FAIL() << "'" << rom_
                   << "' is not a ROM that ALE supports (its MD5 is not in "
                      "ALE's list); ale/"
                   << game << " needs ALE's " << game << ".bin";
    }
    if (*supported != game) {
      TOKRL_FAIL() << "'" << rom_ << "' is ALE's ROM of '" << *supported
                   << "', not of '" << game << "'";
    }
    Load(0);
    const auto actions = options_.full_action_space
                             ? ale_.getLegalActionSet()
                             : ale_.getMinimalActionSet();
    actions_.assign(actions.begin(), actions.end());
    const std::string opts = OptionString();
    spec_.id = "ale/" + game + (opts.empty() ? "" : "(" + opts + ")");
    spec_.obs_shape = {1, kSize, kSize};
    spec_.num_actions = static_cast<int>(actions_.size());
    for (auto a : actions_) {
      spec_.action_names.emplace_back(kActionNames[static_cast<size_t>(a)]);
    }
    spec_.max_episode_steps = 0;  // truncation is in emulator frames
    height_ = static_cast<int>(ale_.getScreen().height());
    width_ = static_cast<int>(ale_.getScreen().width());
    for (auto& b : buffers_) {
      b.assign(static_cast<size_t>(height_ * width_), 0);
    }
  }

  const EnvSpec& spec() const override { return spec_; }

  void Seed(uint64_t seed) override {
    Load(seed);
    rng_.Seed(DeriveSeed(seed, 1));
  }

  void Reset(ObsSpan obs) override {
    ale_.reset_game();
    const int noops = options_.noop_max > 0
                          ? static_cast<int>(rng_.UniformInt(
                                static_cast<uint32_t>(options_.noop_max + 1)))
                          : 0;
    for (int i = 0; i < noops && !ale_.game_over(); ++i) {
      ale_.act(::ale::PLAYER_A_NOOP);
    }
    if (ale_.game_over()) ale_.reset_game();
    lives_ = ale_.lives();
    // Dopamine: the first frame, pooled with a blank one.
    ale_.getScreenGrayscale(buffers_[0]);
    std::fill(buffers_[1].begin(), buffers_[1].end(), 0);
    Observe(obs);
  }

  StepResult Step(int action, ObsSpan obs) override {
    if (action < 0 || action >= spec_.num_actions) {
      TOKRL_FAIL() << "action " << action << " out of range [0, "
                   << spec_.num_actions << ") for " << spec_.id;
    }
    StepResult r;
    const int skip = options_.frame_skip;
    for (int t = 0; t < skip; ++t) {
      r.reward += static_cast<float>(ale_.act(actions_[action]));
      r.terminated = ale_.game_over(/*with_truncation=*/false);
      r.truncated = !r.terminated && ale_.game_truncated();
      if (options_.terminal_on_life_loss) {
        const int lives = ale_.lives();
        r.terminated = r.terminated || lives < lives_;
        lives_ = lives;
      }
      if (r.terminated || r.truncated) break;
      // The last two frames of the step are kept for the max-pool (as
      // Dopamine: an early end leaves the older frames in place).
      if (t >= skip - 2) ale_.getScreenGrayscale(buffers_[t - (skip - 2)]);
    }
    Observe(obs);
    return r;
  }

  std::unique_ptr<Env> Clone() const override {
    auto copy = std::make_unique<AleEnv>(game_, options_);
    copy->LoadState(SaveState());
    return copy;
  }

  std::string SaveState() const override {
    ByteWriter w;
    w.PutString(spec_.id);
    w.PutString(ale_.cloneSystemState().serialize());
    w.Put(rng_.state()).Put(lives_).Put<uint64_t>(buffers_[0].size());
    for (const auto& b : buffers_) w.PutBytes(b.data(), b.size());
    return w.str();
  }

  void LoadState(std::string_view blob) override {
    ByteReader r(blob, "saved state of " + spec_.id);
    const std::string id = r.GetString();
    TOKRL_CHECK_EQ(id, spec_.id) << "saved env state belongs to another env";
    const std::string system = r.GetString();
    const auto rng_state = r.Get<std::array<uint64_t, 4>>();
    const int lives = r.Get<int>();
    const auto size = r.Get<uint64_t>();
    TOKRL_CHECK_EQ(size, buffers_[0].size())
        << "saved state of " << spec_.id << " is corrupt";
    std::array<std::vector<uint8_t>, 2> buffers;
    for (auto& b : buffers) {
      b.resize(size);
      r.GetBytes(b.data(), size);
    }
    r.ExpectDone();
    try {
      ale_.restoreSystemState(::ale::ALEState(system));
    } catch (const std::exception& e) {
      TOKRL_FAIL() << "saved state of " << spec_.id
                   << " is corrupt: " << e.what();
    }
    rng_.set_state(rng_state);
    lives_ = lives;
    buffers_ = std::move(buffers);
  }

 private:
  // (Re)loads the ROM with ALE's settings: the random seed only takes
  // effect on a load.
  void Load(uint64_t seed) {
    std::lock_guard<std::mutex> lock(LoadMutex());
    ::ale::Logger::setMode(::ale::Logger::Warning);
    ale_.setInt("random_seed", static_cast<int>(seed % 2147483647u));
    ale_.setFloat("repeat_action_probability",
                  static_cast<float>(options_.sticky));
    ale_.setInt("frame_skip", 1);
    ale_.setInt("max_num_frames_per_episode", options_.max_episode_frames);
    ale_.setBool("truncate_on_loss_of_life", false);
    // ALE exits the process on a ROM it cannot load: the constructor checked
    // that the file exists and is the game's before the first load.
    ale_.loadROM(rom_);
  }

  void Observe(ObsSpan obs) {
    TOKRL_DCHECK(static_cast<int64_t>(obs.size()) == spec_.obs_size());
    pooled_.resize(buffers_[0].size());
    MaxPool(buffers_[0], buffers_[1], pooled_);
    ResizeArea(pooled_, height_, width_, obs, kSize, kSize);
  }

  // The non-default options in key order, as MinAtar's canonical ids.
  std::string OptionString() const {
    const AleOptions d;
    std::ostringstream out;
    out << std::boolalpha;
    const char* sep = "";
    const auto put = [&](const char* key, const auto& value) {
      out << sep << key << "=" << value;
      sep = ",";
    };
    const AleOptions& o = options_;
    if (o.frame_skip != d.frame_skip) put("frame_skip", o.frame_skip);
    if (o.full_action_space != d.full_action_space) {
      put("full_action_space", o.full_action_space);
    }
    if (o.max_episode_frames != d.max_episode_frames) {
      put("max_episode_frames", o.max_episode_frames);
    }
    if (o.noop_max != d.noop_max) put("noop_max", o.noop_max);
    if (o.sticky != d.sticky) put("sticky", o.sticky);
    if (o.terminal_on_life_loss != d.terminal_on_life_loss) {
      put("terminal_on_life_loss", o.terminal_on_life_loss);
    }
    return out.str();
  }

  std::string game_;
  AleOptions options_;
  std::string rom_;
  // cloneSystemState is not const in ALE's interface.
  mutable ::ale::ALEInterface ale_;
  std::vector<::ale::Action> actions_;
  EnvSpec spec_;
  Rng rng_;
  int lives_ = 0;
  int height_ = 0, width_ = 0;
  std::array<std::vector<uint8_t>, 2> buffers_;
  std::vector<uint8_t> pooled_;
};

}  // namespace

bool AleAvailable() { return true; }

std::unique_ptr<Env> MakeAleEnv(const std::string& game,
                                const AleOptions& options) {
  return std::make_unique<AleEnv>(game, options);
}

}  // namespace tokrl::ale
