#include "tokrl/nn/fast_paths.h"

#include <atomic>

namespace tokrl::nn {
namespace {
std::atomic<bool> enabled{true};
}  // namespace

bool FastPathsEnabled() { return enabled.load(std::memory_order_relaxed); }
void SetFastPaths(bool on) { enabled.store(on, std::memory_order_relaxed); }

}  // namespace tokrl::nn
