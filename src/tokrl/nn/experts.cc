#include "tokrl/nn/experts.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

#if defined(__SSE__)
#include <xmmintrin.h>  // PackRows' 4 x 4 tiles
#endif

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/expert_mlp_kernel.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/sample_chunks.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {

ExpertsImpl::ExpertsImpl(const ExpertsOptions& options_) : options(options_) {
  reset();
}

void ExpertsImpl::reset() {
  const int64_t n = options.num_experts();
  const int64_t d = options.token_dim();
  const int64_t h = options.hidden();
  TOKRL_CHECK(n > 0 && d > 0 && h > 0)
      << "bad experts shape n=" << n << " d=" << d << " H=" << h;
  w1 = register_parameter("w1", torch::empty({n, d, h}));
  b1 = register_parameter("b1", torch::zeros({n, h}));
  w2 = register_parameter("w2", torch::empty({n, h, d}));
  b2 = register_parameter("b2", torch::zeros({n, d}));
  // Each [d, H] slice is one Flax Dense kernel: the bound only depends on the
  // per-expert fans, so one uniform_ over the whole tensor is the same.
  XavierUniform_(w1, d, h);
  XavierUniform_(w2, h, d);
}

void ExpertsImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::Experts(n=" << options.num_experts()
         << ", d=" << options.token_dim() << ", hidden=" << options.hidden()
         << ")";
}

namespace {

void CheckExpertInput(const at::Tensor& x, const ExpertsOptions& options) {
  TOKRL_CHECK(x.dim() == 3 && x.size(0) == options.num_experts() &&
              x.size(2) == options.token_dim())
      << "expected expert input [n, T, d], got " << x.sizes();
}

// relu(x W1 + b1), [n, T, H]. In place: the affine map's backward does not
// need its output, and ReLU's needs only its own; this saves one [n, T, H]
// buffer, the largest in the layer.
at::Tensor ExpertHidden(const at::Tensor& x, const at::Tensor& w1,
                        const at::Tensor& b1) {
  return BatchedAffine(x, w1, b1).relu_();
}

}  // namespace

at::Tensor ExpertsImpl::forward(const at::Tensor& x) {
  TOKRL_CHECK((x.dim() == 3 && x.size(0) == options.num_experts()) ||
              (x.dim() == 4 && x.size(1) == options.num_experts()))
      << "expected expert input [n, T, d] or [B, n, p, d] for n = "
      << options.num_experts() << ", got " << x.sizes();
  TOKRL_CHECK(x.size(-1) == options.token_dim())
      << "expected expert input of token size " << options.token_dim()
      << ", got " << x.sizes();
  return ExpertMlp(x, w1, b1, w2, b2);
}

at::Tensor ExpertsImpl::hidden(const at::Tensor& x) {
  CheckExpertInput(x, options);
  return ExpertHidden(x, w1, b1);
}

namespace {

// y [n, T, o] += bias [n, o] on each row, in place. Why a function: the
// gradient of add_'s broadcast is ATen's sum over T, whose order of
// additions follows ATen's CPU kernels (PerFeat's experts, d = 100, took
// different b2 gradients under the AVX2 and the AVX-512 ones); here the
// rows are added in order, as everywhere else in tokrl.
struct AddRowBiasFn : torch::autograd::Function<AddRowBiasFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, at::Tensor y,
      const at::Tensor& bias) {
    ctx->mark_dirty({y});
    return {y.add_(bias.unsqueeze(1))};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    at::Tensor grad_bias;
    if (ctx->needs_input_grad(1)) grad_bias = SumChunksInOrder(grads[0]);
    return {grads[0], grad_bias};
  }
};

}  // namespace

at::Tensor BatchedAffine(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  if (!FastPathApplies(x)) return torch::baddbmm(bias.unsqueeze(1), x, weight);
  const at::Tensor y = BatchedMatmul(x, false, weight, false);
  if (!FastPathApplies(bias)) return y.add_(bias.unsqueeze(1));
  return ApplyFn<AddRowBiasFn>(y, bias)[0];
}

