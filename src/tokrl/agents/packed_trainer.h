// PackedTrainer: K runs that differ only in train.seed ("members", e.g. K
// seeds of one game and variant) trained in one process, their networks
// stepped as one PackedAgent (agents/packed_agent.h). Behind `tokrl train
// --pack K` and `tokrl sweep --pack K`.
//
// Each member is a full Trainer (trainer.h) with its own run directory,
// VecEnv, replay, evaluator, exploration / sampling / statistics streams,
// metrics and checkpoints: the same files as an unpacked run, so `tokrl
// report`, `tokrl sweep` and an unpacked `tokrl train --resume` read them as
// usual. Only acting and updating go through the PackedAgent; before a
// member's networks are read (evaluation, logs, statistics, interventions,
// checkpoints) the member's DqnAgent is filled from it (Unpack), and an
// intervention's result is packed back.
//
// Contract
//   * Per member, the same env, exploration and replay streams as the
//     unpacked run with its seed: equal up to the first update (tested
//     byte for byte); after it, the networks agree to float rounding, so
//     runs track the unpacked ones until a near-tie flips an action.
//   * Resume: all members resume from their checkpoints (written in the
//     unpacked format) and continue exactly as an uninterrupted packed run
//     (tested); the members must be at the same step, which is checked
//     before any member is opened.
//   * Every error that depends only on the configs (members differing in
//     more than train.seed, a network PackedAgent cannot pack, duplicate run
//     directories) is raised before any run directory is touched.
#ifndef TOKRL_AGENTS_PACKED_TRAINER_H_
#define TOKRL_AGENTS_PACKED_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/agents/packed_agent.h"
#include "tokrl/agents/trainer.h"
#include "tokrl/core/config.h"

namespace tokrl {

class PackedTrainer {
 public:
  // configs[k] and run_dirs[k]: member k (at least one). `progress` gets
  // every member's progress lines (nullptr: silent).
  PackedTrainer(const std::vector<Config>& configs,
                const std::vector<std::filesystem::path>& run_dirs, bool resume,
                std::vector<std::string> command_line, std::ostream* progress);
  ~PackedTrainer();

  // Trainer::Run for all members at once: one summary per member.
  std::vector<TrainSummary> Run(int64_t stop_after = -1,
                                const std::atomic<bool>* stop = nullptr);
  void Step();

  int64_t members() const { return static_cast<int64_t>(members_.size()); }
  Trainer& member(int64_t k) { return *members_[static_cast<size_t>(k)]; }
  PackedAgent& agent() { return *agent_; }

 private:
  // Fills every member's agent from the packed one.
  void UnpackAll();

  std::vector<std::unique_ptr<Trainer>> members_;
  std::unique_ptr<PackedAgent> agent_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_PACKED_TRAINER_H_
