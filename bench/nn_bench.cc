// Forward + backward throughput of the Q-network penultimate variants on CPU.
//
// Batch 32, linear Q head, items/s = samples per second of one
// forward(obs) -> loss -> backward() step (no optimizer step). Compared:
//   flatten      the baseline: flatten -> Dense(W) -> ReLU -> head
//   softmoe4     PerConv -> SoftMoE-4 (expert hidden W)          -> head
//   softmoe1x4   PerConv -> SoftMoE-1, expert hidden scaled x4   -> head
// on MinAtar (4x10x10 binary input, MinAtar conv, SAME: 100 tokens of 16;
// W = 128, 6 actions) and Atari (4x84x84 uint8, Nature CNN, SAME: 121 tokens of
// 64; W = 512, 18 actions). The flatten baseline runs in the same binary so
// ratios against it can be taken directly.
//
// Threads: LibTorch intra-op threads default to 1 here so numbers are stable
// on shared machines; set TOKRL_BENCH_THREADS to change it.
// TOKRL_BENCH_AVX512=0 keeps the small-matrix kernel on its AVX2 + FMA loop
// (as on a CPU without AVX-512) but in BM_SmallGemm, which picks its loop.
//   ./bench_nn --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "tokrl/core/allocator.h"
#include "tokrl/nn/encoders.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/heads.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/nn/small_gemm_kernel.h"
#include "tokrl/nn/softmoe.h"
#include "tokrl/nn/tokenizer.h"

