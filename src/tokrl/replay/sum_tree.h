// SumTree: a binary tree of sums over non-negative leaf priorities, used by
// prioritized experience replay (Schaul et al. 2016) to sample leaf i with
// probability Get(i) / Total() in O(log capacity).
//
// Layout
//   Leaves 0..capacity-1 hold the priorities. Internally the tree is an
//   implicit heap over the next power of two >= capacity (padding leaves stay
//   0). Every inner node always equals exactly left + right of its current
//   children (Set recomputes the path instead of adding deltas), so the
//   floating-point value of every node, Total() included, is a deterministic
//   function of the current leaves: no drift, and two trees with equal leaves
//   sample identically whatever the order of the Set calls that built them.
//
// Sampling semantics
//   Find(mass) returns the leaf i with prefix(i) <= mass < prefix(i + 1),
//   where prefix(i) = sum of leaves 0..i-1 (summed in tree order), i.e.
//   inverse-CDF lookup. It never returns a zero-priority leaf: the descent
//   only enters subtrees whose sum is > 0, which also absorbs rounding when
//   mass is at or just above Total(). Find is monotone: mass1 <= mass2 implies
//   Find(mass1) <= Find(mass2).
//
//   SampleStratified(n, rng) splits [0, Total()) into n equal segments and
//   draws one uniform mass inside each (Dopamine's
//   SumTree.stratified_sample), so a batch covers the distribution evenly.
//   Result k comes from segment k; draws use rng.Uniform() once per segment,
//   in order.
//
// Max()
//   The largest priority ever passed to Set (0 for a fresh tree); it never
//   decreases when leaves are lowered or cleared. Replay buffers give new
//   transitions this priority ("max priority seen so far", Schaul et al.).
//
// Torch-free; not thread-safe. Priorities must be finite and >= 0
// (tokrl::Error otherwise).
#ifndef TOKRL_REPLAY_SUM_TREE_H_
#define TOKRL_REPLAY_SUM_TREE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "tokrl/core/rng.h"

namespace tokrl {

class SumTree {
 public:
  // A tree of `capacity` leaves, all 0. capacity >= 1.
  explicit SumTree(int64_t capacity);

  int64_t capacity() const { return capacity_; }

  // Sets leaf `index` (0 <= index < capacity) to `priority` (finite, >= 0).
  // O(log capacity).
  void Set(int64_t index, double priority);
  // The priority of leaf `index`.
  double Get(int64_t index) const {
    return nodes_[static_cast<size_t>(leaf_offset_ + index)];
  }
  // Sum of all leaves (the root).
  double Total() const { return nodes_[1]; }
  // Largest priority ever Set (see the header comment).
  double Max() const { return max_; }

  // Inverse-CDF lookup, see the header comment. Requires Total() > 0; a mass
  // below 0 is treated as 0 and a mass >= Total() returns the last leaf with
  // positive priority.
  int64_t Find(double mass) const;

  // n >= 1 stratified draws (see the header comment). Requires Total() > 0.
  std::vector<int64_t> SampleStratified(int64_t n, Rng& rng) const;
  // Same, writing into *out (resized to n) to reuse its storage.
  void SampleStratified(int64_t n, Rng& rng, std::vector<int64_t>* out) const;

  // All leaves, for serialization.
  std::span<const double> leaves() const {
    return {nodes_.data() + leaf_offset_, static_cast<size_t>(capacity_)};
  }
  // Replaces every leaf (leaves.size() == capacity) and the recorded maximum,
  // rebuilding the inner nodes in O(capacity). The result is identical to a
  // tree built by Set calls with the same final leaves (and max).
  void Assign(std::span<const double> leaves, double max_recorded);
  // Sets every leaf to 0 and Max() to 0.
  void Clear();

 private:
  static void CheckPriority(double priority);

  int64_t capacity_;
  int64_t leaf_offset_;        // index of leaf 0 in nodes_ (a power of two)
  std::vector<double> nodes_;  // 1-based heap: node k has children 2k, 2k+1
  double max_ = 0.0;
};

}  // namespace tokrl

#endif  // TOKRL_REPLAY_SUM_TREE_H_
