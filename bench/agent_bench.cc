// Agent throughput on MinAtar: gradient updates/s (batch 32), acting forward
// passes/s and whole-loop env steps/s, for DQN, Rainbow-lite and DER with
// the flatten baseline, SoftMoE-4 and the scaled single expert (SoftMoE-1
// x4); and the updates/s of DQN with the Nature CNN on synthetic frames.
// Baselines in the same run: flatten for the variants, and for updates the
// plain LibTorch ops ("plain" rows) for tokrl's fast paths.
//
//   ./build/bench_agent --benchmark_counters_tabular=true
//   TOKRL_TRACE=DIR ./build/bench_agent --benchmark_filter=BM_Update
//       (then bench/trace_summary.py DIR/<agent>_<network>.trace --per 20)
//   TOKRL_BENCH_DEVICE=cuda TOKRL_PROFILE=DIR ./build/bench_agent ...
//       (what the GPU runs per update: DIR/<row>.gpu.txt)
//   TOKRL_BENCH_AVX512=0 ./build/bench_agent ...
//       (the small-matrix kernel's AVX2 + FMA loop, as on a CPU without
//       AVX-512; the other loops keep the clone that load time picked for
//       this CPU, core/cpu_clones.h; a build configured with
//       -DTOKRL_NO_AVX512=ON runs all of them as without AVX-512)
//   TOKRL_BENCH_THREADS=2 ./build/bench_agent ...
//       (LibTorch on two threads; default one)
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/fused_adam.h"
#include "tokrl/agents/packed_agent.h"
#include "tokrl/agents/packed_trainer.h"
#include "tokrl/agents/testing.h"
#include "tokrl/agents/trainer.h"
#include "tokrl/core/allocator.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl {
namespace {

const char* const kAgents[] = {"dqn", "rainbow_lite", "der"};
// 0-2: the peer benchmark's networks; 3-9: the paper's other heads and
// tokenizers.
const char* const kNetworks[] = {"flatten",
                                 "softmoe4",
                                 "softmoe1_scaled4",
                                 "tokenized_avg_x4",
                                 "gap_x4",
                                 "top1_moe4",
                                 "flatten_x4",
                                 "expert_choice4",
                                 "softmoe1_scaled4_perfeat",
                                 "softmoe1_scaled4_perpatch"};

// Multiply-adds x 2 of one forward pass of a MinAtar network (conv, the
// penultimate layer, the head) for one sample; elementwise ops not counted.
double ForwardFlops(const nn::QNetworkImpl& net) {
  const nn::QNetworkOptions& o = net.options;
  const auto& f = net.feature_shape();  // {d, h, w}
  const double d = static_cast<double>(f[0]);
  const double hw = static_cast<double>(f[1] * f[2]);
  const double c_in = static_cast<double>(o.obs_shape[0]);
  double flops = 2 * hw * d * c_in * 9;  // the 3x3 conv
  const double m = static_cast<double>(net.num_tokens());
  const double t = static_cast<double>(net.token_dim());
  const double width = static_cast<double>(o.hidden * o.scale);
  if (net.softmoe) {
    const double slots = static_cast<double>(
        net.softmoe->options.num_experts() * net.softmoe->slots_per_expert());
    const double h = static_cast<double>(net.softmoe->expert_hidden());
    flops += 2 * m * t * slots * 3;  // logits, dispatch, combine
    flops += 2 * slots * 2 * t * h;  // the experts' two layers
  } else if (net.dense) {
    flops += 2 * (o.penultimate == nn::Penultimate::kGap ? t : m * t) * width;
  } else if (net.tokenized) {
    flops += 2 * m * t * width;
  } else if (net.moe) {
    const double experts = static_cast<double>(net.moe->options.num_experts());
    const double slots = experts * static_cast<double>(net.moe->capacity());
    const double h = static_cast<double>(net.moe->expert_hidden());
    flops += 2 * m * t * experts;    // the router
    flops += 2 * slots * 2 * t * h;  // the experts' two layers
  }
  flops +=
      2 * static_cast<double>(net.head_input_dim() * o.num_actions *
                              (o.head == nn::HeadType::kC51 ? o.num_atoms : 1));
  return flops;
}

// The core's multiply-add peak as it runs now: 12 independent chains of
// fused multiply-adds on the widest vectors the small-matrix kernel uses
// (AVX-512 or AVX2; 0 on CPUs or builds without them), best of five 5 ms
// runs. Why measured: a VM's /proc/cpuinfo gives its nominal clock, and
// these cores boost above it (a Zen 5 VM listed at 2.6 GHz ran the kernel
// at 219 GFLOP/s, above that clock's 166), so a peak from the listed clock
// flattered every update's share of it.
#if defined(__x86_64__) && defined(__GNUC__)
// Read at each call: a chain of constants made the loops pure functions,
// and GCC then called each once for the whole timed loop.
volatile float fma_multiplier = 0.999999f;

__attribute__((target("avx512f,fma"))) float FmaChains512(int64_t steps) {
  __m512 acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm512_set1_ps(1.0f + 0.01f * c);
  const __m512 mul = _mm512_set1_ps(fma_multiplier);
  const __m512 add = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < steps; ++i) {
    for (int c = 0; c < 12; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  }
  // Not _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized).
  alignas(64) float lanes[16];
  __m512 sum = acc[0];
  for (int c = 1; c < 12; ++c) sum = _mm512_add_ps(sum, acc[c]);
  _mm512_store_ps(lanes, sum);
  return lanes[0];
}

__attribute__((target("avx2,fma"))) float FmaChains256(int64_t steps) {
  __m256 acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm256_set1_ps(1.0f + 0.01f * c);
  const __m256 mul = _mm256_set1_ps(fma_multiplier);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < steps; ++i) {
    for (int c = 0; c < 12; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  }
  alignas(32) float lanes[8];
  __m256 sum = acc[0];
  for (int c = 1; c < 12; ++c) sum = _mm256_add_ps(sum, acc[c]);
  _mm256_store_ps(lanes, sum);
  return lanes[0];
}
#endif

double MeasuredPeakGflops() {
#if defined(__x86_64__) && defined(__GNUC__)
  const bool wide = internal::SmallGemmHasAvx512();
  if (!wide && !internal::SmallGemmFuses()) return 0.0;
  constexpr int64_t kSteps = 1 << 16;
  double best = 0.0;
  float sink = 0.0f;
  for (int run = 0; run < 6; ++run) {  // the first warms the core up
    const auto start = std::chrono::steady_clock::now();
    int64_t steps = 0;
    do {
      sink += wide ? FmaChains512(kSteps) : FmaChains256(kSteps);
      steps += kSteps;
    } while (std::chrono::steady_clock::now() - start <
             std::chrono::milliseconds(5));
    const std::chrono::duration<double> took =
        std::chrono::steady_clock::now() - start;
    const double flops = static_cast<double>(steps) * 12 * (wide ? 16 : 8) * 2;
    if (run > 0) best = std::max(best, flops / took.count() / 1e9);
  }
  benchmark::DoNotOptimize(sink);
  return best;
#else
  return 0.0;
#endif
}

// TOKRL_BENCH_AVX512=0 keeps the small-matrix kernel off its AVX-512 loop
// for the whole run.
const bool kAvx512Allowed = [] {
  const char* value = std::getenv("TOKRL_BENCH_AVX512");
  const bool allowed = value == nullptr || std::string(value) != "0";
  internal::SetSmallGemmAvx512(allowed);
  return allowed;
}();

// TOKRL_BENCH_DEVICE=cuda runs the agents on the GPU (default cpu).
torch::Device BenchDevice() {
  const char* name = std::getenv("TOKRL_BENCH_DEVICE");
  return ResolveDevice(name != nullptr ? name : "cpu");
}

// TOKRL_BENCH_CUDA_GRAPHS=0 keeps every CUDA agent eager (agent.cuda_graphs
// false), e.g. where capturing fails (scripts/gpu_check.sh).
bool BenchCudaGraphs() {
  const char* value = std::getenv("TOKRL_BENCH_CUDA_GRAPHS");
  return value == nullptr || std::string(value) != "0";
}

// TOKRL_BENCH_THREADS=N: LibTorch's thread count in every benchmark and the
// trainers' train.torch_threads (default 1; bench/peer/compare.py --threads).
int BenchThreads() {
  const char* value = std::getenv("TOKRL_BENCH_THREADS");
  return value != nullptr ? std::max(1, std::atoi(value)) : 1;
}

// The presets configs/<files...> on BenchDevice() with BenchThreads(),
// graphed unless TOKRL_BENCH_CUDA_GRAPHS=0.
Config PresetConfig(const std::vector<std::string>& files) {
  Config c = MakeTrainConfig();
  for (const auto& f : files) c.LoadTomlFile(SourceDir() / "configs" / f);
  c.Set("train.device", BenchDevice().str());
  c.Set("train.torch_threads", std::to_string(BenchThreads()));
  c.Set("agent.cuda_graphs", BenchCudaGraphs() ? "true" : "false");
  return c;
}

Config MakeConfig(int agent, int network) {
  return PresetConfig(
      {std::string(kAgents[agent]) + "_minatar.toml",
       "networks/" + std::string(kNetworks[network]) + ".toml"});
}

// A KinetoEvent's duration in microseconds (durationUs in LibTorch 1.x,
// durationNs in 2.x).
template <typename E>
double DurationUs(const E& e) {
  if constexpr (requires { e.durationNs(); }) {
    return static_cast<double>(e.durationNs()) / 1e3;
  } else {
    return static_cast<double>(e.durationUs());
  }
}

// What the GPU runs in `calls` calls of `update` (the PyTorch profiler,
// whose CUPTI records include the kernels of CUDA-graph replays), to `path`:
// per call the wall time, the GPU's busy time (kernels, copies and fills
// added up) and their count, then those grouped by name, longest first.
// GPU events need a LibTorch built with Kineto (PyTorch's is; Debian's 1.13
// is not, and then the counts are 0). A profiler that fails is written down
// and the benchmark goes on.
template <typename F>
void ProfileGpu(const std::string& path, int calls, F update) {
  namespace prof = torch::profiler::impl;
  std::ofstream out(path);
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
  const std::set<prof::ActivityType> activities = {prof::ActivityType::CPU,
                                                   prof::ActivityType::CUDA};
  try {
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
  } catch (const std::exception& e) {
    out << "no GPU profile: " << e.what() << "\n";
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) update();
  torch::cuda::synchronize();
  const double wall_us = std::chrono::duration<double, std::micro>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  const auto result = torch::autograd::profiler::disableProfiler();
  std::map<std::string, std::pair<int64_t, double>> by_name;
  int64_t count = 0;
  double busy_us = 0.0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    auto& [n, us] = by_name[e.name()];
    ++n;
    us += DurationUs(e);
    ++count;
    busy_us += DurationUs(e);
  }
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [name, v] : by_name) rows.emplace_back(v.second, name);
  std::sort(rows.rbegin(), rows.rend());
  out << "per call: wall " << wall_us / calls << " us, GPU busy "
      << busy_us / calls << " us in " << static_cast<double>(count) / calls
      << " kernels/copies (" << calls << " calls profiled)\n"
      << "us/call  n/call  name\n";
  for (const auto& [us, name] : rows) {
    out << us / calls << "  "
        << static_cast<double>(by_name[name].first) / calls << "  " << name
        << "\n";
  }
}

