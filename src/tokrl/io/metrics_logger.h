// Per-run metric logs: metrics.csv, metrics.jsonl and (optionally) TensorBoard.
//
//   MetricsLogger log(run_dir, /*tensorboard=*/true);
//   log.Log(10000, {{"train/loss", 0.31}, {"train/episode_return", 12.5}});
//
// Each Log(step, values) call writes one row to each sink:
//   run_dir/metrics.csv    header "step,<col>,<col>,..." then one line per
//                          row; values in shortest round-trip form
//                          (std::to_chars), so they read back bit-exact;
//                          non-finite values print as nan / inf / -inf.
//   run_dir/metrics.jsonl  one JSON object per line, "step" first, then the
//                          row's keys: {"step":10000,"train/loss":0.31,...};
//                          non-finite values become null (JSON has no NaN).
//   run_dir/events.out.tfevents.*   (when tensorboard is on) one scalar per
//                          key, tag = key.
// Every Log() hands its rows to the OS before returning, so a crash of the
// process loses no logged row. The run directory is created if missing.
//
// Column policy (the CSV stays rectangular, with stable columns):
//   * The columns are fixed once: by MetricsLoggerOptions::columns if given,
//     else by the header of an existing metrics.csv, else by the keys of the
//     first Log() call (in std::map order, i.e. sorted).
//   * A later row with a key outside the columns is an error (tokrl::Error
//     naming the key and the columns), and nothing of that row is written.
//     Declare every metric up front (options.columns) or log them all in the
//     first row.
//   * A row may omit columns: its CSV cells are left empty and its JSON line
//     and TensorBoard events simply lack those keys. So metrics logged at
//     different rates (training loss every 1k steps, evaluation return every
//     50k) share one file.
//   * Keys must be non-empty, must not be "step" and must not contain ',',
//     '"', '\r' or '\n' (so the CSV needs no quoting).
//   * Steps must be non-decreasing across Log() calls (several rows may share
//     a step); going backwards is an error. This catches a resumed run that
//     forgot to pass its resume step.
//
// Opening an existing run directory appends; nothing is truncated. Before
// appending, both text files are checked and, when needed, rewritten
// atomically (WriteFileAtomic, so a crash during the rewrite loses nothing):
//   * a final line without its '\n' (a write cut short by a crash) is dropped;
//   * with a resume step, every row with step > resume step is dropped, so a
//     run resumed from a checkpoint at step S logs no duplicate steps;
//   * a malformed line (unparsable step, invalid JSON) is a tokrl::Error
//     naming the file and line number.
// TensorBoard files are never rewritten: a resumed run starts a new event
// file beginning with a SessionLog START at resume_step + 1, on which
// TensorBoard discards the older file's points at those steps.
//
// A MetricsLogger is not thread-safe. Two loggers must not share a run dir.
#ifndef TOKRL_IO_METRICS_LOGGER_H_
#define TOKRL_IO_METRICS_LOGGER_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tokrl::io {

class TfEventsWriter;

struct MetricsLoggerOptions {
  // Also write TensorBoard event files into the run directory.
  bool tensorboard = false;
  // Resuming from a checkpoint taken at this step: drop logged rows with a
  // larger step. Unset: keep every existing row.
  std::optional<int64_t> resume_step;
  // The CSV columns (without "step"), in this order. Empty: decided as the
  // file comment says. If metrics.csv already has a header, it must list
  // exactly these columns in this order (else tokrl::Error).
  std::vector<std::string> columns;
};

class MetricsLogger {
 public:
  MetricsLogger(const std::filesystem::path& run_dir, bool tensorboard,
                std::optional<int64_t> resume_step = std::nullopt);
  MetricsLogger(const std::filesystem::path& run_dir,
                const MetricsLoggerOptions& options);
  ~MetricsLogger();
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;

  // Appends one row. Throws tokrl::Error (and writes nothing) on a key
  // outside the columns, an invalid key or a step smaller than the last one;
  // throws tokrl::Error naming the file on an I/O error.
  void Log(int64_t step, const std::map<std::string, double>& values);

  // The CSV columns without "step"; empty until fixed (see file comment).
  const std::vector<std::string>& columns() const { return columns_; }
  // Largest step logged so far, including rows kept from an existing run.
  std::optional<int64_t> last_step() const { return last_step_; }
  std::filesystem::path csv_path() const;
  std::filesystem::path jsonl_path() const;
  // Empty when TensorBoard output is off.
  std::filesystem::path tfevents_path() const;

 private:
  void OpenCsv(std::optional<int64_t> resume_step);
  void OpenJsonl(std::optional<int64_t> resume_step);
  void SetColumns(std::vector<std::string> columns);
  void NoteStep(int64_t step);

  std::filesystem::path run_dir_;
  std::vector<std::string> columns_;
  std::set<std::string> column_set_;
  bool csv_has_header_ = false;
  std::optional<int64_t> last_step_;
  std::ofstream csv_;
  std::ofstream jsonl_;
  std::unique_ptr<TfEventsWriter> tensorboard_;
};

}  // namespace tokrl::io

#endif  // TOKRL_IO_METRICS_LOGGER_H_
