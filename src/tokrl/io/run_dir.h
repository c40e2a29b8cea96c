// The layout of a run directory: one place that names its files, used by
// the trainer (which writes them), `tokrl sweep` (which reads a run's state
// from them) and `tokrl report` (which reads the results).
//
//   config.toml       the fully resolved config (every key); written first,
//                     so its presence means "a run was started here"
//   run_info.json     version, git commit, machine, start time, command
//                     line (run_info.resume-<step>.json for each resume)
//   metrics.csv / metrics.jsonl / events.out.tfevents.*   (metrics_logger.h)
//   checkpoint/       the latest checkpoint (checkpoint_dir.h), with
//                     checkpoint.tmp/ and checkpoint.old/ while one is swapped
//   summary.json      final evaluation, timing and the variant label; written
//                     last, so its presence means "finished"
//   summary.step-<N>.json   the summary of a finished run later extended
//   lock              held (flock) by the live trainer (run_lock.h)
//   attempt-<k>/      the files of an attempt that died before its first
//                     checkpoint, kept when it was restarted
//   train.log         the trainer's output, when `tokrl sweep` started it
#ifndef TOKRL_IO_RUN_DIR_H_
#define TOKRL_IO_RUN_DIR_H_

#include <filesystem>

namespace tokrl::io::run_dir {

inline constexpr char kConfig[] = "config.toml";
inline constexpr char kRunInfo[] = "run_info.json";
inline constexpr char kMetricsCsv[] = "metrics.csv";
inline constexpr char kMetricsJsonl[] = "metrics.jsonl";
inline constexpr char kCheckpoint[] = "checkpoint";
inline constexpr char kCheckpointTmp[] = "checkpoint.tmp";
inline constexpr char kCheckpointOld[] = "checkpoint.old";
inline constexpr char kManifest[] = "MANIFEST";
inline constexpr char kSummary[] = "summary.json";
inline constexpr char kLock[] = "lock";
inline constexpr char kAttemptPrefix[] = "attempt-";
inline constexpr char kTrainLog[] = "train.log";

// Moves everything in `run_dir` but the lock and earlier attempts into
// run_dir/attempt-<k>/ (the first free k) and returns that folder: how the
// trainer (--resume) and `tokrl sweep` restart a run that died before its
// first checkpoint without losing its files. The caller must hold the
// directory or know that no trainer does.
std::filesystem::path MoveAttemptAside(const std::filesystem::path& run_dir);

}  // namespace tokrl::io::run_dir

#endif  // TOKRL_IO_RUN_DIR_H_
