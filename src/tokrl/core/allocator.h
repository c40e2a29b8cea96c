// Process-wide tuning of glibc's malloc for training loops.
#ifndef TOKRL_CORE_ALLOCATOR_H_
#define TOKRL_CORE_ALLOCATOR_H_

namespace tokrl {

// Keeps freed tensor memory in the process instead of returning it to the
// kernel: allocations below 256 MiB come from the heap (not fresh mmaps) and
// the heap top is trimmed only above 1 GiB. Why: a LibTorch update allocates
// and frees the same few-MiB buffers every step; with glibc's defaults they
// are unmapped and page-faulted back in each time, which cost a third of a
// SoftMoE-4 DQN training loop on MinAtar (276-293 against 403-446 env
// steps/s, bench/peer/compare.py). Idempotent; a no-op without glibc.
void TuneAllocator();

}  // namespace tokrl

#endif  // TOKRL_CORE_ALLOCATOR_H_
