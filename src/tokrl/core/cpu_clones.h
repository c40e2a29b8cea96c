// TOKRL_CLONES: builds a hand-written CPU loop for the x86-64 baseline plus
// AVX2 and AVX-512 clones, one picked at load time (GCC function
// multiversioning), where the toolchain supports it; elsewhere it expands
// to nothing. The clones give the same results: their files build with
// -ffp-contract=off (no FMA contraction; CMakeLists.txt), and the loops
// that reduce fix their lane order in the source. (The AVX-512 clone ran
// the SoftMoE routing softmax 14% faster than the AVX2 one on a Zen 5 core,
// bench_nn BM_Routing/1/0.)
#ifndef TOKRL_CORE_CPU_CLONES_H_
#define TOKRL_CORE_CPU_CLONES_H_

// TOKRL_HAVE_AVX512_CLONE: 1 where a loop may also be built for other
// targets by hand (target("avx2,fma"), target("avx512f,fma"), picked at run
// time with CpuHasAvx2Fma and CpuHasAvx512 below), as the small-matrix
// kernel's loops, which fuse multiply-adds (nn/small_gemm_kernel.h), and
// the routing exp's AVX-512 loop; 0 elsewhere.
//
// TOKRL_NO_AVX512 (CMake option of that name): no AVX-512 clone, and no
// hand-picked AVX-512 loop runs, so that an AVX-512 CPU runs tokrl's loops
// as a CPU without AVX-512 does.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#if defined(TOKRL_NO_AVX512)
#define TOKRL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TOKRL_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#define TOKRL_HAVE_AVX512_CLONE 1
#else
#define TOKRL_CLONES
#define TOKRL_HAVE_AVX512_CLONE 0
#endif

#if TOKRL_HAVE_AVX512_CLONE
namespace tokrl {

/// Whether this CPU runs a loop built for target("avx2,fma").
inline bool CpuHasAvx2Fma() {
  static const bool has =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

/// Whether this CPU runs a loop built for target("avx512f,fma"): the CPU
/// alone. Callers test `!defined(TOKRL_NO_AVX512)` themselves: that define
/// reaches only the loops' files (CMakeLists.txt), and tested here it would
/// give this inline function two definitions.
inline bool CpuHasAvx512() {
  static const bool has =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace tokrl
#endif

#endif  // TOKRL_CORE_CPU_CLONES_H_
