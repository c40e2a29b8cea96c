// Child processes: start a program, poll or wait for it, read how it ended.
// Used by `tokrl sweep` (one `tokrl train` process per run) and by the
// report writer (gnuplot).
//
//   Process p = Process::Spawn({"gnuplot", "plot.gp"}, {.output = "log"});
//   int status = p.Wait();   // 0 = success
//
// Exit status convention: >= 0 is the program's exit code; a negative value
// -s means it was killed by signal s. A program that cannot be started (not
// found, not executable) is a tokrl::Error from Spawn naming it, never a
// child that exits with a magic code.
//
// A Process owns its child: destroying it while the child still runs sends
// SIGTERM and waits, so no child outlives its owner unnoticed.
#ifndef TOKRL_CORE_SUBPROCESS_H_
#define TOKRL_CORE_SUBPROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokrl {

struct ProcessOptions {
  /// File receiving the child's stdout and stderr (appended, created if
  /// missing); empty = inherit the parent's.
  std::filesystem::path output;
  /// Working directory of the child; empty = the parent's.
  std::filesystem::path working_dir;
  /// Linux: the child gets SIGTERM when the parent dies, even by kill -9
  /// (PR_SET_PDEATHSIG), so no orphan keeps running. The signal follows
  /// the thread that spawned the child: spawn from a long-lived thread.
  bool die_with_parent = false;
};

class Process {
 public:
  // argv[0] is looked up in PATH unless it contains a '/'.
  static Process Spawn(const std::vector<std::string>& argv,
                       const ProcessOptions& options = {});

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Non-blocking: the exit status once the child has ended, else nullopt.
  std::optional<int> Poll();
  // Blocks until the child ends; returns its exit status (see above).
  int Wait();
  // Sends `signal` if the child still runs.
  void Signal(int signal);

  pid_t pid() const { return pid_; }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  static Process SpawnDyingWithParent(const std::vector<std::string>& argv,
                                      const std::vector<char*>& args, int fd,
                                      const ProcessOptions& options);
  pid_t pid_ = -1;  // -1 once reaped (or moved from)
  int status_ = 0;
};

// Spawn + Wait.
int RunProcess(const std::vector<std::string>& argv,
               const ProcessOptions& options = {});

// "exit code 3", "killed by signal 9 (Killed)".
std::string DescribeExitStatus(int status);

// The first executable `program` in PATH, or nullopt.
std::optional<std::filesystem::path> FindProgram(std::string_view program);

// Absolute path of the running executable (/proc/self/exe).
std::filesystem::path SelfExecutable();

}  // namespace tokrl

#endif  // TOKRL_CORE_SUBPROCESS_H_
