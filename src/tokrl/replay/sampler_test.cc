#include "tokrl/replay/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"

namespace tokrl {
namespace {

TEST(UniformSampler, SamplesOnlyMembersAndUniformly) {
  UniformSampler sampler(100);
  Rng rng(1);
  std::set<int64_t> members;
  for (int op = 0; op < 2000; ++op) {
    const int64_t slot = rng.UniformInt(100);
    if (sampler.Contains(slot)) {
      sampler.Remove(slot);
      members.erase(slot);
    } else {
      sampler.Add(slot);
      members.insert(slot);
    }
    ASSERT_EQ(sampler.size(), static_cast<int64_t>(members.size()));
  }
  ASSERT_GT(sampler.size(), 10);
  std::vector<int64_t> slots;
  std::vector<double> probs;
  std::vector<int> counts(100, 0);
  const int draws = 100'000;
  for (int d = 0; d < draws / 50; ++d) {
    sampler.Sample(50, rng, &slots, &probs);
    for (size_t i = 0; i < slots.size(); ++i) {
      ASSERT_TRUE(members.count(slots[i])) << slots[i];
      ASSERT_DOUBLE_EQ(probs[i], 1.0 / sampler.size());
      ++counts[static_cast<size_t>(slots[i])];
    }
  }
  const double expected = static_cast<double>(draws) / sampler.size();
  for (int64_t m : members) {
    EXPECT_NEAR(counts[static_cast<size_t>(m)], expected,
                6 * std::sqrt(expected));
  }
  sampler.Remove(members.empty() ? 0 : *members.begin());  // idempotent
  EXPECT_THROW(sampler.Add(100), Error);
}

TEST(PrioritizedSampler, StoresPowersAndGivesNewSlotsTheMaxPriority) {
  PrioritizedSampler sampler(8, /*alpha=*/0.5, /*eps=*/0.0);
  sampler.Add(0);
  EXPECT_EQ(sampler.tree().Get(0), 1.0);  // max recorded starts at 1
  sampler.Update(0, 16.0);
  EXPECT_EQ(sampler.tree().Get(0), 4.0);  // 16^0.5
  sampler.Add(3);
  EXPECT_EQ(sampler.tree().Get(3), 4.0);  // max so far
  sampler.Update(0, 0.25);
  sampler.Add(5);
  EXPECT_EQ(sampler.tree().Get(5), 4.0);  // the max never decreases
  EXPECT_EQ(sampler.size(), 3);
  sampler.Remove(3);
  EXPECT_EQ(sampler.tree().Get(3), 0.0);
  sampler.Update(3, 100.0);  // absent: ignored
  EXPECT_EQ(sampler.tree().Get(3), 0.0);
  EXPECT_EQ(sampler.size(), 2);
  EXPECT_THROW(sampler.Update(0, -1.0), Error);
  EXPECT_THROW(sampler.Update(0, std::nan("")), Error);

  std::vector<int64_t> slots;
  std::vector<double> probs;
  Rng rng(2);
  sampler.Sample(64, rng, &slots, &probs);
  for (size_t i = 0; i < slots.size(); ++i) {
    ASSERT_TRUE(slots[i] == 0 || slots[i] == 5);
    EXPECT_DOUBLE_EQ(probs[i], sampler.tree().Get(slots[i]) / 4.5);
  }
  PrioritizedSampler with_eps(4, 1.0, 0.5);
  with_eps.Add(1);
  with_eps.Update(1, 0.0);
  EXPECT_EQ(with_eps.tree().Get(1), 0.5);  // (0 + eps)^alpha
}

}  // namespace
}  // namespace tokrl
