// Weight initializers that reproduce Flax / Dopamine defaults in LibTorch.
//
// LibTorch's defaults (kaiming-uniform with a = sqrt(5)) differ from Flax's.
// The reference code (google/dopamine, labs/moes; paper.md 2.2, 2.6) uses:
//   * xavier_uniform for the encoders' first convs, the dense layers and the
//     experts' kernels: U(-l, l), l = sqrt(6 / (fan_in + fan_out));
//   * Flax's default lecun_normal for the Impala residual convs, the PerPatch
//     embedding conv and the SoftMoE slot parameters Phi: a normal truncated
//     at +-2 standard deviations, rescaled so the variance is 1 / fan_in
//     (std = sqrt(1 / fan_in) / 0.87962566103423978);
//   * zeros for every bias.
//
// The fans are passed explicitly because the torch helpers infer them from the
// tensor layout, which is wrong for our batched [experts, in, out] weights and
// for Phi [d, experts, slots] (Flax: fan_in = experts * d, paper.md 2.6).
//
// All functions write in place under a NoGradGuard and return the tensor.
#ifndef TOKRL_NN_INIT_H_
#define TOKRL_NN_INIT_H_

#include <ATen/Tensor.h>

#include <cstdint>

namespace tokrl::nn {

// Fills `t` with N(0, std^2) truncated to [-2 std, 2 std] (inverse-CDF
// sampling, as torch.nn.init.trunc_normal_ does).
at::Tensor TruncatedNormal_(at::Tensor t, double std);

// Flax lecun_normal: TruncatedNormal_ with std = sqrt(1/fan_in) / 0.8796...,
// so that the variance after truncation is 1 / fan_in.
at::Tensor LecunNormal_(at::Tensor t, int64_t fan_in);

// Glorot/Xavier uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
at::Tensor XavierUniform_(at::Tensor t, int64_t fan_in, int64_t fan_out);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_INIT_H_