// Five untimed calls of `update` before a benchmark's loop: the first ones
// pay one-off costs (on CUDA: the context's libraries, the allocator's
// first blocks, the graph capture) that a benchmark whose first iteration
// exceeds its minimum time would report as its rate. Then 20 calls traced
// where asked, to DIR/<label>.*: with TOKRL_TRACE=DIR a LibTorch op trace
// (.trace, read with bench/trace_summary.py); on CUDA with
// TOKRL_PROFILE=DIR what the GPU runs (.gpu.txt, ProfileGpu).
template <typename F>
void WarmUp(std::string label, F update) {
  for (int i = 0; i < 5; ++i) update();
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  std::replace(label.begin(), label.end(), '/', '_');
  std::replace(label.begin(), label.end(), ' ', '_');
  if (const char* dir = std::getenv("TOKRL_PROFILE");
      dir != nullptr && torch::cuda::is_available()) {
    ProfileGpu((std::filesystem::path(dir) / (label + ".gpu.txt")).string(), 20,
               update);
  }
  const char* dir = std::getenv("TOKRL_TRACE");
  if (dir == nullptr) return;
  torch::autograd::profiler::RecordProfile guard(
      (std::filesystem::path(dir) / (label + ".trace")).string());
  for (int i = 0; i < 20; ++i) update();
}

