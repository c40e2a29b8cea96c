// TOKRL_CLONES: builds a hand-written CPU loop for the x86-64 baseline plus
// an AVX2 clone picked at load time (GCC function multiversioning), where
// the toolchain supports it; elsewhere it expands to nothing. The clones
// give the same results: AVX2 without FMA contracts nothing, and the loops
// that reduce fix their lane order in the source.
#ifndef TOKRL_CORE_CPU_CLONES_H_
#define TOKRL_CORE_CPU_CLONES_H_

//
// TOKRL_HAVE_AVX512_CLONE: 1 where a loop may also be built for AVX-512
// (target("avx512f"), picked at run time with __builtin_cpu_supports), as
// the small-matrix kernel's 16-wide one; 0 elsewhere.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define TOKRL_CLONES __attribute__((target_clones("avx2", "default")))
#define TOKRL_HAVE_AVX512_CLONE 1
#else
#define TOKRL_CLONES
#define TOKRL_HAVE_AVX512_CLONE 0
#endif

#endif  // TOKRL_CORE_CPU_CLONES_H_
