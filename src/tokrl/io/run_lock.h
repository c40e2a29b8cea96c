// An exclusive lock on a run directory, held for a process's lifetime.
//
// Two trainers writing one run directory (a resume started while the run
// still trains, two sweeps over one folder) would interleave metrics and
// replace each other's checkpoints. RunLock::Acquire takes flock(LOCK_EX)
// on <run_dir>/lock without waiting and writes the holder's pid into it; a
// second process gets a tokrl::Error naming the directory and that pid.
//
// The lock is the kernel's: it ends when the holder exits, however it dies
// (kill -9 too), so a stale lock file never blocks a later run. The file
// itself stays (an empty or old pid in it means nothing without the lock).
// flock works on local file systems and on NFS (Linux emulates it with
// fcntl locks there).
#ifndef TOKRL_IO_RUN_LOCK_H_
#define TOKRL_IO_RUN_LOCK_H_

#include <sys/types.h>

#include <filesystem>
#include <optional>

namespace tokrl::io {

class RunLock {
 public:
  // Creates run_dir if needed, then locks it (see above).
  static RunLock Acquire(const std::filesystem::path& run_dir);

  // The pid of a live process holding run_dir's lock, or nullopt when none
  // does (probes without keeping the lock; never blocks).
  static std::optional<pid_t> Holder(const std::filesystem::path& run_dir);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace tokrl::io

#endif  // TOKRL_IO_RUN_LOCK_H_