namespace {

namespace kernel = ::tokrl::internal;

// Slot rows per kernel call: the unit of parallel work and of the order in
// which the weights' gradients are added up (fixed, so that results do not
// depend on the number of threads).
constexpr int64_t kExpertRowsPerTask = 256;

// Where each expert's slot rows lie in x: [G, T, d] (expert g's T rows in
// one block) or [S, n, p, d] with G = K * n experts (expert k * n + e has
// rows x[k * B + b, e, j], b < B = S / K, j < p: blocks of p rows).
struct ExpertRows {
  explicit ExpertRows(const at::Tensor& x, int64_t experts) {
    const bool slots = x.dim() == 4;
    n = slots ? x.size(1) : experts;
    p = x.size(slots ? 2 : 1);
    d = x.size(-1);
    samples = slots ? x.size(0) / (experts / n) : 1;
    rows = samples * p;
    // With one expert per member its blocks are adjacent: one block.
    if (n > 1) layout = {.block = p, .block_stride = n * p * d};
  }

  // Offset of expert g's first row.
  int64_t Offset(int64_t g) const {
    return (g / n * samples * n + g % n) * p * d;
  }

  int64_t n, p, d, samples, rows;
  kernel::SlotRows layout;
};

// All contiguous: x [G, T, d] or [S, n, p, d] (ExpertRows), w1 [G, d, H],
// b1 [G, H], w2 [G, H, d], b2 [G, d].
struct ExpertMlpFn : torch::autograd::Function<ExpertMlpFn> {
  static kernel::ExpertWeights Weights(const at::Tensor& w1,
                                       const at::Tensor& b1,
                                       const at::Tensor& w2,
                                       const at::Tensor& b2, int64_t e) {
    const int64_t d = w1.size(1), h = w1.size(2);
    kernel::ExpertWeights w;
    w.w1 = w1.data_ptr<float>() + e * d * h;
    w.b1 = b1.data_ptr<float>() + e * h;
    w.w2 = w2.data_ptr<float>() + e * h * d;
    w.b2 = b2.data_ptr<float>() + e * d;
    w.d = d;
    w.hidden = h;
    return w;
  }

  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& x,
      const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
      const at::Tensor& b2) {
    ctx->save_for_backward({x, w1, b1, w2, b2});
    const ExpertRows where(x, w1.size(0));
    at::Tensor y = at::empty_like(x);
    ForEachSampleChunk(
        w1.size(0), where.rows,
        [&](int64_t, int64_t e, int64_t first, int64_t end) {
          kernel::ExpertMlpForward(x.data_ptr<float>() + where.Offset(e), first,
                                   end, Weights(w1, b1, w2, b2, e),
                                   y.data_ptr<float>() + where.Offset(e),
                                   where.layout);
        },
        kExpertRowsPerTask);
    return {y};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w1 = saved[1], &b1 = saved[2],
                     &w2 = saved[3], &b2 = saved[4];
    const at::Tensor g = grads[0].contiguous();
    const int64_t n = w1.size(0), d = w1.size(1), h = w1.size(2);
    const ExpertRows where(x, n);
    const int64_t per = NumSampleChunks(where.rows, kExpertRowsPerTask);
    const at::Tensor w1t = w1.transpose(1, 2).contiguous();  // [n, H, d]
    const at::Tensor w2t = w2.transpose(1, 2).contiguous();  // [n, d, H]
    at::Tensor grad_x = at::empty_like(x);
    // Each task's sums [n, per, ...], then added in task order.
    at::Tensor pw1 = at::empty({n, per, d, h}, x.options());
    at::Tensor pb1 = at::empty({n, per, h}, x.options());
    at::Tensor pw2 = at::empty({n, per, h, d}, x.options());
    at::Tensor pb2 = at::empty({n, per, d}, x.options());
    ForEachSampleChunk(
        n, where.rows,
        [&](int64_t task, int64_t e, int64_t first, int64_t end) {
          kernel::ExpertWeights w = Weights(w1, b1, w2, b2, e);
          w.w1t = w1t.data_ptr<float>() + e * h * d;
          w.w2t = w2t.data_ptr<float>() + e * d * h;
          kernel::ExpertMlpBackward(
              x.data_ptr<float>() + where.Offset(e), first, end, w,
              g.data_ptr<float>() + where.Offset(e),
              grad_x.data_ptr<float>() + where.Offset(e),
              pw1.data_ptr<float>() + task * d * h,
              pb1.data_ptr<float>() + task * h,
              pw2.data_ptr<float>() + task * h * d,
              pb2.data_ptr<float>() + task * d, where.layout);
        },
        kExpertRowsPerTask);
    return {grad_x, SumChunksInOrder(pw1), SumChunksInOrder(pb1),
            SumChunksInOrder(pw2), SumChunksInOrder(pb2)};
  }
};

}  // namespace

