// Dopamine's Atari preprocessing as pure functions on uint8 frames (Dopamine
// AtariPreprocessing; paper.md 2.1): the max over the last two frames of a
// frame-skip step (it removes the flicker of sprites drawn every other
// frame), then an area-averaging resize to 84x84 (OpenCV's INTER_AREA,
// written here from its definition). Grayscale comes from ALE itself
// (getScreenGrayscale, the NTSC palette's luminance), as in Dopamine.
#ifndef TOKRL_ENV_ALE_PREPROCESS_H_
#define TOKRL_ENV_ALE_PREPROCESS_H_

#include <cstdint>
#include <span>

namespace tokrl::ale {

// out[i] = max(a[i], b[i]); the three spans have the same size (out may be
// a or b).
void MaxPool(std::span<const uint8_t> a, std::span<const uint8_t> b,
             std::span<uint8_t> out);

// Area-averaging resize of a row-major [src_h, src_w] image to [dst_h,
// dst_w] (a reduction: dst no larger than src). Output pixel (y, x) is the
// mean of the source over the rectangle [y*sy, (y+1)*sy) x [x*sx, (x+1)*sx)
// (sy = src_h / dst_h, sx = src_w / dst_w), each source pixel weighted by
// the area it shares with it, rounded to the nearest integer (ties to
// even). Throws tokrl::Error on bad sizes.
void ResizeArea(std::span<const uint8_t> src, int src_h, int src_w,
                std::span<uint8_t> dst, int dst_h, int dst_w);

}  // namespace tokrl::ale

#endif  // TOKRL_ENV_ALE_PREPROCESS_H_