namespace {

using tokrl::nn::EncoderType;
using tokrl::nn::Penultimate;
using tokrl::nn::QNetwork;
using tokrl::nn::QNetworkOptions;
using tokrl::nn::Tokenization;

constexpr int64_t kBatch = 32;

enum Variant : int64_t { kFlatten = 0, kSoftMoE4 = 1, kSoftMoE1x4 = 2 };

QNetworkOptions MakeOptions(bool atari, Variant variant) {
  QNetworkOptions o;
  o.encoder = atari ? EncoderType::kNature : EncoderType::kMinAtar;
  o.obs_shape =
      atari ? std::vector<int64_t>{4, 84, 84} : std::vector<int64_t>{4, 10, 10};
  o.num_actions = atari ? 18 : 6;
  o.hidden = atari ? 512 : 128;
  switch (variant) {
    case kFlatten:
      o.tokenizer = Tokenization::kFlatten;
      o.penultimate = Penultimate::kDense;
      break;
    case kSoftMoE4:
      o.tokenizer = Tokenization::kPerConv;
      o.penultimate = Penultimate::kSoftMoE;
      o.experts = 4;
      break;
    case kSoftMoE1x4:
      o.tokenizer = Tokenization::kPerConv;
      o.penultimate = Penultimate::kSoftMoE;
      o.experts = 1;
      o.scale = 4;
      break;
  }
  return o;
}

void BM_ForwardBackward(benchmark::State& state, bool atari) {
  const auto variant = static_cast<Variant>(state.range(0));
  torch::manual_seed(0);
  const QNetworkOptions o = MakeOptions(atari, variant);
  QNetwork net(o);
  const at::Tensor obs = torch::randint(
      0, atari ? 256 : 2,
      {kBatch, o.obs_shape[0], o.obs_shape[1], o.obs_shape[2]}, torch::kUInt8);
  const at::Tensor weights = torch::randn({kBatch, o.num_actions});
  for (auto _ : state) {
    net->zero_grad();
    const at::Tensor loss = (net->forward(obs).q * weights).sum();
    loss.backward();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["params"] =
      static_cast<double>(tokrl::nn::NumParameters(*net));
  state.SetLabel(variant == kFlatten    ? "flatten"
                 : variant == kSoftMoE4 ? "softmoe4"
                                        : "softmoe1x4");
}

void BM_MinAtar(benchmark::State& state) { BM_ForwardBackward(state, false); }
void BM_Atari(benchmark::State& state) { BM_ForwardBackward(state, true); }

BENCHMARK(BM_MinAtar)
    ->Arg(kFlatten)
    ->Arg(kSoftMoE4)
    ->Arg(kSoftMoE1x4)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Atari)
    ->Arg(kFlatten)
    ->Arg(kSoftMoE4)
    ->Arg(kSoftMoE1x4)
    ->Unit(benchmark::kMillisecond);

// SoftMoE routing weights, forward + backward, on SoftMoE-4 MinAtar logits
// [32, 100, 4, 25]: the two ATen softmaxes (arg 0, the baseline) against the
// fused kernel SoftMoERoutingWeights (arg 1).
void BM_Routing(benchmark::State& state) {
  torch::manual_seed(0);
  const at::Tensor logits =
      (torch::randn({32, 100, 4, 25}) * 3.0).requires_grad_(true);
  const at::Tensor gd = torch::randn_like(logits);
  const at::Tensor gc = torch::randn_like(logits);
  const bool fused = state.range(0) == 1;
  if (state.range(1) == 0) {  // forward only
    torch::NoGradGuard no_grad;
    for (auto _ : state) {
      if (fused) {
        benchmark::DoNotOptimize(tokrl::nn::SoftMoERoutingWeights(logits));
      } else {
        benchmark::DoNotOptimize(tokrl::nn::SoftMoEDispatchWeights(logits));
        benchmark::DoNotOptimize(tokrl::nn::SoftMoECombineWeights(logits));
      }
    }
    state.SetLabel(fused ? "fused kernel, forward" : "two softmax, forward");
    return;
  }
  for (auto _ : state) {
    tokrl::nn::SoftMoERouting r;
    if (fused) {
      r = tokrl::nn::SoftMoERoutingWeights(logits);
    } else {
      r = {tokrl::nn::SoftMoEDispatchWeights(logits),
           tokrl::nn::SoftMoECombineWeights(logits)};
    }
    ((r.dispatch * gd).sum() + (r.combine * gc).sum()).backward();
    logits.mutable_grad().reset();
  }
  state.SetLabel(fused ? "fused kernel" : "two torch::softmax");
}
BENCHMARK(BM_Routing)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// SoftMoE's dispatch and combine products on MinAtar SoftMoE-4 shapes (32
// samples, 100 tokens of 16 features, 100 slots), forward and backward:
// BatchedMatmul's small-matrix kernel (arg 1) against torch::bmm (arg 0).
void BM_DispatchCombine(benchmark::State& state) {
  torch::manual_seed(0);
  const at::Tensor routing =
      torch::softmax(torch::randn({32, 100, 100}), 1).requires_grad_(true);
  // PerConv tokens: a transposed view of the encoder's [B, 16, 100].
  const at::Tensor tokens =
      torch::randn({32, 16, 100}).transpose(1, 2).requires_grad_(true);
  const at::Tensor g = torch::randn({32, 100, 16});
  const bool kernel = state.range(0) == 1;
  for (auto _ : state) {
    at::Tensor slots, out;
    if (kernel) {
      slots = tokrl::nn::BatchedMatmul(routing, true, tokens, false);
      out = tokrl::nn::BatchedMatmul(routing, false, slots, false);
    } else {
      slots = torch::bmm(routing.transpose(1, 2), tokens);
      out = torch::bmm(routing, slots);
    }
    out.backward(g);
    routing.mutable_grad().reset();
    tokens.mutable_grad().reset();
  }
  state.SetLabel(kernel ? "small-matrix kernel" : "torch::bmm");
}
BENCHMARK(BM_DispatchCombine)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// MinAtar's encoder (conv 4 -> 16 3x3 SAME, ReLU, on 10x10) and the flatten
// tokens after it, forward and the weight gradients from the tokens', batch
// 32: InputConv2d's kernel (arg 1, fast paths on) against ATen's conv and
// ReLU (arg 0).
void BM_MinAtarConv(benchmark::State& state) {
  torch::manual_seed(0);
  tokrl::nn::MinAtarConv conv(tokrl::nn::MinAtarConvOptions(4));
  const at::Tensor obs =
      torch::randint(0, 2, {kBatch, 4, 10, 10}, torch::kUInt8);
  const at::Tensor g = torch::randn({kBatch, 1, 1600});
  tokrl::nn::SetFastPaths(state.range(0) == 1);
  for (auto _ : state) {
    tokrl::nn::FlattenTokens(conv->forward(obs)).backward(g);
    conv->zero_grad();
  }
  tokrl::nn::SetFastPaths(true);
  state.SetLabel(state.range(0) == 1 ? "conv kernel" : "ATen conv");
}
BENCHMARK(BM_MinAtarConv)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// SoftMoE-4's experts on MinAtar (4 experts of 16 -> 128 -> 16 on 800
// slots each), forward and backward: BatchedMatmul's kernel (arg 1, fast
// paths on) against baddbmm (arg 0, fast paths off).
void BM_Experts(benchmark::State& state) {
  torch::manual_seed(0);
  tokrl::nn::Experts experts(tokrl::nn::ExpertsOptions(4, 16, 128));
  const at::Tensor x = torch::randn({4, 800, 16}).requires_grad_(true);
  const at::Tensor g = torch::randn({4, 800, 16});
  tokrl::nn::SetFastPaths(state.range(0) == 1);
  for (auto _ : state) {
    experts->forward(x).backward(g);
    experts->zero_grad();
    x.mutable_grad().reset();
  }
  tokrl::nn::SetFastPaths(true);
  state.SetLabel(state.range(0) == 1 ? "small-matrix kernel" : "baddbmm");
}
BENCHMARK(BM_Experts)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The same experts on SoftMoE-4's slots as DispatchTokens lays them out,
// [32, 4, 25, 16], forward and backward: grouped by expert into [4, 800, 16]
// and back by copies (arg 0, what ApplyExperts did before) against the
// kernel reading and writing the slots in place (arg 1).
void BM_ExpertSlots(benchmark::State& state) {
  torch::manual_seed(0);
  tokrl::nn::Experts experts(tokrl::nn::ExpertsOptions(4, 16, 128));
  const at::Tensor slots = torch::randn({32, 4, 25, 16}).requires_grad_(true);
  const at::Tensor g = torch::randn({32, 4, 25, 16});
  const bool in_place = state.range(0) == 1;
  for (auto _ : state) {
    at::Tensor out;
    if (in_place) {
      out = experts->forward(slots);
    } else {
      out = experts->forward(slots.permute({1, 0, 2, 3}).reshape({4, 800, 16}))
                .view({4, 32, 25, 16})
                .permute({1, 0, 2, 3});
    }
    out.backward(g);
    experts->zero_grad();
    slots.mutable_grad().reset();
  }
  state.SetLabel(in_place ? "slots in place" : "grouped by copies");
}
BENCHMARK(BM_ExpertSlots)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The C51 layer of MinAtar SoftMoE-4 Rainbow-lite (1600 -> 6 actions x 51
// atoms) at the taken actions of a batch of 32, forward and backward.
void BM_LinearAtGroups(benchmark::State& state) {
  torch::manual_seed(0);
  const at::Tensor z = torch::randn({32, 1600}).requires_grad_(true);
  const at::Tensor w = (torch::randn({306, 1600}) * 0.02).requires_grad_(true);
  const at::Tensor bias = torch::zeros({306}).requires_grad_(true);
  const at::Tensor actions = torch::randint(0, 6, {32}, torch::kLong);
  const at::Tensor g = torch::randn({32, 51});
  for (auto _ : state) {
    tokrl::nn::LinearAtGroups(z, w, bias, actions, 51).backward(g);
    z.mutable_grad().reset();
    w.mutable_grad().reset();
    bias.mutable_grad().reset();
  }
}
BENCHMARK(BM_LinearAtGroups)->Unit(benchmark::kMicrosecond);

// The flatten baseline's dense layer (1600 -> 128 on MinAtar) without
// gradient on a few rows, as in acting: LinearForward's kernel (arg 1, fast
// paths on) against torch::linear (arg 0), for 1, 8 and 16 rows (16 is
// past kSmallLinearRows: both are torch::linear there).
void BM_SmallLinear(benchmark::State& state) {
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({state.range(1), 1600});
  const at::Tensor w = torch::randn({128, 1600}) * 0.02;
  const at::Tensor bias = torch::zeros({128});
  torch::NoGradGuard no_grad;
  tokrl::nn::SetFastPaths(state.range(0) == 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(tokrl::nn::LinearForward(x, w, bias));
  }
  tokrl::nn::SetFastPaths(true);
  state.SetLabel(state.range(0) == 1 ? "small-matrix kernel" : "torch::linear");
}
BENCHMARK(BM_SmallLinear)
    ->ArgsProduct({{0, 1}, {1, 8, 16}})
    ->Unit(benchmark::kMicrosecond);

// A dense layer's forward and backward with gradients, batch 32 of 1600
// inputs -> arg 1 outputs (6, 18: SoftMoE's MinAtar heads; 128: the
// flatten baseline's dense layer): the kernel as one autograd node (arg 0
// = 1; for 128 outputs only with FMA, else both are torch::linear)
// against torch::linear (OpenBLAS).
void BM_NarrowLinear(benchmark::State& state) {
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({32, 1600}).requires_grad_(true);
  const at::Tensor w =
      (torch::randn({state.range(1), 1600}) * 0.02).requires_grad_(true);
  const at::Tensor bias = torch::zeros({state.range(1)}).requires_grad_(true);
  const at::Tensor g = torch::randn({32, state.range(1)});
  tokrl::nn::SetFastPaths(state.range(0) == 1);
  for (auto _ : state) {
    tokrl::nn::LinearForward(x, w, bias).backward(g);
  }
  tokrl::nn::SetFastPaths(true);
  state.SetLabel(state.range(0) == 1 ? "small-matrix kernel" : "torch::linear");
}
BENCHMARK(BM_NarrowLinear)
    ->ArgsProduct({{0, 1}, {6, 18, 128}})
    ->Unit(benchmark::kMicrosecond);

// The small-matrix kernel alone on SoftMoE-4's MinAtar products, 32 samples
// (in cache): its AVX-512 loop (arg 1 = 1, where the CPU has it) against
// the AVX2 one (0), the same bits. Arg 0: 0 = dispatch (100 x 100)^T by
// 100 x 16, 1 = an expert's 800 x 16 by 16 x 128, 2 = its weight gradient
// (16 x 800 by 800 x 128), 3 = a product of 100 columns as the logits' and
// the routing weights' gradients (100 x 16)^T by 16 x 100, 4 = its first 96
// columns (what its last 4 cost: 3 against 4).
void BM_SmallGemm(benchmark::State& state) {
  struct {
    int64_t rows, k, cols;
    const char* name;
  } const shapes[] = {{100, 100, 16, "dispatch 100x100^T x 100x16"},
                      {800, 16, 128, "expert 800x16 x 16x128"},
                      {16, 800, 128, "expert grad 16x800^T x 800x128"},
                      {100, 16, 100, "100 columns 16x100^T x 16x100"},
                      {100, 16, 96, "96 columns 16x100^T x 16x96"}};
  const auto& s = shapes[state.range(0)];
  const bool wide = state.range(1) == 1;
  if (wide && !tokrl::internal::SmallGemmHasAvx512()) {
    state.SkipWithError("no AVX-512 loop in this build or on this CPU");
    return;
  }
  const int64_t samples = s.rows == 100 ? 32 : 4;
  const at::Tensor a = torch::randn({samples, s.k, s.rows});  // used as a^T
  // Rows padded as the kernel reads them (to a multiple of 8 columns).
  const int64_t ldb = tokrl::internal::SmallGemmPadded(s.cols);
  const at::Tensor b = torch::randn({samples, s.k, ldb});
  at::Tensor out = torch::empty({samples, s.rows, s.cols});
  // Pointers, not a[i] in the loop: a select per operand and sample cost
  // about as much as the kernel (perf: the kernel was ~50% of the loop).
  const float* ap = a.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const bool before = tokrl::internal::SetSmallGemmAvx512(wide);
  for (auto _ : state) {
    for (int64_t i = 0; i < samples; ++i) {
      tokrl::internal::SmallGemm(ap + i * s.k * s.rows, 1, s.rows, s.rows, s.k,
                                 bp + i * s.k * ldb, ldb, s.cols,
                                 op + i * s.rows * s.cols, s.cols);
    }
    benchmark::ClobberMemory();
  }
  tokrl::internal::SetSmallGemmAvx512(before);
  state.SetLabel(std::string(s.name) + (wide ? " avx512" : " avx2"));
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 *
                             samples * s.rows * s.k * s.cols / 1e9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SmallGemm)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // As the trainer does: with glibc's defaults every large buffer is mapped
  // and page-faulted in anew at each call, which on a VM whose page faults
  // were slow doubled the kernel's time in BM_NarrowLinear/1/128.
  tokrl::TuneAllocator();
  if (const char* avx512 = std::getenv("TOKRL_BENCH_AVX512");
      avx512 != nullptr && std::string(avx512) == "0") {
    tokrl::internal::SetSmallGemmAvx512(false);
  }
  const char* threads = std::getenv("TOKRL_BENCH_THREADS");
  torch::set_num_threads(threads ? std::stoi(threads) : 1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