at::Tensor ExpertMlp(const at::Tensor& x, const at::Tensor& w1,
                     const at::Tensor& b1, const at::Tensor& w2,
                     const at::Tensor& b2) {
  const int64_t g = w1.dim() == 3 ? w1.size(0) : -1;
  // Slots [S, n, p, d]: n experts per member, S / K samples per member.
  const bool slots = x.dim() == 4 && g > 0 && x.size(1) > 0 &&
                     g % x.size(1) == 0 && x.size(0) % (g / x.size(1)) == 0;
  TOKRL_CHECK((x.dim() == 3 && x.size(0) == g) || slots)
      << "experts' MLP of x " << x.sizes() << " for w1 " << w1.sizes();
  const int64_t d = x.size(-1);
  TOKRL_CHECK(w1.size(1) == d && w2.dim() == 3 && w2.size(0) == g &&
              w2.size(1) == w1.size(2) && w2.size(2) == d && b1.dim() == 2 &&
              b1.size(0) == g && b1.size(1) == w1.size(2) && b2.dim() == 2 &&
              b2.size(0) == g && b2.size(1) == d)
      << "experts' MLP of x " << x.sizes() << ", w1 " << w1.sizes() << ", b1 "
      << b1.sizes() << ", w2 " << w2.sizes() << ", b2 " << b2.sizes();
  constexpr int64_t kLanes = internal::kSmallGemmLanes;
  if (FastPathApplies(x) && FastPathApplies(w1) && FastPathApplies(b1) &&
      FastPathApplies(w2) && FastPathApplies(b2) && x.numel() > 0 &&
      d % kLanes == 0 && w1.size(2) % kLanes == 0) {
    return ApplyFn<ExpertMlpFn>(x.contiguous(), w1.contiguous(),
                                b1.contiguous(), w2.contiguous(),
                                b2.contiguous())[0];
  }
  if (!slots) return BatchedAffine(ExpertHidden(x, w1, b1), w2, b2);
  // Grouped by expert [G, B * p, d], and back.
  const int64_t n = x.size(1), k = g / n, b = x.size(0) / k, p = x.size(2);
  const at::Tensor grouped =
      x.view({k, b, n, p, d}).permute({0, 2, 1, 3, 4}).reshape({g, b * p, d});
  return BatchedAffine(ExpertHidden(grouped, w1, b1), w2, b2)
      .view({k, n, b, p, d})
      .permute({0, 2, 1, 3, 4})
      .reshape(x.sizes());
}

int64_t ExpertParameterCount(int64_t num_experts, int64_t token_dim,
                             int64_t hidden) {
  return num_experts * (2 * token_dim * hidden + hidden + token_dim);
}

