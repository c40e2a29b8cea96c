// Dense layers' y = x W^T + b with the products of a few rows that need no
// gradient (acting on one env's observation per run, evaluation) and of
// narrow layers through the small-matrix kernel (small_gemm_kernel.h)
// instead of a BLAS GEMM, and on CPUs with FMA (every AVX2 one) the larger
// ones too, with gradients.
//
// Contract
//   * LinearForward(x [B, in], weight [out, in], bias [out]) -> [B, out]
//     equals torch::linear(x, weight, bias) within float rounding (the sums
//     run in another order); so does SmallLinear, for 2-d operands and for
//     each member k of x [K, R, in], weight [K, out, in], bias [K, out] ->
//     [K, R, out] (a packed network's layers, packed_q_network.h).
//   * The kernel takes the operands when SmallLinearApplies: the fast paths
//     apply to all three (fast_paths.h), R <= kSmallLinearRows, in is a
//     multiple of 8, the shapes agree, and no gradient is recorded (grad
//     mode off, or no operand requires one). Otherwise, where the kernel's
//     loops fuse multiply-adds (internal::SmallGemmFuses), x has more
//     than kSmallLinearRows rows and the layer at least kKernelLinearMinOut
//     outputs, LinearForward runs the kernel as an autograd function
//     (gradients of x, weight and bias equal torch::linear's within float
//     rounding), and PackedLinearForward the same per member. Else, for a
//     layer of fewer than kKernelLinearMinOut outputs under the same
//     conditions as SmallLinearApplies but any R and with gradients (on
//     any CPU), the kernel as an autograd function too. Else they are
//     torch::linear and torch::baddbmm.
//   * In the kernel, the results (outputs and gradients) do not depend on
//     the number of threads (OpenBLAS's do: see linear.cc), and the output
//     is a contiguous tensor of its own, recorded as one autograd node.
#ifndef TOKRL_NN_LINEAR_H_
#define TOKRL_NN_LINEAR_H_

#include <cstdint>

namespace at {
class Tensor;
}  // namespace at

namespace tokrl::nn {

/// The most rows (per member) the kernel's dot-product form (SmallLinear)
/// computes.
inline constexpr int64_t kSmallLinearRows = 8;
/// The fewest outputs of a layer that LinearForward gives the kernel's
/// blocked form (with FMA); narrower ones take the dot-product form.
inline constexpr int64_t kKernelLinearMinOut = 32;

at::Tensor LinearForward(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias);

/// Whether SmallLinear takes x [K, R, in], weight [K, out, in], bias [K, out]
/// (a packed network's layers), or x [R, in], weight [out, in], bias [out].
bool SmallLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                        const at::Tensor& bias);

/// Requires SmallLinearApplies(x, weight, bias).
at::Tensor SmallLinear(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias);

/// A packed network's K dense layers, x [K, R, in], weight [K, out, in],
/// bias [K, out] -> [K, R, out]: SmallLinear where it applies, else the
/// kernel as an autograd function under LinearForward's conditions, else
/// torch::baddbmm (a transposed view); differentiable.
at::Tensor PackedLinearForward(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias);

/// relu of LinearForward (weight [out, in]) or of PackedLinearForward
/// (weight [K, out, in]), with the same values and gradients; where the
/// kernel's blocked form takes the layer (with gradients: see above), the
/// ReLU runs inside its autograd node (its pass over the output, and its
/// backward's mask of the gradient), and where SmallLinear's rows do, in
/// the kernel's pass adding the bias.
at::Tensor LinearReluForward(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& bias);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_LINEAR_H_
