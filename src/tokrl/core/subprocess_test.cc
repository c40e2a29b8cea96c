#include "tokrl/core/subprocess.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

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

}  // namespace
}  // namespace tokrl
