// Launching a sweep's runs: each run is a separate `tokrl train` process.
//
// Local launcher (RunLocal): up to `jobs` runs at a time on this machine.
//   * done runs (summary.json present) are skipped;
//   * partial runs (a checkpoint, no summary) are resumed (--resume), which
//     continues bit-exactly on the CPU (see agents/trainer.h);
//   * stale run folders (no checkpoint: the run died before its first one)
//     have their files moved to <dir>/attempt-<k>/ (kept, never deleted; as
//     the trainer's --resume does) and are started over;
//   * each run's output is appended to <run_dir>/train.log;
//   * a failed run does not stop the others; the summary lists it with the
//     tail of its log.
// Interruption: once `*stop` becomes true (tokrl sweep sets it on SIGINT or
// SIGTERM), no new run starts, every running one gets SIGTERM (tokrl train
// then writes a checkpoint and exits) and RunLocal returns after they ended,
// with `interrupted` set. The next invocation resumes them.
//
// SLURM launcher (WriteSlurmScript / SubmitSlurm): one sbatch array job whose
// task i runs the sweep's run i through `tokrl sweep ... --task i` (so the
// same skip/resume rules apply inside the cluster); with --pack K, task i
// trains SweepPacks(sweep, K)[i] in one packed process instead. Only tasks
// with a run not yet done at submission get an array index. Options map to
// #SBATCH lines; with a time limit the task gets SIGTERM two minutes before it,
// so its run stops with a checkpoint (resubmitting resumes it).
#ifndef TOKRL_SWEEP_LAUNCHER_H_
#define TOKRL_SWEEP_LAUNCHER_H_

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "tokrl/sweep/sweep.h"

namespace tokrl::sweep {

struct LocalOptions {
  /// Processes at a time (>= 1).
  int jobs = 1;
  /// Runs per process (>= 1): K > 1 trains up to K runs of one variant and
  /// game in one `tokrl train --pack-seeds` process (agents/packed_trainer.h;
  /// all new or all partial), logging to the first one's train.log (the
  /// others' train.log name it).
  int pack = 1;
  /// The tokrl binary that runs `train`.
  std::filesystem::path tokrl;
  /// Extra arguments for every `tokrl train` (e.g. --stop-after N).
  std::vector<std::string> extra_train_args;
  /// Progress lines (nullptr: silent).
  std::ostream* log = nullptr;
  /// Interruption request (nullptr: none).
  const std::atomic<bool>* stop = nullptr;
};

struct LaunchSummary {
  int total = 0;     // runs considered
  int skipped = 0;   // already done before this launch
  int finished = 0;  // ran and exited 0
  int failed = 0;
  int stopped = 0;  // stopped by an interruption, with a checkpoint
  bool interrupted = false;
  std::vector<std::string> failures;  // one line per failed run
};

// The `tokrl train` arguments of runs started together (indices into
// sweep.runs, one variant and game): TrainArguments for one run, else a
// packed run (--pack-seeds, --run-dir their common folder).
std::vector<std::string> PackTrainArguments(const Sweep& sweep,
                                            const std::vector<size_t>& runs,
                                            bool resume);

// Runs the given runs (indices into sweep.runs; empty = all).
LaunchSummary RunLocal(const Sweep& sweep, const LocalOptions& options,
                       const std::vector<size_t>& indices = {});

// The packs of a SLURM sweep with --pack K: the runs of each variant and
// game in sweep order, K at a time (a group's last pack may be smaller).
// Fixed by the sweep file alone, so a task index means the same pack at
// submission and when the task runs. Pure.
std::vector<std::vector<size_t>> SweepPacks(const Sweep& sweep, int pack);

struct SlurmOptions {
  /// The tokrl binary the tasks run (absolute).
  std::filesystem::path tokrl;
  /// Runs per array task (>= 1): K > 1 makes task i train SweepPacks(K)[i]
  /// (the script adds --pack K to sweep_args).
  int pack = 1;
  /// Arguments of `tokrl` that recreate this sweep, without --task:
  /// {"sweep", "<file>", "--out", "<dir>", "--budget", ..., "--set", ...}.
  std::vector<std::string> sweep_args;
  /// At most this many tasks at once (the %N of --array; 0 = no limit).
  int max_parallel = 0;
  int cpus_per_task = 1;
  /// #SBATCH --time / --partition / --mem when non-empty.
  std::string time, partition, mem;
  /// Further raw sbatch options, e.g. "--account=rl".
  std::vector<std::string> sbatch_args;
};

// The sbatch script whose array covers the task indices `tasks` (runs, or
// packs with options.pack > 1; non-empty). Pure: same inputs, same text.
std::string SlurmScript(const Sweep& sweep, const std::vector<size_t>& tasks,
                        const SlurmOptions& options);

struct SlurmSubmission {
  std::filesystem::path script;
  size_t tasks = 0;
  std::string job_id;  // empty when not submitted
};

// Writes <out>/slurm/<name>.sbatch for the pending tasks and, when `submit`,
// runs `sbatch --parsable [--wait] <script>`. Throws tokrl::Error when sbatch
// is missing or fails (with its output). With nothing pending, writes
// nothing and returns tasks = 0.
SlurmSubmission SubmitSlurm(const Sweep& sweep, const SlurmOptions& options,
                            bool submit, bool wait);

// Indices of the runs whose state is not kDone.
std::vector<size_t> PendingRuns(const Sweep& sweep);

// The array tasks with a run not yet done: PendingRuns for pack 1, else the
// indices of those SweepPacks(sweep, pack).
std::vector<size_t> PendingTasks(const Sweep& sweep, int pack);

// Records the expanded sweep in <out>/sweep.json (name, file, budget, and
// every run's name, folder and train arguments), atomically.
void WriteSweepManifest(const Sweep& sweep);

}  // namespace tokrl::sweep

#endif  // TOKRL_SWEEP_LAUNCHER_H_
