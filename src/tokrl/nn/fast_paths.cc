#include "tokrl/nn/fast_paths.h"

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <atomic>

namespace tokrl::nn {
namespace {
std::atomic<bool> enabled{true};
}  // namespace

bool FastPathsEnabled() { return enabled.load(std::memory_order_relaxed); }
void SetFastPaths(bool on) { enabled.store(on, std::memory_order_relaxed); }

bool FastPathApplies(const at::Tensor& x) {
  return FastPathsEnabled() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat;
}

int KernelThreads() {
  // One call of the body per thread under OpenMP (ranges split evenly).
  std::atomic<int> calls{0};
  at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) { ++calls; });
  return calls.load();
}

}  // namespace tokrl::nn
