// TOKRL_CLONES: builds a hand-written CPU loop for the x86-64 baseline plus
// an AVX2 clone picked at load time (GCC function multiversioning), where
// the toolchain supports it; elsewhere it expands to nothing. The clones
// give the same results: AVX2 without FMA contracts nothing, and the loops
// that reduce fix their lane order in the source.
#ifndef TOKRL_CORE_CPU_CLONES_H_
#define TOKRL_CORE_CPU_CLONES_H_

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define TOKRL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TOKRL_CLONES
#endif

#endif  // TOKRL_CORE_CPU_CLONES_H_
