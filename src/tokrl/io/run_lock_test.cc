#include "tokrl/io/run_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"

namespace tokrl::io {
namespace {
namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() /
      ("tokrl_run_lock_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(RunLock, SecondLockFailsNamingTheHolder) {
  const fs::path dir = FreshDir("second");
  {
    RunLock lock = RunLock::Acquire(dir);
    EXPECT_TRUE(fs::is_directory(dir));
    EXPECT_EQ(RunLock::Holder(dir), ::getpid());
    const std::string error = ErrorOf([&] { RunLock::Acquire(dir); });
    EXPECT_TRUE(Contains(error, "is in use by another tokrl process (pid " +
                                    std::to_string(::getpid()) + ")"));
  }
  // Released with its owner: the next one gets it.
  EXPECT_EQ(RunLock::Holder(dir), std::nullopt);
  RunLock again = RunLock::Acquire(dir);
  fs::remove_all(dir);
}

// The kernel drops the lock of a process that dies however it dies, so a
// killed trainer never leaves a run locked.
TEST(RunLock, DiesWithItsProcess) {
  const fs::path dir = FreshDir("dies");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunLock lock = RunLock::Acquire(dir);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(2);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_EQ(RunLock::Holder(dir), child);
  EXPECT_TRUE(Contains(ErrorOf([&] { RunLock::Acquire(dir); }),
                       "(pid " + std::to_string(child) + ")"));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(RunLock::Holder(dir), std::nullopt);
  RunLock lock = RunLock::Acquire(dir);
  ::close(ready[0]);
  ::close(ready[1]);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tokrl::io
