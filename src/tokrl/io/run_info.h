// What produced a run: the facts needed to reproduce or explain its numbers.
//
//   RunInfo info = CollectRunInfo(TOKRL_VERSION, {argv, argv + argc});
//   WriteFileAtomic(run_dir / "run_info.json", info.ToJson());
//
// CollectRunInfo never fails: a fact that cannot be determined is "unknown"
// (strings) or 0 (num_cores), so every string field is non-empty.
//   git_commit  the TOKRL_GIT_COMMIT compile definition of run_info.cc when
//               the build sets it (and non-empty), else "unknown".
//   cpu_model   "model name" from /proc/cpuinfo (x86), else "Hardware" or
//               "CPU part" (ARM), else "unknown".
//   os          uname(): "<sysname> <release> <version> <machine>".
//   compiler    the compiler's __VERSION__, e.g. "12.2.0" for GCC.
//   start_time  UTC, ISO-8601 with seconds: "2024-05-01T12:34:56Z".
#ifndef TOKRL_IO_RUN_INFO_H_
#define TOKRL_IO_RUN_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tokrl::io {

struct RunInfo {
  std::string tokrl_version;
  std::string git_commit;
  std::string hostname;
  std::string cpu_model;
  int num_cores = 0;  // logical CPUs usable by this process
  std::string os;
  std::string compiler;
  std::string start_time;
  std::vector<std::string> command_line;  // argv, unmodified

  // One JSON object with the field names above as keys, pretty-printed
  // (2-space indent), ending in a newline.
  std::string ToJson() const;
};

// Collects everything now; start_time is the current time.
RunInfo CollectRunInfo(std::string tokrl_version,
                       std::vector<std::string> command_line);

// UTC ISO-8601 with seconds, e.g. "1970-01-01T00:00:00Z" for 0.
std::string FormatIsoUtc(int64_t unix_seconds);

}  // namespace tokrl::io

#endif  // TOKRL_IO_RUN_INFO_H_