namespace {

// Samples per parallel task: a MinAtar sample's product is ~0.3 MFLOP.
constexpr int64_t kBmmGrain = 4;
// The fewest multiply-adds of a task when one product is split by rows.
constexpr int64_t kMinSplitWork = 1 << 18;

at::Tensor Transposed(const at::Tensor& x, bool transpose) {
  return transpose ? x.transpose(1, 2) : x;
}

// y [k, cols] (any strides) into dst [k, padded], columns past cols 0.
void PackRows(const float* y, int64_t s1, int64_t s2, int64_t k, int64_t cols,
              int64_t padded, float* dst) {
  int64_t j = 0;
#if defined(__SSE__)
  if (s1 == 1 && s2 != 1) {
    // A transposed view of row-major rows (x^T for the flatten baseline's
    // forward, 200 KB per call) in 4 x 4 tiles: four loads, a register
    // transpose and four stores for 16 elements, where the loop below
    // loads and stores each one (3.8% of a DQN flatten update in perf).
    const int64_t whole = cols / 4 * 4;
    for (; j + 4 <= k; j += 4) {
      float* row = dst + j * padded;
      for (int64_t c = 0; c < whole; c += 4) {
        const float* from = y + j + c * s2;
        __m128 r0 = _mm_loadu_ps(from), r1 = _mm_loadu_ps(from + s2),
               r2 = _mm_loadu_ps(from + 2 * s2),
               r3 = _mm_loadu_ps(from + 3 * s2);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(row + c, r0);
        _mm_storeu_ps(row + padded + c, r1);
        _mm_storeu_ps(row + 2 * padded + c, r2);
        _mm_storeu_ps(row + 3 * padded + c, r3);
      }
      for (int64_t t = 0; t < 4; ++t) {
        for (int64_t c = whole; c < cols; ++c) {
          row[t * padded + c] = y[j + t + c * s2];
        }
        std::fill(row + t * padded + cols, row + (t + 1) * padded, 0.0f);
      }
    }
  }
#endif
  for (; j < k; ++j) {
    float* row = dst + j * padded;
    if (s2 == 1) {  // rows contiguous
      std::copy(y + j * s1, y + j * s1 + cols, row);
    } else {
      // Row by row, for a transposed view too: the writes run along dst's
      // rows and the reads revisit the same few cache lines of y. (Column
      // by column, every write missed L1: packing x^T was 6.2% of a DQN
      // flatten update in perf, now 3.3%.)
      for (int64_t c = 0; c < cols; ++c) row[c] = y[j * s1 + c * s2];
    }
    // The kernel reads these lanes and drops their sums: zeros, never
    // whatever the allocator left there.
    std::fill(row + cols, row + padded, 0.0f);
  }
}

// op(a) op(b) per sample, with internal::SmallGemm on CPU floats (see
// small_gemm_kernel.cc for why) and torch::bmm elsewhere.
at::Tensor Bmm(const at::Tensor& a, bool transpose_a, const at::Tensor& b,
               bool transpose_b) {
  const at::Tensor x = Transposed(a, transpose_a);
  const at::Tensor y = Transposed(b, transpose_b);
  TOKRL_CHECK(x.dim() == 3 && y.dim() == 3 && x.size(0) == y.size(0) &&
              x.size(2) == y.size(1))
      << "batched matmul of " << x.sizes() << " and " << y.sizes();
  if (!FastPathApplies(x) || !FastPathApplies(y) || x.numel() == 0 ||
      y.numel() == 0) {
    return torch::bmm(x, y);
  }
  const int64_t batch = x.size(0), rows = x.size(1), k = x.size(2),
                cols = y.size(2);
  const int64_t padded = internal::SmallGemmPadded(cols);
  // y's rows go to the kernel as they are when contiguous and whole
  // vectors wide, else packed (a few KB per sample).
  const bool direct = y.stride(2) == 1 && cols == padded;
  if (!direct && x.stride(1) == 1 && rows == internal::SmallGemmPadded(rows) &&
      k * padded > rows * cols) {
    // x^T's rows could go as they are where y's must be packed: out^T =
    // y^T x^T instead, then transposed (SoftMoE's router weight gradient
    // X^T G packed G, [3200, 100], 1.3 MB, every update; now it copies a
    // [100, 16] result). Each element is the same sum in the same order.
    return Bmm(y, true, x, true).transpose(1, 2).contiguous();
  }
  at::Tensor out = at::empty({batch, rows, cols}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* yp = y.data_ptr<float>();
  float* op = out.data_ptr<float>();
  // Fewer samples than threads (one product: the flatten baseline's dense
  // layer, SoftMoE's logits): each sample's rows split among the threads,
  // y packed once beforehand. Every output element is the same sum
  // whichever task computes it.
  const int64_t threads = at::get_num_threads();
  int64_t row_tasks = 1;
  if (batch < threads) {
    row_tasks = std::min((threads + batch - 1) / batch,
                         std::max<int64_t>(1, rows * k * cols / kMinSplitWork));
  }
  const bool pack_first = !direct && row_tasks > 1;
  // Not zeroed: PackRows writes every element (zeroing SoftMoE's [3200, 104]
  // logit gradient operand cost more than packing it).
  const auto packed_all =
      internal::ScratchFloats(pack_first ? batch * k * padded : 0);
  for (int64_t s = 0; s < batch && pack_first; ++s) {
    PackRows(yp + s * y.stride(0), y.stride(1), y.stride(2), k, cols, padded,
             packed_all.get() + s * k * padded);
  }
  const int64_t per = (rows + row_tasks - 1) / row_tasks;
  const int64_t grain = row_tasks > 1 ? 1 : kBmmGrain;
  at::parallel_for(
      0, batch * row_tasks, grain, [&](int64_t begin, int64_t end) {
        // Else each task packs its samples' y here.
        const auto packed =
            internal::ScratchFloats(direct || pack_first ? 0 : k * padded);
        for (int64_t t = begin; t < end; ++t) {
          const int64_t s = t / row_tasks;
          const int64_t first = t % row_tasks * per;
          const int64_t n = std::min(rows, first + per) - first;
          if (n <= 0) continue;
          const float* bp = yp + s * y.stride(0);
          int64_t ldb = y.stride(1);
          if (pack_first) {
            bp = packed_all.get() + s * k * padded;
            ldb = padded;
          } else if (!direct) {
            PackRows(bp, y.stride(1), y.stride(2), k, cols, padded,
                     packed.get());
            bp = packed.get();
            ldb = padded;
          }
          internal::SmallGemm(xp + s * x.stride(0) + first * x.stride(1),
                              x.stride(1), x.stride(2), n, k, bp, ldb, cols,
                              op + (s * rows + first) * cols, cols);
        }
      });
  return out;
}

// The gradients come back in each input's own layout (op(a) = a^T gives
// a's gradient as op(b) g^T, not the transpose of g op(b)^T): the routing
// backward reads the dispatch gradient in its layout, and a transposed view
// would cost a strided copy of every sample's m x np gradient.
struct BatchedMatmulFn : torch::autograd::Function<BatchedMatmulFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& a,
      const at::Tensor& b, bool transpose_a, bool transpose_b) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["ta"] = transpose_a;
    ctx->saved_data["tb"] = transpose_b;
    return {Bmm(a, transpose_a, b, transpose_b)};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const bool ta = ctx->saved_data["ta"].toBool();
    const bool tb = ctx->saved_data["tb"].toBool();
    const at::Tensor& g = grads[0];
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) {
      grad_a = ta ? Bmm(b, tb, g, true) : Bmm(g, false, b, !tb);
    }
    if (ctx->needs_input_grad(1)) {
      grad_b = tb ? Bmm(g, true, a, ta) : Bmm(a, !ta, g, false);
      // In b's own layout when b is a strided view (SoftMoE's tokens are a
      // transposed view of the encoder's output): the token normalization
      // hands back its gradient in that layout too, so the sum reaches the
      // encoder contiguous, where ATen's ReLU backward on a transposed
      // gradient ran ~7x slower (75 against ~10 us per update).
      if (!b.is_contiguous() && b.is_non_overlapping_and_dense()) {
        grad_b = at::empty_like(b).copy_(grad_b);
      }
    }
    return {grad_a, grad_b, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor BatchedMatmul(const at::Tensor& a, bool transpose_a,
                         const at::Tensor& b, bool transpose_b) {
  return ApplyFn<BatchedMatmulFn>(a, b, transpose_a, transpose_b)[0];
}

at::Tensor DispatchTokens(const at::Tensor& tokens,
                          const at::Tensor& dispatch) {
  const int64_t b = dispatch.size(0);
  const int64_t m = dispatch.size(1);
  const int64_t n = dispatch.size(2);
  const int64_t p = dispatch.size(3);
  TOKRL_CHECK(tokens.dim() == 3 && tokens.size(0) == b && tokens.size(1) == m)
      << "tokens " << tokens.sizes() << " vs dispatch " << dispatch.sizes();
  // [B, m, n*p]^T @ [B, m, d] -> [B, n*p, d].
  return BatchedMatmul(dispatch.reshape({b, m, n * p}), true, tokens, false)
      .view({b, n, p, tokens.size(2)});
}

at::Tensor CombineSlots(const at::Tensor& combine,
                        const at::Tensor& slot_outputs) {
  const int64_t b = combine.size(0);
  const int64_t m = combine.size(1);
  const int64_t np = combine.size(2) * combine.size(3);
  // [B, m, n*p] @ [B, n*p, d] -> [B, m, d].
  return BatchedMatmul(combine.reshape({b, m, np}), false,
                       slot_outputs.reshape({b, np, slot_outputs.size(-1)}),
                       false);
}

at::Tensor ApplyExperts(const at::Tensor& tokens, const at::Tensor& dispatch,
                        const at::Tensor& combine, ExpertsImpl& experts) {
  const at::Tensor slots = DispatchTokens(tokens, dispatch);  // [B, n, p, d]
  return CombineSlots(combine, experts.forward(slots));
}

}  // namespace tokrl::nn
