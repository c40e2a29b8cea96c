// The dueling combination's loops (heads.h: DuelingCombine and
// DuelingParams), free of LibTorch so that their .cc builds with the loops'
// flags (core/cpu_clones.h: AVX2 and AVX-512 clones; in heads.cc they ran
// 4 floats wide). Elementwise over columns, so every clone and any split of
// the columns gives the same bits.
//
// One member's value v [len] and advantage rows adv [a, len] (row r at
// advantage + r * stride), and outputs laid out as the advantage:
//   mean = (adv_0 + ... + adv_{a-1}) / a   (a sum in action order),
//   out_r = (v + adv_r) - mean             (as the tensor ops round it);
// backward, from grad_out laid out as the advantage:
//   grad_v = g_0 + ... + g_{a-1},  grad_adv_r = g_r - grad_v / a.
#ifndef TOKRL_NN_DUELING_KERNEL_H_
#define TOKRL_NN_DUELING_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

void DuelingForward(const float* value, const float* advantage, int64_t a,
                    int64_t stride, int64_t len, float* out);

void DuelingBackward(const float* grad_out, int64_t a, int64_t stride,
                     int64_t len, float* grad_value, float* grad_advantage);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_DUELING_KERNEL_H_
