// Seeded pseudo-random numbers for environments, samplers and exploration.
//
// Rng is xoshiro256++ (Blackman & Vigna 2019): 256 bits of state, period
// 2^256-1, ~1 ns per draw, passes BigCrush. It is a value type: copying an
// Rng copies its stream, which is what Env::Clone relies on.
//
// Seeding: Rng(seed) expands a 64-bit seed with splitmix64, so nearby seeds
// (0, 1, 2, ...) give unrelated streams. DeriveSeed(root, index) gives the
// per-instance seed for instance `index` of a batch (envs in a VecEnv, runs
// in a sweep); streams for different indices are unrelated.
//
// Invariants: the same seed gives the same sequence on every platform (only
// integer arithmetic and exact power-of-two scaling are used).
#ifndef TOKRL_CORE_RNG_H_
#define TOKRL_CORE_RNG_H_

#include <array>
#include <cstdint>

namespace tokrl {

// One step of splitmix64: a bijective 64-bit mixer.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Seed for the `index`-th member of a family rooted at `root`.
inline uint64_t DeriveSeed(uint64_t root, uint64_t index) {
  uint64_t state = root ^ (0xD1B54A32D192ED03ull * (index + 1));
  SplitMix64(state);
  return SplitMix64(state);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { Seed(seed); }

  void Seed(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& word : s_) word = SplitMix64(sm);
  }

  // Uniform 64-bit integer.
  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform double in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire 2019).
  uint32_t UniformInt(uint32_t n) {
    uint64_t m = (NextU64() >> 32) * n;
    auto low = static_cast<uint32_t>(m);
    if (low < n) {
      const uint32_t threshold = static_cast<uint32_t>(-n) % n;
      while (low < threshold) {
        m = (NextU64() >> 32) * n;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

  // Uniform integer in [lo, hi] (inclusive), lo <= hi.
  int UniformRange(int lo, int hi) {
    return lo +
           static_cast<int>(UniformInt(static_cast<uint32_t>(hi - lo + 1)));
  }

  // true with probability p.
  bool Bernoulli(double p) { return Uniform() < p; }

  // The raw 256-bit state, for checkpoints.
  std::array<uint64_t, 4> state() const { return {s_[0], s_[1], s_[2], s_[3]}; }
  void set_state(const std::array<uint64_t, 4>& state) {
    for (int i = 0; i < 4; ++i) s_[i] = state[i];
  }

  friend bool operator==(const Rng& a, const Rng& b) {
    for (int i = 0; i < 4; ++i) {
      if (a.s_[i] != b.s_[i]) return false;
    }
    return true;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tokrl

#endif  // TOKRL_CORE_RNG_H_
