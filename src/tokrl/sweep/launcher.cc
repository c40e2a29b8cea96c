#include "tokrl/sweep/launcher.h"

#include <cctype>
#include <chrono>
#include <csignal>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/core/subprocess.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/run_dir.h"
#include "tokrl/io/run_lock.h"

namespace tokrl::sweep {
namespace fs = std::filesystem;
namespace {

// The last `lines` lines of a log file, for failure reports.
std::string Tail(const fs::path& file, int lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out.append("    | ").append(l).append("\n");
  return out;
}

// Single-quotes `s` for a POSIX shell.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

// A value for an #SBATCH line: one line of the characters `allowed` (plus
// letters and digits). A newline would end the directive and start a shell
// line of the job script.
void CheckSbatchValue(const std::string& what, const std::string& value,
                      std::string_view allowed) {
  for (unsigned char c : value) {
    if (std::isalnum(c) ||
        allowed.find(static_cast<char>(c)) != std::string_view::npos) {
      continue;
    }
    TOKRL_FAIL() << what << " '" << value
                 << "' has a character not allowed in a SLURM job script (code "
                 << int{c} << "); allowed: letters, digits and '" << allowed
                 << "'";
  }
}

// `indices` grouped by key(index), in order, at most `size` per group.
template <typename KeyOf>
std::vector<std::vector<size_t>> GroupInOrder(
    const std::vector<size_t>& indices, int size, const KeyOf& key_of) {
  std::vector<std::vector<size_t>> groups;
  // The open (not yet full) group of each key.
  std::map<decltype(key_of(size_t{0})), size_t> open;
  for (const size_t i : indices) {
    const auto key = key_of(i);
    auto it = open.find(key);
    if (it == open.end()) {
      groups.emplace_back();
      it = open.emplace(key, groups.size() - 1).first;
    }
    groups[it->second].push_back(i);
    if (static_cast<int>(groups[it->second].size()) >= size) open.erase(it);
  }
  return groups;
}

}  // namespace

std::vector<size_t> PendingRuns(const Sweep& sweep) {
  std::vector<size_t> pending;
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    if (GetRunState(sweep.runs[i].run_dir) != RunState::kDone)
      pending.push_back(i);
  }
  return pending;
}

