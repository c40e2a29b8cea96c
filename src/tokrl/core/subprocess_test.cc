#include "tokrl/core/subprocess.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "tokrl/core/testing.h"

namespace tokrl {
namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SubprocessTest, ExitCodesAndOutputFile) {
  ScopedTempDir dir("subprocess_exit");
  ProcessOptions options;
  options.output = dir.path() / "out.log";
  EXPECT_EQ(
      RunProcess({"sh", "-c", "echo hello; echo oops >&2; exit 3"}, options),
      3);
  EXPECT_EQ(RunProcess({"sh", "-c", "echo again"}, options), 0);
  // stdout and stderr both land in the file, appended across runs.
  EXPECT_EQ(ReadAll(options.output), "hello\noops\nagain\n");
}

TEST(SubprocessTest, WorkingDirectory) {
  ScopedTempDir dir("subprocess_cwd");
  ProcessOptions options;
  options.working_dir = dir.path();
  EXPECT_EQ(RunProcess({"sh", "-c", "touch made_here"}, options), 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "made_here"));
}

TEST(SubprocessTest, PollThenSignal) {
  Process p = Process::Spawn({"sleep", "30"});
  EXPECT_FALSE(p.Poll().has_value());
  p.Signal(SIGKILL);
  EXPECT_EQ(p.Wait(), -SIGKILL);
  EXPECT_EQ(p.Wait(), -SIGKILL);  // reaped once, remembered
  EXPECT_EQ(DescribeExitStatus(-SIGKILL).rfind("killed by signal 9", 0), 0u);
  EXPECT_EQ(DescribeExitStatus(2), "exit code 2");
}

TEST(SubprocessTest, MissingProgramIsAnErrorNamingIt) {
  EXPECT_NE(ErrorOf([] {
              Process::Spawn({"tokrl-no-such-program"});
            }).find("cannot start 'tokrl-no-such-program'"),
            std::string::npos);
  ProcessOptions options;
  options.output = "/nonexistent-dir/x.log";
  EXPECT_NE(
      ErrorOf([&] { Process::Spawn({"true"}, options); }).find("cannot open"),
      std::string::npos);
}

TEST(SubprocessTest, FindProgramAndSelf) {
  ASSERT_TRUE(FindProgram("sh").has_value());
  EXPECT_FALSE(FindProgram("tokrl-no-such-program").has_value());
  EXPECT_TRUE(std::filesystem::exists(SelfExecutable()));
}

TEST(SubprocessTest, DestructorStopsARunningChild) {
  pid_t pid;
  {
    Process p = Process::Spawn({"sleep", "30"});
    pid = p.pid();
  }
  // The child was terminated and reaped: the pid no longer names our child.
  EXPECT_NE(::kill(pid, 0), 0);
}

// A process that is running (not gone, not a zombie awaiting its reaper).
bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  return state != "Z";
}

// Regression (issue 9.8): kill -9 of `tokrl sweep` left its trainers running.
TEST(SubprocessTest, DieWithParentEndsTheChildWhenTheParentIsKilled) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    ProcessOptions options;
    options.die_with_parent = true;
    Process p = Process::Spawn({"sleep", "60"}, options);
    const pid_t child = p.pid();
    if (::write(pipe_fds[1], &child, sizeof(child)) != sizeof(child))
      ::_exit(2);
    ::pause();  // killed below
    ::_exit(0);
  }
  pid_t child = -1;
  ASSERT_EQ(::read(pipe_fds[0], &child, sizeof(child)),
            static_cast<ssize_t>(sizeof(child)));
  EXPECT_TRUE(Alive(child));
  ::kill(middle, SIGKILL);
  ::waitpid(middle, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !Alive(child);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the child outlived its killed parent";
  if (!gone) ::kill(child, SIGKILL);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(SubprocessTest, DieWithParentRunsLikeSpawn) {
  const auto dir = std::filesystem::temp_directory_path();
  ProcessOptions options;
  options.die_with_parent = true;
  options.working_dir = dir;
  options.output = dir / ("tokrl_pdeath_" + std::to_string(::getpid()));
  std::filesystem::remove(options.output);
  EXPECT_EQ(RunProcess({"sh", "-c", "pwd; exit 3"}, options), 3);
  EXPECT_EQ(ReadAll(options.output), dir.string() + "\n");
  std::filesystem::remove(options.output);
  EXPECT_NE(ErrorOf([&] {
              Process::Spawn({"tokrl-no-such-program"}, options);
            }).find("cannot start 'tokrl-no-such-program'"),
            std::string::npos);
}

}  // namespace
}  // namespace tokrl
