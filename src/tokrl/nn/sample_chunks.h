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
#include <vector>

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

/// partial [K, chunks, ...] (float) -> [K, ...], the chunks added in order:
/// element i of member k is ((p[k][0][i] + p[k][1][i]) + p[k][2][i]) ...
/// (one loop; as LibTorch ops, a clone and an add_ per chunk, ~80 ops per
/// SoftMoE update, it was the same sums).
inline at::Tensor SumChunksInOrder(const at::Tensor& partial) {
  const at::Tensor p = partial.contiguous();
  const int64_t members = p.size(0), chunks = p.size(1);
  std::vector<int64_t> shape = p.sizes().vec();
  shape.erase(shape.begin() + 1);
  if (chunks == 0) return p.new_zeros(shape);
  at::Tensor sum = p.new_empty(shape);
  const int64_t size = sum.numel() / std::max<int64_t>(members, 1);
  const float* in = p.data_ptr<float>();
  float* out = sum.data_ptr<float>();
  at::parallel_for(0, members * size, 32768, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end;) {
      const int64_t k = e / size, i = e % size;
      const int64_t n = std::min(end - e, size - i);
      const float* first = in + k * chunks * size + i;
      float* o = out + e;
      for (int64_t j = 0; j < n; ++j) o[j] = first[j];
      for (int64_t c = 1; c < chunks; ++c) {
        const float* pc = first + c * size;
        for (int64_t j = 0; j < n; ++j) o[j] += pc[j];
      }
      e += n;
    }
  });
  return sum;
}

}  // namespace tokrl::nn

#endif  // TOKRL_NN_SAMPLE_CHUNKS_H_
