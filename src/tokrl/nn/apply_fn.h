// ApplyFn<Fn>(args...): a custom autograd function (Fn :
// torch::autograd::Function<Fn>) applied as Fn::apply does when it records
// a node (grad mode on and a tensor argument requiring a gradient), and
// otherwise as its forward alone, on a context of its own: the same
// outputs, without the node that Fn::apply builds and drops even then (an
// allocation, input metadata, output wrapping: a few microseconds per
// call, which acting's and the target network's forwards pay on every
// custom kernel they run).
#ifndef TOKRL_NN_APPLY_FN_H_
#define TOKRL_NN_APPLY_FN_H_

#include <ATen/core/Tensor.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>

namespace tokrl::nn {
namespace apply_fn_internal {

inline bool NeedsGrad(const at::Tensor& t) {
  return t.defined() && t.requires_grad();
}
template <class T>
bool NeedsGrad(const T& /*not a tensor*/) {
  return false;
}

}  // namespace apply_fn_internal

template <class Fn, class... Args>
auto ApplyFn(Args&&... args) {
  if (c10::GradMode::is_enabled() &&
      (apply_fn_internal::NeedsGrad(args) || ...)) {
    return Fn::apply(std::forward<Args>(args)...);
  }
  torch::autograd::AutogradContext ctx;
  c10::AutoGradMode no_grad(false);  // as inside Fn::apply
  return Fn::forward(&ctx, std::forward<Args>(args)...);
}

}  // namespace tokrl::nn

#endif  // TOKRL_NN_APPLY_FN_H_
