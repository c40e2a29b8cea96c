#include "tokrl/core/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"

namespace tokrl {
namespace {

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> hits(97);
      pool.ParallelFor(97, [&](int i) { hits[i].fetch_add(1); });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, RejectsAbsurdThreadCounts) {
  EXPECT_TRUE(Contains(ErrorOf([] { ThreadPool pool(1'000'000); }),
                       "cannot use 1000000 threads: at most 1024"));
}

// Regression: when the system refuses a thread (here: a per-user process
// limit of 1 in a child process), the constructor used to hang or abort.
TEST(ThreadPool, RefusedThreadIsAnErrorNotAHang) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(20);  // a hang kills the child: the test fails, never stalls
    // Root ignores RLIMIT_NPROC: become nobody first.
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(3);
    const rlimit one = {1, 1};
    if (::setrlimit(RLIMIT_NPROC, &one) != 0) ::_exit(4);
    const std::string error = ErrorOf([] { ThreadPool pool(8); });
    ::_exit(error.find("cannot start 7 worker threads") != std::string::npos
                ? 0
                : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status))
      << "child killed by signal " << WTERMSIG(status) << " (a hang or abort)";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ThreadPool, ZeroTasksIsANoop) {
  ThreadPool pool(3);
  int calls = 0;
  pool.ParallelFor(0, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, RethrowsWorkerExceptionAndStaysUsable) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.ParallelFor(16,
                                [](int i) {
                                  if (i == 11) throw Error("task 11 failed");
                                }),
               Error);
  std::atomic<int> sum{0};
  pool.ParallelFor(10, [&](int i) { sum += i; });
  EXPECT_EQ(sum.load(), 45);
}

}  // namespace
}  // namespace tokrl
