#include "tokrl/env/ale/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tokrl/core/check.h"

namespace tokrl::ale {
namespace {

// One axis of the area resize: for each output index, the source indices it
// covers and their weights (overlap / scale, summing to 1).
struct Tap {
  int index;
  double weight;
};

std::vector<std::vector<Tap>> AreaTaps(int src, int dst) {
  const double scale = static_cast<double>(src) / dst;
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(dst));
  for (int o = 0; o < dst; ++o) {
    const double begin = o * scale, end = (o + 1) * scale;
    for (int s = static_cast<int>(std::floor(begin));
         s < std::min(src, static_cast<int>(std::ceil(end))); ++s) {
      const double overlap =
          std::min<double>(s + 1, end) - std::max<double>(s, begin);
      if (overlap > 1e-12) {
        taps[static_cast<size_t>(o)].push_back({s, overlap / scale});
      }
    }
  }
  return taps;
}

}  // namespace

void MaxPool(std::span<const uint8_t> a, std::span<const uint8_t> b,
             std::span<uint8_t> out) {
  TOKRL_CHECK(a.size() == b.size() && a.size() == out.size())
      << "MaxPool: sizes " << a.size() << ", " << b.size() << ", "
      << out.size();
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::max(a[i], b[i]);
}

void ResizeArea(std::span<const uint8_t> src, int src_h, int src_w,
                std::span<uint8_t> dst, int dst_h, int dst_w) {
  TOKRL_CHECK(src_h > 0 && src_w > 0 && dst_h > 0 && dst_w > 0 &&
              dst_h <= src_h && dst_w <= src_w)
      << "ResizeArea: cannot resize " << src_h << "x" << src_w << " to "
      << dst_h << "x" << dst_w << " (a reduction is needed)";
  TOKRL_CHECK(src.size() == static_cast<size_t>(src_h) * src_w &&
              dst.size() == static_cast<size_t>(dst_h) * dst_w)
      << "ResizeArea: buffer sizes do not match the shapes";
  const auto rows = AreaTaps(src_h, dst_h);
  const auto cols = AreaTaps(src_w, dst_w);
  std::vector<double> row_sums(static_cast<size_t>(dst_w));
  for (int y = 0; y < dst_h; ++y) {
    std::fill(row_sums.begin(), row_sums.end(), 0.0);
    for (const Tap& ty : rows[static_cast<size_t>(y)]) {
      const uint8_t* line = src.data() + static_cast<size_t>(ty.index) * src_w;
      for (int x = 0; x < dst_w; ++x) {
        double acc = 0.0;
        for (const Tap& tx : cols[static_cast<size_t>(x)]) {
          acc += tx.weight * line[tx.index];
        }
        row_sums[static_cast<size_t>(x)] += ty.weight * acc;
      }
    }
    for (int x = 0; x < dst_w; ++x) {
      const double v = std::nearbyint(row_sums[static_cast<size_t>(x)]);
      dst[static_cast<size_t>(y) * dst_w + x] =
          static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  }
}

}  // namespace tokrl::ale
