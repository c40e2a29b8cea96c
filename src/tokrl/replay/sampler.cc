#include "tokrl/replay/sampler.h"

#include <algorithm>
#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl {

namespace {

void CheckSlot(int64_t slot, int64_t capacity) {
  TOKRL_CHECK(slot >= 0 && slot < capacity)
      << "replay slot " << slot << " out of range [0, " << capacity << ")";
}

}  // namespace

// ---- UniformSampler ---------------------------------------------------------

UniformSampler::UniformSampler(int64_t capacity) : capacity_(capacity) {
  TOKRL_CHECK(capacity >= 1 && capacity <= INT32_MAX)
      << "UniformSampler capacity " << capacity;
  position_.assign(static_cast<size_t>(capacity), -1);
  dense_.reserve(static_cast<size_t>(capacity));
}

void UniformSampler::Add(int64_t slot) {
  CheckSlot(slot, capacity_);
  TOKRL_CHECK(!Contains(slot)) << "slot " << slot << " added twice";
  position_[static_cast<size_t>(slot)] = static_cast<int64_t>(dense_.size());
  dense_.push_back(slot);
}

void UniformSampler::Remove(int64_t slot) {
  CheckSlot(slot, capacity_);
  const int64_t pos = position_[static_cast<size_t>(slot)];
  if (pos < 0) return;
  // Swap-remove keeps the set dense so a draw is one uniform index.
  const int64_t last = dense_.back();
  dense_[static_cast<size_t>(pos)] = last;
  position_[static_cast<size_t>(last)] = pos;
  dense_.pop_back();
  position_[static_cast<size_t>(slot)] = -1;
}

void UniformSampler::Sample(int64_t n, Rng& rng, std::vector<int64_t>* slots,
                            std::vector<double>* probabilities) const {
  TOKRL_CHECK_GE(n, 1) << "batch size";
  TOKRL_CHECK_GT(size(), 0) << "sampling from an empty replay";
  slots->resize(static_cast<size_t>(n));
  probabilities->assign(static_cast<size_t>(n),
                        1.0 / static_cast<double>(size()));
  const auto count = static_cast<uint32_t>(size());
  for (auto& slot : *slots) slot = dense_[rng.UniformInt(count)];
}

void UniformSampler::Clear() {
  dense_.clear();
  std::fill(position_.begin(), position_.end(), -1);
}

void UniformSampler::Save(ReplayFileWriter& out) const {
  out.WriteArray(dense_);
}

void UniformSampler::Load(ReplayFileReader& in) {
  // The order of dense_ matters (it maps draws to slots), so it is stored;
  // the position map is rebuilt from it.
  in.ReadArray(&dense_, -1, capacity_, "uniform_sampler.slots");
  std::fill(position_.begin(), position_.end(), -1);
  for (size_t i = 0; i < dense_.size(); ++i) {
    const int64_t slot = dense_[i];
    if (slot < 0 || slot >= capacity_ ||
        position_[static_cast<size_t>(slot)] >= 0) {
      in.Fail("uniform sampler slot list is invalid");
    }
    position_[static_cast<size_t>(slot)] = static_cast<int64_t>(i);
  }
}

// ---- PrioritizedSampler -----------------------------------------------------

PrioritizedSampler::PrioritizedSampler(int64_t capacity, double alpha,
                                       double eps)
    : alpha_(alpha), eps_(eps), tree_(capacity) {
  TOKRL_CHECK(capacity >= 1 && capacity <= INT32_MAX)
      << "PrioritizedSampler capacity " << capacity;
  TOKRL_CHECK(std::isfinite(alpha) && alpha >= 0.0)
      << "prioritized replay alpha must be >= 0, got " << alpha;
  TOKRL_CHECK(std::isfinite(eps) && eps >= 0.0)
      << "prioritized replay eps must be >= 0, got " << eps;
  present_.assign(static_cast<size_t>(capacity), 0);
}

double PrioritizedSampler::TreePriority(double priority) const {
  TOKRL_CHECK(std::isfinite(priority) && priority >= 0.0)
      << "replay priorities must be finite and >= 0, got " << priority;
  return std::pow(priority + eps_, alpha_);
}

double PrioritizedSampler::max_priority() const {
  return std::max(1.0, tree_.Max());
}

void PrioritizedSampler::Add(int64_t slot) {
  CheckSlot(slot, capacity());
  TOKRL_CHECK(!Contains(slot)) << "slot " << slot << " added twice";
  present_[static_cast<size_t>(slot)] = 1;
  ++size_;
  tree_.Set(slot, max_priority());
}

void PrioritizedSampler::Remove(int64_t slot) {
  CheckSlot(slot, capacity());
  if (!Contains(slot)) return;
  present_[static_cast<size_t>(slot)] = 0;
  --size_;
  tree_.Set(slot, 0.0);
}

void PrioritizedSampler::Update(int64_t slot, double priority) {
  CheckSlot(slot, capacity());
  const double q = TreePriority(priority);  // validates even when absent
  if (!Contains(slot)) return;
  tree_.Set(slot, q);
}

void PrioritizedSampler::Sample(int64_t n, Rng& rng,
                                std::vector<int64_t>* slots,
                                std::vector<double>* probabilities) const {
  TOKRL_CHECK_GE(n, 1) << "batch size";
  TOKRL_CHECK_GT(size(), 0) << "sampling from an empty replay";
  TOKRL_CHECK_GT(tree_.Total(), 0.0)
      << "every sampleable transition has priority 0";
  tree_.SampleStratified(n, rng, slots);
  probabilities->resize(static_cast<size_t>(n));
  const double total = tree_.Total();
  for (size_t k = 0; k < slots->size(); ++k) {
    (*probabilities)[k] = tree_.Get((*slots)[k]) / total;
  }
}

void PrioritizedSampler::Clear() {
  tree_.Clear();
  std::fill(present_.begin(), present_.end(), 0);
  size_ = 0;
}

void PrioritizedSampler::Save(ReplayFileWriter& out) const {
  out.WriteArray(present_);
  out.WriteArray(tree_.leaves());
  out.Write(tree_.Max());
}

void PrioritizedSampler::Load(ReplayFileReader& in) {
  in.ReadArray(&present_, capacity(), "prioritized_sampler.present");
  std::vector<double> leaves;
  in.ReadArray(&leaves, capacity(), "prioritized_sampler.priorities");
  const auto max_recorded = in.Read<double>("prioritized_sampler.max");
  size_ = 0;
  for (size_t i = 0; i < present_.size(); ++i) {
    const double q = leaves[i];
    if (!std::isfinite(q) || q < 0.0 || (present_[i] == 0 && q != 0.0)) {
      in.Fail("prioritized sampler priorities are invalid");
    }
    size_ += present_[i] != 0;
  }
  if (!std::isfinite(max_recorded) || max_recorded < 0.0) {
    in.Fail("prioritized sampler max priority is invalid");
  }
  tree_.Assign(leaves, max_recorded);
}

}  // namespace tokrl
