#include "tokrl/agents/packed_trainer.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "tokrl/agents/train_config.h"
#include "tokrl/core/check.h"
#include "tokrl/env/registry.h"
#include "tokrl/io/run_dir.h"
#include "tokrl/nn/packed_q_network.h"

namespace tokrl {
namespace fs = std::filesystem;

namespace {

// Members may differ in their seed alone: everything else shapes the
// networks or the schedule that the packed agent shares.
void CheckMembersAgree(const std::vector<Config>& configs) {
  const Config& first = configs.front();
  for (size_t k = 1; k < configs.size(); ++k) {
    const auto& a = first.fields();
    const auto& b = configs[k].fields();
    TOKRL_CHECK_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].key == "train.seed") continue;
      TOKRL_CHECK(a[i].value == b[i].value)
          << "packed runs must differ only in train.seed, but '" << a[i].key
          << "' differs between member 0 and member " << k;
    }
  }
}

}  // namespace

PackedTrainer::PackedTrainer(const std::vector<Config>& configs,
                             const std::vector<fs::path>& run_dirs, bool resume,
                             std::vector<std::string> command_line,
                             std::ostream* progress) {
  TOKRL_CHECK(!configs.empty() && configs.size() == run_dirs.size())
      << "a packed run needs one config and one run directory per member";
  // Everything that can be wrong in the configs, before any directory.
  CheckMembersAgree(configs);
  std::set<fs::path> dirs;
  for (const auto& d : run_dirs) {
    TOKRL_CHECK(dirs.insert(fs::weakly_canonical(d)).second)
        << "packed members share the run directory " << d.string();
  }
  {
    auto env = MakeEnv(configs.front().GetString("env.id"));
    nn::CheckPackable(Resolve(configs.front(), env->spec()).network);
  }

  if (resume) {
    // Members at different points could not step together; found only
    // after opening them, the earlier ones would have been touched (and
    // one without a checkpoint moved aside).
    const auto point = [&](size_t k) {
      const std::optional<int64_t> step = CheckpointStep(run_dirs[k]);
      if (!step) return std::string("no checkpoint");
      return std::to_string(*step) + " steps" +
             (fs::exists(run_dirs[k] / io::run_dir::kSummary) ? " (finished)"
                                                              : "");
    };
    const std::string first = point(0);
    for (size_t k = 1; k < run_dirs.size(); ++k) {
      const std::string other = point(k);
      TOKRL_CHECK(other == first)
          << "packed members must be at the same step: " << first
          << " in member 0 (" << run_dirs[0].string() << "), " << other
          << " in member " << k << " (" << run_dirs[k].string()
          << "); continue them unpacked";
    }
  }

  for (size_t k = 0; k < configs.size(); ++k) {
    members_.push_back(std::make_unique<Trainer>(
        configs[k], run_dirs[k], resume, command_line, progress));
  }
  Trainer& first = *members_.front();
  agent_ = std::make_unique<PackedAgent>(first.agent_options(),
                                         first.agent().online()->options,
                                         members(), first.agent().device());
  for (int64_t k = 0; k < members(); ++k) agent_->Pack(k, member(k).agent());
}

PackedTrainer::~PackedTrainer() = default;

void PackedTrainer::UnpackAll() {
  for (int64_t k = 0; k < members(); ++k) agent_->Unpack(k, member(k).agent());
}

void PackedTrainer::Step() {
  double epsilon = 0;
  std::vector<std::span<const uint8_t>> obs;
  std::vector<Rng*> rngs;
  for (auto& m : members_) {
    obs.push_back(m->BeginStep(&epsilon));  // the same schedule for all
    rngs.push_back(&m->act_rng());
  }
  const auto actions =
      agent_->Act(obs, members_.front()->num_envs(), epsilon, rngs);
  int updates = 0;
  for (int64_t k = 0; k < members(); ++k) {
    updates = member(k).EndAct(actions[static_cast<size_t>(k)]);
  }
  std::vector<SampledBatch> batches(members_.size());
  for (int u = 0; u < updates; ++u) {
    for (int64_t k = 0; k < members(); ++k) {
      batches[static_cast<size_t>(k)] = member(k).SampleBatch();
    }
    const std::vector<UpdateMetrics> metrics = agent_->Update(batches);
    bool diverged = false;
    for (const auto& m : metrics) diverged |= m.diverged;
    if (diverged) {
      // No member's step was applied: every member checkpoints the state
      // before it, and the first diverged one throws saying so.
      UnpackAll();
      for (int64_t k = 0; k < members(); ++k) {
        if (!metrics[static_cast<size_t>(k)].diverged) {
          member(k).SaveCheckpoint();
        }
      }
      for (int64_t k = 0; k < members(); ++k) {
        const UpdateMetrics& m = metrics[static_cast<size_t>(k)];
        if (m.diverged)
          member(k).ApplyUpdate(batches[static_cast<size_t>(k)], m);
      }
    }
    for (int64_t k = 0; k < members(); ++k) {
      member(k).ApplyUpdate(batches[static_cast<size_t>(k)],
                            metrics[static_cast<size_t>(k)]);
    }
  }
  Trainer& first = *members_.front();
  if (first.EndStepReadsAgent()) UnpackAll();
  for (int64_t k = 0; k < members(); ++k) {
    member(k).EndStep();
    if (member(k).Intervenes()) agent_->Pack(k, member(k).agent());
  }
  // After EndStep, as Trainer::EndStep syncs after the interventions.
  if (first.Due(first.agent_options().target_update_period)) {
    agent_->SyncTarget();
  }
}

std::vector<TrainSummary> PackedTrainer::Run(int64_t stop_after,
                                             const std::atomic<bool>* stop) {
  std::vector<TrainSummary> summaries;
  if (members_.front()->finished()) {
    for (auto& m : members_) summaries.push_back(m->FinishedSummary());
    return summaries;
  }
  for (auto& m : members_) m->StartClock();
  while (!members_.front()->ShouldStop(stop_after, stop)) Step();
  UnpackAll();
  for (auto& m : members_) summaries.push_back(m->Finish());
  return summaries;
}

}  // namespace tokrl
