// Samplers: which replay slots a batch draws, and with what probability.
//
// A Sampler tracks the set of sampleable slots in [0, capacity) of a replay
// buffer. The buffer calls Add when a slot's transition becomes complete and
// Remove when it must no longer be returned (overwritten, or its frame-stack
// history overwritten); a sampler never returns a slot that is not in the
// set. Sampling is with replacement and uses only the given tokrl::Rng, so a
// sampler restored by Load continues with identical draws.
//
//   UniformSampler      every slot in the set with probability 1 / size().
//                       O(1) Add/Remove/draw (dense array + position map);
//                       each draw uses one rng.UniformInt.
//   PrioritizedSampler  proportional prioritization (Schaul et al. 2016):
//                       slot i has tree priority q_i = (p_i + eps)^alpha for
//                       the raw priority p_i given to Update, and
//                       P(i) = q_i / sum_j q_j. A slot entering the set gets
//                       the largest tree priority recorded so far, starting
//                       at 1 (Dopamine's max_recorded_priority), so new data
//                       is seen at least once soon. Batches are stratified
//                       (SumTree::SampleStratified). With alpha = 0.5 and the
//                       C51 cross-entropy loss as p_i, q_i matches Dopamine
//                       Rainbow's sqrt(loss + 1e-10) with eps = 1e-10.
//
// Not thread-safe; torch-free.
#ifndef TOKRL_REPLAY_SAMPLER_H_
#define TOKRL_REPLAY_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/replay/serialization.h"
#include "tokrl/replay/sum_tree.h"

namespace tokrl {

class Sampler {
 public:
  virtual ~Sampler() = default;

  virtual int64_t capacity() const = 0;
  // Number of sampleable slots.
  virtual int64_t size() const = 0;
  virtual bool Contains(int64_t slot) const = 0;
  // Adds a slot that is not in the set.
  virtual void Add(int64_t slot) = 0;
  // Removes a slot; no-op when it is not in the set.
  virtual void Remove(int64_t slot) = 0;
  // Draws n >= 1 slots (size() > 0) into *slots and the probability with
  // which each was drawn into *probabilities (both resized to n).
  virtual void Sample(int64_t n, Rng& rng, std::vector<int64_t>* slots,
                      std::vector<double>* probabilities) const = 0;
  // Sets the raw priority (finite, >= 0) of a slot in the set; ignored for
  // slots not in the set and by uniform samplers.
  virtual void Update(int64_t slot, double priority) = 0;
  virtual bool prioritized() const = 0;

  virtual void Clear() = 0;
  virtual void Save(ReplayFileWriter& out) const = 0;
  virtual void Load(ReplayFileReader& in) = 0;
};

class UniformSampler final : public Sampler {
 public:
  explicit UniformSampler(int64_t capacity);

  int64_t capacity() const override { return capacity_; }
  int64_t size() const override { return static_cast<int64_t>(dense_.size()); }
  bool Contains(int64_t slot) const override {
    return position_[static_cast<size_t>(slot)] >= 0;
  }
  void Add(int64_t slot) override;
  void Remove(int64_t slot) override;
  void Sample(int64_t n, Rng& rng, std::vector<int64_t>* slots,
              std::vector<double>* probabilities) const override;
  void Update(int64_t /*slot*/, double /*priority*/) override {}
  bool prioritized() const override { return false; }
  void Clear() override;
  void Save(ReplayFileWriter& out) const override;
  void Load(ReplayFileReader& in) override;

 private:
  int64_t capacity_;
  std::vector<int64_t> dense_;     // the set, in insertion/swap order
  std::vector<int64_t> position_;  // slot -> index in dense_, -1 if absent
};

class PrioritizedSampler final : public Sampler {
 public:
  // alpha >= 0, eps >= 0.
  PrioritizedSampler(int64_t capacity, double alpha, double eps);

  int64_t capacity() const override { return tree_.capacity(); }
  int64_t size() const override { return size_; }
  bool Contains(int64_t slot) const override {
    return present_[static_cast<size_t>(slot)] != 0;
  }
  void Add(int64_t slot) override;
  void Remove(int64_t slot) override;
  void Sample(int64_t n, Rng& rng, std::vector<int64_t>* slots,
              std::vector<double>* probabilities) const override;
  void Update(int64_t slot, double priority) override;
  bool prioritized() const override { return true; }
  void Clear() override;
  void Save(ReplayFileWriter& out) const override;
  void Load(ReplayFileReader& in) override;

  // The tree priority (p + eps)^alpha of a raw priority p.
  double TreePriority(double priority) const;
  // The tree priority a newly added slot receives.
  double max_priority() const;
  const SumTree& tree() const { return tree_; }

 private:
  double alpha_, eps_;
  SumTree tree_;
  std::vector<uint8_t> present_;
  int64_t size_ = 0;
};

}  // namespace tokrl

#endif  // TOKRL_REPLAY_SAMPLER_H_