// 2000 transitions of uniformly random play.
void FillRandom(const std::string& env_id, ReplayBuffer& replay, Rng& rng) {
  VecEnv venv(env_id, {.num_envs = 1, .num_threads = 1, .seed = 0});
  venv.Reset();
  std::vector<int32_t> action(1);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> obs(venv.obs().begin(), venv.obs().end());
    action[0] = static_cast<int32_t>(rng.UniformInt(6));
    venv.Step(action);
    replay.Add(obs, action, venv.reward(), venv.terminated(), venv.truncated(),
               venv.next_obs());
  }
}

// Fills `replay` with synthetic transitions: frame i filled with the value
// i (mod 256), action 1, reward 1, an episode end every 97 steps.
void FillSynthetic(ReplayBuffer& replay) {
  const ReplayOptions& o = replay.options();
  const auto frame =
      static_cast<size_t>(o.obs_shape[0] * o.obs_shape[1] * o.obs_shape[2]);
  std::vector<uint8_t> obs(frame), next_obs(frame);
  const int32_t action[1] = {1};
  const float reward[1] = {1.0f};
  const uint8_t no[1] = {0};
  for (int64_t i = 0; i < o.capacity; ++i) {
    std::fill(obs.begin(), obs.end(), static_cast<uint8_t>(i));
    std::fill(next_obs.begin(), next_obs.end(), static_cast<uint8_t>(i + 1));
    const uint8_t end[1] = {static_cast<uint8_t>(i % 97 == 96)};
    replay.Add(obs, action, reward, end, no, next_obs);
  }
}

