#include "tokrl/agents/frame_stacker.h"

#include <gtest/gtest.h>

#include <vector>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

std::vector<uint8_t> Frame(uint8_t v) {
  return {v, static_cast<uint8_t>(v + 1)};
}

TEST(FrameStacker, OldestFirstAndZerosBeforeTheEpisode) {
  FrameStacker s(2, /*frame_size=*/2, /*stack=*/3);
  s.ResetAll(std::vector<uint8_t>{10, 11, 20, 21});
  EXPECT_EQ(std::vector<uint8_t>(s.stacked().begin(), s.stacked().end()),
            (std::vector<uint8_t>{0, 0, 0, 0, 10, 11,  //
                                  0, 0, 0, 0, 20, 21}));
  // Env 0 continues, env 1's episode ended: its stack restarts.
  s.Step(std::vector<uint8_t>{12, 13, 30, 31}, std::vector<uint8_t>{0, 1});
  EXPECT_EQ(std::vector<uint8_t>(s.stacked().begin(), s.stacked().end()),
            (std::vector<uint8_t>{0, 0, 10, 11, 12, 13,  //
                                  0, 0, 0, 0, 30, 31}));
  s.Push(0, Frame(14));
  s.Push(0, Frame(16));
  EXPECT_EQ(std::vector<uint8_t>(s.stacked().begin(), s.stacked().begin() + 6),
            (std::vector<uint8_t>{12, 13, 14, 15, 16, 17}));
}

TEST(FrameStacker, SaveLoadRoundTripsAndChecksTheShape) {
  FrameStacker a(2, 2, 3);
  a.ResetAll(std::vector<uint8_t>{1, 2, 3, 4});
  a.Push(1, Frame(9));
  FrameStacker b(2, 2, 3);
  b.Load(a.Save());
  EXPECT_TRUE(std::equal(a.stacked().begin(), a.stacked().end(),
                         b.stacked().begin(), b.stacked().end()));
  FrameStacker other(2, 2, 4);
  EXPECT_THROW(other.Load(a.Save()), Error);
  EXPECT_THROW(b.Load(a.Save().substr(0, 10)), Error);
}

TEST(FrameStacker, StackOfOneIsTheFrame) {
  FrameStacker s(1, 2, 1);
  s.ResetAll(Frame(5));
  s.Push(0, Frame(7));
  EXPECT_EQ(std::vector<uint8_t>(s.stacked().begin(), s.stacked().end()),
            Frame(7));
}

}  // namespace
}  // namespace tokrl
