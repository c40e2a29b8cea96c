#include "tokrl/env/ale/preprocess.h"

#include <gtest/gtest.h>

#include <vector>

#include "tokrl/core/check.h"

namespace tokrl::ale {
namespace {

TEST(AlePreprocess, MaxPoolTakesTheBrighterPixel) {
  const std::vector<uint8_t> a = {0, 200, 7, 255};
  const std::vector<uint8_t> b = {3, 100, 7, 0};
  std::vector<uint8_t> out(4);
  MaxPool(a, b, out);
  EXPECT_EQ(out, (std::vector<uint8_t>{3, 200, 7, 255}));
  std::vector<uint8_t> short_out(3);
  EXPECT_THROW(MaxPool(a, b, short_out), Error);
}

TEST(AlePreprocess, ResizeByAnIntegerFactorAveragesBlocks) {
  const std::vector<uint8_t> src = {0, 2,  4,   6,    //
                                    8, 10, 12,  14,   //
                                    1, 1,  100, 100,  //
                                    1, 2,  100, 101};
  std::vector<uint8_t> dst(4);
  ResizeArea(src, 4, 4, dst, 2, 2);
  // (0+2+8+10)/4 = 5, (4+6+12+14)/4 = 9, (1+1+1+2)/4 = 1.25 -> 1,
  // (100+100+100+101)/4 = 100.25 -> 100.
  EXPECT_EQ(dst, (std::vector<uint8_t>{5, 9, 1, 100}));
}

TEST(AlePreprocess, ResizeByAFractionalFactorWeighsByOverlap) {
  // 1x5 -> 1x2, scale 2.5: out0 = (x0 + x1 + 0.5 x2) / 2.5,
  // out1 = (0.5 x2 + x3 + x4) / 2.5.
  const std::vector<uint8_t> src = {10, 20, 31, 40, 50};
  std::vector<uint8_t> dst(2);
  ResizeArea(src, 1, 5, dst, 1, 2);
  EXPECT_EQ(dst[0], 18);  // 45.5 / 2.5 = 18.2
  EXPECT_EQ(dst[1], 42);  // 105.5 / 2.5 = 42.2
  // Ties round to even: (1 + 2) / 2 = 1.5 -> 2, (2 + 3) / 2 = 2.5 -> 2.
  const std::vector<uint8_t> ties = {1, 2, 2, 3};
  ResizeArea(ties, 1, 4, dst, 1, 2);
  EXPECT_EQ(dst, (std::vector<uint8_t>{2, 2}));
}

TEST(AlePreprocess, AtariFrameTo84KeepsConstantsAndMeans) {
  // 210x160 -> 84x84, Dopamine's shapes: a constant frame stays constant,
  // and a vertical ramp keeps its row means.
  std::vector<uint8_t> frame(210 * 160, 77), out(84 * 84);
  ResizeArea(frame, 210, 160, out, 84, 84);
  for (uint8_t v : out) ASSERT_EQ(v, 77);
  for (int y = 0; y < 210; ++y) {
    for (int x = 0; x < 160; ++x) frame[y * 160 + x] = static_cast<uint8_t>(y);
  }
  ResizeArea(frame, 210, 160, out, 84, 84);
  // Output row 0 covers source rows [0, 2.5): (0 + 1 + 0.5 * 2) / 2.5 = 0.8.
  EXPECT_EQ(out[0], 1);
  // Output row 83 covers [207.5, 210): (0.5 * 207 + 208 + 209) / 2.5 = 208.2.
  EXPECT_EQ(out[83 * 84 + 40], 208);
}

TEST(AlePreprocess, ResizeRejectsBadShapes) {
  std::vector<uint8_t> src(16), dst(25);
  EXPECT_THROW(ResizeArea(src, 4, 4, dst, 5, 5), Error);  // an enlargement
  std::vector<uint8_t> small(3);
  EXPECT_THROW(ResizeArea(src, 4, 4, small, 2, 2), Error);
}

}  // namespace
}  // namespace tokrl::ale
