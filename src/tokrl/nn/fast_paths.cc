#include "tokrl/nn/fast_paths.h"

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

}  // namespace tokrl::nn
