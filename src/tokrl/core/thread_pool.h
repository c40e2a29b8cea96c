// A fixed pool of worker threads for data-parallel loops (VecEnv stepping).
//
// ParallelFor(n, fn) calls fn(i) exactly once for every i in [0, n), spread
// over the pool's threads and the calling thread, and returns when all calls
// have finished. Which thread runs which i is unspecified, so fn must only
// touch state owned by index i (that is what makes VecEnv results identical
// for any thread count).
//
// Exceptions thrown by fn are captured; the first one is rethrown on the
// caller after the loop has drained (ALE-style check_error).
//
// A pool built with num_threads <= 1 has no workers and runs fn inline.
// More than kMaxThreads threads, or a thread the system refuses to create
// (ulimit -u, memory), is a tokrl::Error naming the count; the threads
// already started are stopped and joined first.
// ParallelFor is not reentrant and must be called from one thread at a time.
#ifndef TOKRL_CORE_THREAD_POOL_H_
#define TOKRL_CORE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tokrl {

class ThreadPool {
 public:
  // Far above any useful count (envs step in ~100 ns), low enough that a
  // typo such as 1000000 is an error instead of a stalled machine.
  static constexpr int kMaxThreads = 1024;

  // num_threads counts the caller: 4 means the caller plus 3 workers.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  void ParallelFor(int num_tasks, const std::function<void(int)>& fn);

  // Number of hardware threads, at least 1.
  static int HardwareThreads();

 private:
  void Shutdown();
  void WorkerLoop();
  void RunTasks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  // Bumped (under mutex_, release) for every ParallelFor; workers spin on it
  // briefly before sleeping on start_cv_.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> busy_workers_{0};  // workers still inside the current loop
  const std::function<void(int)>* fn_ = nullptr;
  int num_tasks_ = 0;
  std::atomic<int> next_task_{0};
  std::exception_ptr error_;  // first exception, guarded by mutex_
};

}  // namespace tokrl

#endif  // TOKRL_CORE_THREAD_POOL_H_