std::vector<std::vector<size_t>> SweepPacks(const Sweep& sweep, int pack) {
  TOKRL_CHECK_GE(pack, 1) << "--pack must be at least 1";
  std::vector<size_t> all(sweep.runs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return GroupInOrder(all, pack, [&](size_t i) {
    return std::make_pair(sweep.runs[i].variant, sweep.runs[i].game);
  });
}

std::vector<size_t> PendingTasks(const Sweep& sweep, int pack) {
  if (pack <= 1) return PendingRuns(sweep);
  const auto packs = SweepPacks(sweep, pack);
  std::vector<size_t> pending;
  for (size_t j = 0; j < packs.size(); ++j) {
    for (const size_t i : packs[j]) {
      if (GetRunState(sweep.runs[i].run_dir) != RunState::kDone) {
        pending.push_back(j);
        break;
      }
    }
  }
  return pending;
}

void WriteSweepManifest(const Sweep& sweep) {
  nlohmann::json j;
  j["name"] = sweep.name;
  j["description"] = sweep.description;
  j["file"] = sweep.file.string();
  j["budget"] = sweep.budget;
  j["runs"] = nlohmann::json::array();
  for (const auto& run : sweep.runs) {
    j["runs"].push_back({{"name", run.name},
                         {"variant", run.variant},
                         {"game", run.game},
                         {"seed", run.seed},
                         {"run_dir", run.run_dir.string()},
                         {"train_args", TrainArguments(run, false)}});
  }
  fs::create_directories(sweep.out_dir);
  io::WriteFileAtomic(sweep.out_dir / "sweep.json", j.dump(2) + "\n");
}

namespace {

// The runs started together: one, or a pack of K (LocalOptions::pack) of the
// same variant and game, all new or all partial.
struct Job {
  std::vector<size_t> runs;
  bool resume = false;
};

std::vector<Job> MakeJobs(const Sweep& sweep,
                          const std::vector<size_t>& pending, int pack) {
  std::vector<Job> jobs;
  const auto resume = [&](size_t i) {
    return GetRunState(sweep.runs[i].run_dir) == RunState::kPartial;
  };
  for (auto& runs : GroupInOrder(pending, pack, [&](size_t i) {
         const SweepRun& run = sweep.runs[i];
         return std::make_tuple(run.variant, run.game, resume(i));
       })) {
    const bool r = resume(runs.front());
    jobs.push_back({std::move(runs), r});
  }
  return jobs;
}

}  // namespace

std::vector<std::string> PackTrainArguments(const Sweep& sweep,
                                            const std::vector<size_t>& runs,
                                            bool resume) {
  TOKRL_CHECK(!runs.empty());
  const SweepRun& first = sweep.runs[runs.front()];
  if (runs.size() == 1) return TrainArguments(first, resume);
  // Members live in <out>/<variant>/<game>/seed<s>: --run-dir is the
  // common parent, --pack-seeds the seeds.
  std::vector<std::string> args = {"train"};
  for (const auto& c : first.configs) {
    args.push_back("-c");
    args.push_back(c.string());
  }
  for (const auto& o : first.overrides) {
    if (o.rfind("train.seed=", 0) == 0) continue;
    args.push_back("--set");
    args.push_back(o);
  }
  std::string seeds;
  for (const size_t i : runs) {
    const SweepRun& run = sweep.runs[i];
    TOKRL_CHECK(run.run_dir.parent_path() == first.run_dir.parent_path() &&
                run.run_dir.filename() == "seed" + std::to_string(run.seed))
        << "run " << run.name << " cannot be packed with " << first.name;
    seeds.append(seeds.empty() ? "" : ",").append(std::to_string(run.seed));
  }
  args.push_back("--pack-seeds");
  args.push_back(seeds);
  args.push_back("--run-dir");
  args.push_back(first.run_dir.parent_path().string());
  args.push_back("--quiet");
  if (resume) args.push_back("--resume");
  return args;
}

LaunchSummary RunLocal(const Sweep& sweep, const LocalOptions& options,
                       const std::vector<size_t>& indices_arg) {
  TOKRL_CHECK_GE(options.jobs, 1) << "--jobs must be at least 1";
  TOKRL_CHECK_GE(options.pack, 1) << "--pack must be at least 1";
  std::vector<size_t> indices = indices_arg;
  if (indices.empty()) {
    for (size_t i = 0; i < sweep.runs.size(); ++i) indices.push_back(i);
  }
  std::ostream* log = options.log;
  LaunchSummary summary;
  summary.total = static_cast<int>(indices.size());

  std::vector<size_t> pending;
  for (const size_t i : indices) {
    TOKRL_CHECK_LT(i, sweep.runs.size())
        << "run index out of range (the sweep has " << sweep.runs.size()
        << " runs)";
    if (GetRunState(sweep.runs[i].run_dir) == RunState::kDone) {
      ++summary.skipped;
    } else {
      pending.push_back(i);
    }
  }
  if (log && summary.skipped > 0) {
    *log << "skipping " << summary.skipped << " finished run"
         << (summary.skipped == 1 ? "" : "s") << "\n";
  }
  std::vector<Job> jobs = MakeJobs(sweep, pending, options.pack);
  std::deque<Job> queue(jobs.begin(), jobs.end());

  struct Active {
    Job job;
    Process process;
    std::chrono::steady_clock::time_point start;
  };
  std::vector<Active> active;
  const auto fail = [&](const std::string& line) {
    ++summary.failed;
    if (log) *log << "FAILED " << line;
    summary.failures.push_back(line);
  };
  const auto start_next = [&] {
    Job job = queue.front();
    queue.pop_front();
    // A live trainer (an earlier sweep's, say) owns the folder: neither
    // move it nor start a second trainer on it.
    std::vector<size_t> free;
    for (const size_t i : job.runs) {
      const SweepRun& run = sweep.runs[i];
      if (const auto holder = io::RunLock::Holder(run.run_dir)) {
        ++summary.failed;
        std::string line = run.name;
        line.append(": not started, its folder is in use by pid ")
            .append(std::to_string(*holder))
            .append("\n");
        if (log) *log << "BUSY   " << line;
        summary.failures.push_back(std::move(line));
        continue;
      }
      if (GetRunState(run.run_dir) == RunState::kStale) {
        // Never deleted: it may hold the only log of why the run died.
        const fs::path aside = io::run_dir::MoveAttemptAside(run.run_dir);
        if (log)
          *log << "moved the stale run's files to " << aside.string() << "\n";
      }
      fs::create_directories(run.run_dir);
      free.push_back(i);
    }
    job.runs = std::move(free);
    if (job.runs.empty()) return;
    std::vector<std::string> argv = {options.tokrl.string()};
    for (auto& a : PackTrainArguments(sweep, job.runs, job.resume)) {
      argv.push_back(std::move(a));
    }
    for (const auto& a : options.extra_train_args) argv.push_back(a);
    if (log) {
      *log << (job.resume ? "resume " : "start  ");
      for (size_t j = 0; j < job.runs.size(); ++j) {
        *log << (j ? " + " : "") << sweep.runs[job.runs[j]].name;
      }
      *log << "\n";
    }
    ProcessOptions process_options;
    // A pack writes one log, in its first member's folder; the others' logs
    // say where it is.
    process_options.output =
        sweep.runs[job.runs.front()].run_dir / io::run_dir::kTrainLog;
    for (size_t j = 1; j < job.runs.size(); ++j) {
      std::ofstream(sweep.runs[job.runs[j]].run_dir / io::run_dir::kTrainLog,
                    std::ios::app)
          << "trained in a pack; its output is in "
          << process_options.output.string() << "\n";
    }
    // A killed sweep takes its trainers with it (they checkpoint on SIGTERM).
    process_options.die_with_parent = true;
    active.push_back({std::move(job), Process::Spawn(argv, process_options),
                      std::chrono::steady_clock::now()});
  };

  while (!queue.empty() || !active.empty()) {
    if (!summary.interrupted && options.stop != nullptr &&
        options.stop->load()) {
      summary.interrupted = true;
      queue.clear();
      for (auto& a : active) a.process.Signal(SIGTERM);
      if (log) {
        *log << "interrupted: stopping " << active.size()
             << " running job(s) with a checkpoint\n";
      }
    }
    while (static_cast<int>(active.size()) < options.jobs && !queue.empty()) {
      start_next();
    }
    bool any_ended = false;
    for (size_t a = 0; a < active.size();) {
      const std::optional<int> status = active[a].process.Poll();
      if (!status) {
        ++a;
        continue;
      }
      any_ended = true;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        active[a].start)
              .count();
      const fs::path log_file = sweep.runs[active[a].job.runs.front()].run_dir /
                                io::run_dir::kTrainLog;
      for (const size_t i : active[a].job.runs) {
        const SweepRun& run = sweep.runs[i];
        const RunState state = GetRunState(run.run_dir);
        if (*status == 0) {
          ++summary.finished;
          if (log) {
            *log << "done   " << run.name << " (" << RunStateName(state) << ", "
                 << static_cast<int64_t>(seconds) << " s)\n";
          }
        } else if (summary.interrupted && state == RunState::kPartial) {
          ++summary.stopped;
          if (log) *log << "stopped " << run.name << " (partial)\n";
        } else {
          std::string line = run.name;
          line.append(": ").append(DescribeExitStatus(*status));
          line.append(", log ").append(log_file.string()).append("\n");
          line.append(Tail(log_file, 5));
          fail(line);
        }
      }
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(a));
    }
    if (!any_ended && !active.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return summary;
}

std::string SlurmScript(const Sweep& sweep, const std::vector<size_t>& tasks,
                        const SlurmOptions& options) {
  TOKRL_CHECK(!tasks.empty()) << "no pending runs for a SLURM array";
  CheckSbatchValue("--time", options.time, ":-");
  CheckSbatchValue("--partition", options.partition, "_-.,");
  CheckSbatchValue("--mem", options.mem, "");
  for (const auto& a : options.sbatch_args) {
    CheckSbatchValue("--sbatch-arg", a, "-_=.,:/+@%");
  }
  // Paths are free text: only a line break could escape its directive.
  const std::string out_dir = sweep.out_dir.string();
  if (out_dir.find_first_of("\n\r") != std::string::npos) {
    TOKRL_FAIL() << "the sweep's output folder has a line break in its name";
  }
  std::ostringstream s;
  std::string array;
  for (const size_t i : tasks) {
    array.append(array.empty() ? "" : ",").append(std::to_string(i));
  }
  if (options.max_parallel > 0) {
    array.append("%").append(std::to_string(options.max_parallel));
  }
  const fs::path logs = sweep.out_dir / "slurm";
  s << "#!/bin/bash\n"
    << "# SLURM array job for the tokrl sweep '" << sweep.name << "' (";
  if (options.pack > 1) {
    s << tasks.size() << " packs of up to " << options.pack
      << " runs pending, of " << sweep.runs.size() << " runs).\n"
      << "# Written by `tokrl sweep --launcher slurm --pack " << options.pack
      << "`; task i trains the\n"
      << "# sweep's pack i in one process, skipping its done runs and "
         "resuming\n"
      << "# interrupted ones.\n";
  } else {
    s << tasks.size() << " of " << sweep.runs.size() << " runs pending).\n"
      << "# Written by `tokrl sweep --launcher slurm`; task i runs the "
         "sweep's\n"
      << "# run i, skipping it if done and resuming it if interrupted.\n";
  }
  s << "#SBATCH --job-name=tokrl-" << sweep.name << "\n"
    << "#SBATCH --array=" << array << "\n"
    << "#SBATCH --cpus-per-task=" << options.cpus_per_task << "\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --output=" << (logs / "%A_%a.out").string() << "\n";
  if (!options.time.empty()) {
    // Two minutes before the limit, SIGTERM the task (`tokrl sweep --task`,
    // exec'd below), which stops its run with a checkpoint; submitting
    // again resumes it.
    s << "#SBATCH --time=" << options.time << "\n"
      << "#SBATCH --signal=B:TERM@120\n";
  }
  if (!options.partition.empty())
    s << "#SBATCH --partition=" << options.partition << "\n";
  if (!options.mem.empty()) s << "#SBATCH --mem=" << options.mem << "\n";
  for (const auto& a : options.sbatch_args) s << "#SBATCH " << a << "\n";
  s << "set -euo pipefail\n"
    << "exec " << ShellQuote(options.tokrl.string());
  for (const auto& a : options.sweep_args) s << " " << ShellQuote(a);
  if (options.pack > 1) s << " --pack " << options.pack;
  s << " --task \"$SLURM_ARRAY_TASK_ID\"\n";
  return s.str();
}

SlurmSubmission SubmitSlurm(const Sweep& sweep, const SlurmOptions& options,
                            bool submit, bool wait) {
  SlurmSubmission result;
  const std::vector<size_t> pending = PendingTasks(sweep, options.pack);
  result.tasks = pending.size();
  if (pending.empty()) return result;
  const fs::path dir = sweep.out_dir / "slurm";
  fs::create_directories(dir);
  result.script = dir / (sweep.name + ".sbatch");
  io::WriteFileAtomic(result.script, SlurmScript(sweep, pending, options));
  if (!submit) return result;
  if (!FindProgram("sbatch")) {
    TOKRL_FAIL() << "sbatch not found: --launcher slurm needs SLURM's client "
                    "tools in PATH (Debian: apt-get install slurm-client); "
                    "the job script was written to "
                 << result.script.string();
  }
  const fs::path out = dir / "sbatch.out";
  fs::remove(out);
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  if (wait) argv.push_back("--wait");
  argv.push_back(result.script.string());
  ProcessOptions process_options;
  process_options.output = out;
  const int status = RunProcess(argv, process_options);
  std::string text = io::ReadFile(out);
  if (status != 0) {
    TOKRL_FAIL() << "sbatch " << (wait ? "--wait " : "") << "failed ("
                 << DescribeExitStatus(status) << ") for "
                 << result.script.string() << ":\n"
                 << text;
  }
  // --parsable prints "<jobid>[;cluster]" on its first line.
  const std::string first = text.substr(0, text.find('\n'));
  result.job_id = first.substr(0, first.find(';'));
  return result;
}

}  // namespace tokrl::sweep
