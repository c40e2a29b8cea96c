#include "tokrl/replay/sum_tree.h"

#include <algorithm>
#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl {

SumTree::SumTree(int64_t capacity) : capacity_(capacity) {
  TOKRL_CHECK_GE(capacity, 1) << "SumTree capacity";
  leaf_offset_ = 1;
  while (leaf_offset_ < capacity) leaf_offset_ *= 2;
  // Node 0 is unused; padding leaves beyond capacity stay 0 forever.
  nodes_.assign(static_cast<size_t>(2 * leaf_offset_), 0.0);
}

void SumTree::CheckPriority(double priority) {
  TOKRL_CHECK(std::isfinite(priority) && priority >= 0.0)
      << "SumTree priorities must be finite and >= 0, got " << priority;
}

void SumTree::Set(int64_t index, double priority) {
  TOKRL_CHECK(index >= 0 && index < capacity_)
      << "SumTree index " << index << " out of range [0, " << capacity_ << ")";
  CheckPriority(priority);
  int64_t node = leaf_offset_ + index;
  nodes_[static_cast<size_t>(node)] = priority;
  // Recompute (rather than add a delta to) each ancestor: node values stay an
  // exact function of the leaves, so no rounding error accumulates over
  // millions of updates and a reloaded tree is bit-identical.
  for (node /= 2; node >= 1; node /= 2) {
    nodes_[static_cast<size_t>(node)] =
        nodes_[static_cast<size_t>(2 * node)] +
        nodes_[static_cast<size_t>(2 * node + 1)];
  }
  max_ = std::max(max_, priority);
}

int64_t SumTree::Find(double mass) const {
  TOKRL_CHECK_GT(Total(), 0.0) << "SumTree::Find on an empty tree";
  if (!(mass > 0.0)) mass = 0.0;  // also maps NaN to 0
  int64_t node = 1;
  while (node < leaf_offset_) {
    const double left = nodes_[static_cast<size_t>(2 * node)];
    const double right = nodes_[static_cast<size_t>(2 * node + 1)];
    // Only ever enter a subtree with positive mass. `right <= 0` catches the
    // case where rounding leaves mass >= this node's sum: falling back to the
    // (then necessarily positive) left child keeps zero leaves unreachable.
    if (mass < left || right <= 0.0) {
      node = 2 * node;
    } else {
      mass -= left;
      node = 2 * node + 1;
    }
  }
  return node - leaf_offset_;
}

std::vector<int64_t> SumTree::SampleStratified(int64_t n, Rng& rng) const {
  std::vector<int64_t> out;
  SampleStratified(n, rng, &out);
  return out;
}

void SumTree::SampleStratified(int64_t n, Rng& rng,
                               std::vector<int64_t>* out) const {
  TOKRL_CHECK_GE(n, 1) << "SumTree::SampleStratified batch size";
  const double total = Total();
  TOKRL_CHECK_GT(total, 0.0) << "SumTree::SampleStratified on an empty tree";
  out->resize(static_cast<size_t>(n));
  const double segment = total / static_cast<double>(n);
  for (int64_t k = 0; k < n; ++k) {
    const double lo = segment * static_cast<double>(k);
    (*out)[static_cast<size_t>(k)] = Find(lo + rng.Uniform() * segment);
  }
}

void SumTree::Assign(std::span<const double> leaves, double max_recorded) {
  TOKRL_CHECK_EQ(static_cast<int64_t>(leaves.size()), capacity_)
      << "SumTree::Assign leaf count";
  std::fill(nodes_.begin(), nodes_.end(), 0.0);
  for (int64_t i = 0; i < capacity_; ++i) {
    CheckPriority(leaves[static_cast<size_t>(i)]);
    nodes_[static_cast<size_t>(leaf_offset_ + i)] =
        leaves[static_cast<size_t>(i)];
  }
  // Same additions (node = left + right) as Set performs, so the result is
  // bit-identical to building the tree leaf by leaf.
  for (int64_t node = leaf_offset_ - 1; node >= 1; --node) {
    nodes_[static_cast<size_t>(node)] =
        nodes_[static_cast<size_t>(2 * node)] +
        nodes_[static_cast<size_t>(2 * node + 1)];
  }
  CheckPriority(max_recorded);
  max_ = max_recorded;
}

void SumTree::Clear() {
  std::fill(nodes_.begin(), nodes_.end(), 0.0);
  max_ = 0.0;
}

}  // namespace tokrl