// Replay sampling, batch 32, delivered on BenchDevice(): the host's
// stacking and a copy to the device (arg 1 = 0, the baseline), against
// frames mirrored on the device and gathered there (arg 1 = 1,
// ReplayBuffer::MirrorFrames; the trainer's path on CUDA). Arg 0: 0 =
// MinAtar-sized frames (4x10x10, no stacking), 1 = Atari's (1x84x84, 4
// stacked). 100k slots, 3-step returns, an episode end every 97 steps.
void BM_Sample(benchmark::State& state) {
  torch::set_num_threads(BenchThreads());
  const bool atari = state.range(0) == 1;
  const torch::Device device = BenchDevice();
  ReplayOptions o;
  o.capacity = 100'000;
  o.obs_shape =
      atari ? std::vector<int64_t>{1, 84, 84} : std::vector<int64_t>{4, 10, 10};
  o.frame_stack = atari ? 4 : 1;
  o.n_step = 3;
  ReplayBuffer replay(o);
  FillSynthetic(replay);
  if (state.range(1) == 1) replay.MirrorFrames(device);
  Rng rng(0);
  for (auto _ : state) {
    const SampledBatch batch = ToDevice(replay.Sample(32, rng), device);
    if (device.is_cuda()) torch::cuda::synchronize();
    benchmark::DoNotOptimize(batch.obs.data_ptr());
  }
  state.SetLabel(std::string(atari ? "atari 84x84x4" : "minatar 10x10x4") +
                 (state.range(1) == 1 ? " mirrored" : " host"));
  state.counters["batches/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sample)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// Times `agent`'s updates on batch-32 samples of `replay` (priorities
// written back when prioritized) after WarmUp, with `fast` as BM_Update's
// last argument (on CUDA it also mirrors the frames on the device); labels
// the row and counts updates/s. The fast paths are on again afterwards.
void TimeUpdates(benchmark::State& state, DqnAgent& agent, ReplayBuffer& replay,
                 Rng& rng, const std::string& label, bool fast) {
  if (fast && agent.device().is_cuda()) replay.MirrorFrames(agent.device());
  const auto update = [&] {
    const SampledBatch batch = replay.Sample(32, rng);
    const UpdateMetrics m = agent.Update(batch);
    if (replay.options().prioritized)
      replay.UpdatePriorities(batch.indices, m.priorities);
  };
  const std::string row = label + (agent.graphed() ? " graph"
                                   : fast          ? ""
                                                   : " plain");
  WarmUp(row, update);
  for (auto _ : state) update();
  nn::SetFastPaths(true);
  state.SetLabel(row);
  state.counters["updates/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Arg 2: 1 = tokrl's fast paths (CPU: nn/fast_paths.h; CUDA: the update as
// a CUDA graph, graphed_update.h, and the frames mirrored on the device as
// the trainer does), 0 = the plain LibTorch ops / eager launches and host
// batches, the baseline of the ratio, measured in the same process.
void BM_Update(benchmark::State& state) {
  TuneAllocator();  // as the trainer does
  torch::set_num_threads(BenchThreads());
  const bool fast = state.range(2) == 1;
  nn::SetFastPaths(fast);
  const Config c = MakeConfig(static_cast<int>(state.range(0)),
                              static_cast<int>(state.range(1)));
  auto env = MakeEnv(c.GetString("env.id"));
  ResolvedConfig r = Resolve(c, env->spec());
  r.agent.cuda_graphs = r.agent.cuda_graphs && fast;
  DqnAgent agent(r.agent, r.network, BenchDevice());
  ReplayBuffer replay(r.replay);
  Rng rng(0);
  FillRandom(c.GetString("env.id"), replay, rng);
  TimeUpdates(
      state, agent, replay, rng,
      std::string(kAgents[state.range(0)]) + "/" + kNetworks[state.range(1)],
      fast);
  // An update: online forward and backward (~2 forwards) on s, target
  // forward on s' (and the online one under double Q): (4 + double_q)
  // forwards of the batch, approximately. The same count for both rows: a
  // fast-path C51 update does less (its online head at the taken actions
  // only), so its GFLOP/s is the plain update's work over its time.
  const double flops = ForwardFlops(*agent.online()) * 32 *
                       (4.0 + (r.agent.double_q ? 1.0 : 0.0));
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * flops / 1e9,
                         benchmark::Counter::kIsRate);
  // Against the CPU's peak on the threads in use (each on its own core).
  static const double core_peak = MeasuredPeakGflops();
  if (core_peak > 0 && BenchDevice().is_cpu()) {
    state.counters["%peak"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * flops /
                               1e9 / (core_peak * BenchThreads()) * 100,
                           benchmark::Counter::kIsRate);
  }
}
BENCHMARK(BM_Update)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond);
// The other heads and tokenizers: DQN; Rainbow-lite's tokenized baseline
// (bench/peer/compare.py's row).
BENCHMARK(BM_Update)
    ->ArgsProduct({{0}, {3, 4, 5, 6, 7, 8, 9}, {0, 1}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Update)
    ->ArgsProduct({{1}, {3}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// The gradient norm that every update reports, over a DQN flatten MinAtar
// network's gradients (222k floats): FusedAdam::GradNorm (arg 1) against
// clip_grad_norm_ with an infinite max (arg 0, what it replaced).
void BM_GradNorm(benchmark::State& state) {
  torch::set_num_threads(BenchThreads());
  torch::manual_seed(0);
  std::vector<torch::Tensor> params;
  for (const auto& shape : std::vector<std::vector<int64_t>>{
           {16, 4, 3, 3}, {16}, {128, 1600}, {128}, {6, 128}, {6}}) {
    params.push_back(torch::randn(shape).requires_grad_(true));
    params.back().mutable_grad() = torch::randn(shape) * 1e-3;
  }
  const FusedAdam adam(params, {});
  const bool fast = state.range(0) == 1;
  double norm = 0.0;
  for (auto _ : state) {
    norm = fast ? adam.GradNorm()
                : torch::nn::utils::clip_grad_norm_(
                      params, std::numeric_limits<double>::infinity());
    benchmark::DoNotOptimize(norm);
  }
  state.SetLabel(fast ? "FusedAdam::GradNorm" : "clip_grad_norm_");
}
BENCHMARK(BM_GradNorm)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// DQN with the Nature CNN (configs/dqn_atari.toml: 4 stacked 84x84 frames,
// dense 512, MSE, 1-step), the GPU yardstick, on synthetic frames
// (no ALE needed; 20k transitions). Arg: as BM_Update's last one.
void BM_UpdateAtari(benchmark::State& state) {
  TuneAllocator();
  torch::set_num_threads(BenchThreads());
  const bool fast = state.range(0) == 1;
  nn::SetFastPaths(fast);
  Config c = PresetConfig({"dqn_atari.toml"});
  c.Set("replay.capacity", "20000");
  ResolvedConfig r = Resolve(c, testing::SyntheticAtariSpec());
  r.agent.cuda_graphs = r.agent.cuda_graphs && fast;
  DqnAgent agent(r.agent, r.network, BenchDevice());
  ReplayBuffer replay(r.replay);
  FillSynthetic(replay);
  Rng rng(0);
  TimeUpdates(state, agent, replay, rng, "dqn/nature", fast);
}
BENCHMARK(BM_UpdateAtari)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Packed runs (agents/packed_agent.h): K members' updates as one packed
// update (arg 3 = 1) against K separate DqnAgent updates (arg 3 = 0, the
// baseline), in the same process; member updates/s counts both alike.
// Args: agent (dqn, rainbow_lite), network, K.
void BM_PackedUpdate(benchmark::State& state) {
  TuneAllocator();
  torch::set_num_threads(BenchThreads());
  const Config c = MakeConfig(static_cast<int>(state.range(0)),
                              static_cast<int>(state.range(1)));
  auto env = MakeEnv(c.GetString("env.id"));
  const ResolvedConfig r = Resolve(c, env->spec());
  const int64_t k = state.range(2);
  const bool packed = state.range(3) == 1;
  ReplayBuffer replay(r.replay);
  Rng rng(0);
  FillRandom(c.GetString("env.id"), replay, rng);
  std::vector<std::unique_ptr<DqnAgent>> members;
  for (int64_t i = 0; i < k; ++i) {
    members.push_back(
        std::make_unique<DqnAgent>(r.agent, r.network, BenchDevice()));
  }
  std::unique_ptr<PackedAgent> pack;
  if (packed) {
    pack = std::make_unique<PackedAgent>(r.agent, r.network, k, BenchDevice());
    for (int64_t i = 0; i < k; ++i) pack->Pack(i, *members[i]);
  }
  std::vector<SampledBatch> batches(static_cast<size_t>(k));
  const auto update = [&] {
    for (auto& b : batches) b = replay.Sample(32, rng);
    if (packed) {
      benchmark::DoNotOptimize(pack->Update(batches));
    } else {
      for (int64_t i = 0; i < k; ++i) {
        benchmark::DoNotOptimize(
            members[i]->Update(batches[static_cast<size_t>(i)]));
      }
    }
  };
  const std::string label =
      std::string(kAgents[state.range(0)]) + "/" + kNetworks[state.range(1)] +
      " K=" + std::to_string(k) + (packed ? " packed" : " separate");
  WarmUp(label, update);
  for (auto _ : state) update();
  state.SetLabel(label);
  state.counters["member_updates/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * k), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PackedUpdate)
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {1, 4, 16}, {0, 1}})
    ->Unit(benchmark::kMillisecond);
// The tokenized baseline, DQN, K = 16.
BENCHMARK(BM_PackedUpdate)
    ->ArgsProduct({{0}, {3}, {16}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_Act(benchmark::State& state) {
  TuneAllocator();  // as the trainer does
  torch::set_num_threads(BenchThreads());
  const Config c = MakeConfig(static_cast<int>(state.range(0)),
                              static_cast<int>(state.range(1)));
  auto env = MakeEnv(c.GetString("env.id"));
  const ResolvedConfig r = Resolve(c, env->spec());
  DqnAgent agent(r.agent, r.network, BenchDevice());
  const int64_t n = state.range(2);
  std::vector<uint8_t> obs(n * env->spec().obs_size(), 1);
  Rng rng(0);
  const std::string label = std::string(kAgents[state.range(0)]) + "/" +
                            kNetworks[state.range(1)] + " x" +
                            std::to_string(n) + " envs";
  WarmUp("act " + label, [&] { agent.Act(obs, n, 0.01, rng); });
  for (auto _ : state) benchmark::DoNotOptimize(agent.Act(obs, n, 0.01, rng));
  state.SetLabel(label);
  state.counters["env_steps/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
// Args: agent (dqn; der: its noisy head draws new noise per step), network,
// envs.
BENCHMARK(BM_Act)
    ->ArgsProduct({{0}, {0, 1, 2}, {1, 16}})
    ->ArgsProduct({{2}, {0, 1, 2}, {1}})
    ->Unit(benchmark::kMicrosecond);

// End to end: env steps/s of the whole training loop (acting, env stepping,
// replay, updates at the preset's update period), after warm-up, with
// epsilon at its floor from then on (as compare.py; a 10M-frame run's steps
// after its first 250k): every timed step acts through the network.
void BM_Train(benchmark::State& state) {
  Config c = MakeConfig(static_cast<int>(state.range(0)),
                        static_cast<int>(state.range(1)));
  c.Set("train.eval_every", "0");
  c.Set("train.tensorboard", "false");
  c.Set("train.log_every", "1000000");
  c.Set("agent.epsilon_decay_steps", "0");  // 1 while filling
  const int64_t steps = 4000;
  int64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto dir =
        std::filesystem::temp_directory_path() / "tokrl_bench_train";
    std::filesystem::remove_all(dir);
    c.Set("train.total_steps", std::to_string(steps + 2000));
    c.Set("agent.min_replay", "2000");
    Trainer trainer(c, dir, false, {}, nullptr);
    while (trainer.env_steps() < 2000)
      trainer.Step();  // fill the replay: not timed
    state.ResumeTiming();
    while (trainer.env_steps() < steps + 2000) trainer.Step();
    total += steps;
  }
  state.SetLabel(std::string(kAgents[state.range(0)]) + "/" +
                 kNetworks[state.range(1)]);
  state.counters["env_steps/s"] = benchmark::Counter(
      static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Train)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

// Packed runs end to end: aggregate env steps/s of K members trained by one
// PackedTrainer (K = 1, 4, 16), against one unpacked Trainer (K = 0, the
// baseline) in the same process. 4000 env steps in all after warm-up,
// epsilon at its floor (as BM_Train). Args: agent (dqn, rainbow_lite),
// network, K.
void BM_PackedTrain(benchmark::State& state) {
  Config c = MakeConfig(static_cast<int>(state.range(0)),
                        static_cast<int>(state.range(1)));
  c.Set("train.eval_every", "0");
  c.Set("train.tensorboard", "false");
  c.Set("train.log_every", "1000000");
  c.Set("agent.min_replay", "1000");
  c.Set("agent.epsilon_decay_steps", "0");
  const int64_t k = state.range(2);
  const int64_t members = std::max<int64_t>(k, 1);
  const int64_t steps = 4000 / members;  // per member, timed
  c.Set("train.total_steps", std::to_string(1000 + steps));
  const auto root = std::filesystem::temp_directory_path() / "tokrl_bench_pack";
  int64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(root);
    std::vector<Config> configs;
    std::vector<std::filesystem::path> dirs;
    for (int64_t i = 0; i < members; ++i) {
      configs.push_back(c);
      configs.back().Set("train.seed", std::to_string(i));
      dirs.push_back(root / ("seed" + std::to_string(i)));
    }
    if (k == 0) {
      Trainer trainer(c, dirs[0], false, {}, nullptr);
      while (trainer.env_steps() < 1000) trainer.Step();  // not timed
      state.ResumeTiming();
      while (trainer.env_steps() < 1000 + steps) trainer.Step();
    } else {
      PackedTrainer trainer(configs, dirs, false, {}, nullptr);
      while (trainer.member(0).env_steps() < 1000) trainer.Step();
      state.ResumeTiming();
      while (trainer.member(0).env_steps() < 1000 + steps) trainer.Step();
    }
    total += steps * members;
  }
  std::filesystem::remove_all(root);
  state.SetLabel(std::string(kAgents[state.range(0)]) + "/" +
                 kNetworks[state.range(1)] +
                 (k == 0 ? " unpacked" : " packed K=" + std::to_string(k)));
  state.counters["env_steps/s"] = benchmark::Counter(
      static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PackedTrain)
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {0, 1, 4, 16}})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

}  // namespace
}  // namespace tokrl

BENCHMARK_MAIN();
