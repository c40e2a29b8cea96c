#include "tokrl/core/thread_pool.h"

#include <chrono>
#include <system_error>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

// Env steps take ~100 ns, so a whole VecEnv step is tens of microseconds:
// waking a sleeping thread (~10-50 us) would cost more than the work. Both
// sides therefore spin briefly on atomics before falling back to the
// condition variables.
constexpr auto kSpinTime = std::chrono::microseconds(200);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

template <typename Pred>
bool SpinUntil(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    if (done()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline)
      return false;
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads > kMaxThreads) {
    TOKRL_FAIL() << "cannot use " << num_threads << " threads: at most "
                 << kMaxThreads << " are allowed";
  }
  try {
    for (int i = 1; i < num_threads; ++i) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
  } catch (const std::system_error& e) {
    // A constructor that throws runs no destructor: stop what started.
    const size_t started = workers_.size();
    Shutdown();
    TOKRL_FAIL() << "cannot start " << num_threads - 1
                 << " worker threads (the system refused after " << started
                 << ": " << e.code().message()
                 << "); use fewer threads or raise the limit (ulimit -u)";
  }
}

ThreadPool::~ThreadPool() { Shutdown(); }

void ThreadPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

int ThreadPool::HardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Tasks are claimed one at a time from an atomic counter, so a slow task does
// not hold up a whole static chunk.
void ThreadPool::RunTasks() {
  for (;;) {
    const int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= num_tasks_) return;
    try {
      (*fn_)(task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    auto started = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!SpinUntil(started)) {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, started);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    RunTasks();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int num_tasks,
                             const std::function<void(int)>& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int i = 0; i < num_tasks; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    num_tasks_ = num_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    busy_workers_.store(static_cast<int>(workers_.size()),
                        std::memory_order_relaxed);
    error_ = nullptr;
    // Publishes everything above to workers that acquire the generation.
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  RunTasks();
  auto finished = [&] {
    return busy_workers_.load(std::memory_order_acquire) == 0;
  };
  if (!SpinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, finished);
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = nullptr;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace tokrl
