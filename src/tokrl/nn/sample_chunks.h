// How the hand-written CPU kernels with a backward (the tokenized
// baselines' layer, baselines.h; the first-layer conv, encoders.h; the
// experts' MLP, experts.h, whose samples are slot rows) split a batch:
// chunks of kSampleChunk samples (or another fixed size) per member are the
// unit of parallel work, and the weights' gradients are each chunk's sum, added
// up in chunk order, so that results do not depend on the number of threads.
#ifndef TOKRL_NN_SAMPLE_CHUNKS_H_
#define TOKRL_NN_SAMPLE_CHUNKS_H_

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>

namespace tokrl::nn {

inline constexpr int64_t kSampleChunk = 8;

inline int64_t NumSampleChunks(int64_t batch, int64_t chunk = kSampleChunk) {
  return (batch + chunk - 1) / chunk;
}

/// fn(task, member, first sample, end sample) for each chunk of `chunk`
/// samples of each of `members` members of `batch` samples, in parallel;
/// task = member * NumSampleChunks(batch, chunk) + the chunk's index.
template <typename F>
void ForEachSampleChunk(int64_t members, int64_t batch, const F& fn,
                        int64_t chunk = kSampleChunk) {
  const int64_t chunks = NumSampleChunks(batch, chunk);
  at::parallel_for(0, members * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t first = task % chunks * chunk;
      fn(task, task / chunks, first, std::min(batch, first + chunk));
    }
  });
}

/// partial [K, chunks, ...] -> [K, ...], the chunks added in order.
inline at::Tensor SumChunksInOrder(const at::Tensor& partial) {
  at::Tensor sum = partial.select(1, 0).clone();
  for (int64_t c = 1; c < partial.size(1); ++c) sum.add_(partial.select(1, c));
  return sum;
}

}  // namespace tokrl::nn

#endif  // TOKRL_NN_SAMPLE_CHUNKS_H_
