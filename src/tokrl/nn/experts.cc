#include "tokrl/nn/experts.h"

#include <torch/torch.h>

#include "tokrl/core/check.h"
#include "tokrl/nn/init.h"

namespace tokrl::nn {

ExpertsImpl::ExpertsImpl(const ExpertsOptions& options_) : options(options_) {
  reset();
}

void ExpertsImpl::reset() {
  const int64_t n = options.num_experts();
  const int64_t d = options.token_dim();
  const int64_t h = options.hidden();
  TOKRL_CHECK(n > 0 && d > 0 && h > 0)
      << "bad experts shape n=" << n << " d=" << d << " H=" << h;
  w1 = register_parameter("w1", torch::empty({n, d, h}));
  b1 = register_parameter("b1", torch::zeros({n, h}));
  w2 = register_parameter("w2", torch::empty({n, h, d}));
  b2 = register_parameter("b2", torch::zeros({n, d}));
  // Each [d, H] slice is one Flax Dense kernel: the bound only depends on the
  // per-expert fans, so one uniform_ over the whole tensor is the same.
  XavierUniform_(w1, d, h);
  XavierUniform_(w2, h, d);
}

void ExpertsImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::Experts(n=" << options.num_experts()
         << ", d=" << options.token_dim() << ", hidden=" << options.hidden()
         << ")";
}

at::Tensor ExpertsImpl::forward(const at::Tensor& x) {
  return torch::baddbmm(b2.unsqueeze(1), hidden(x), w2);
}

at::Tensor ExpertsImpl::hidden(const at::Tensor& x) {
  TOKRL_CHECK(x.dim() == 3 && x.size(0) == options.num_experts() &&
              x.size(2) == options.token_dim())
      << "expected expert input [n, T, d], got " << x.sizes();
  // In place: baddbmm's backward does not need its output, and ReLU's needs
  // only its own; this saves one [n, T, H] buffer, the largest in the layer.
  return torch::baddbmm(b1.unsqueeze(1), x, w1).relu_();
}

int64_t ExpertParameterCount(int64_t num_experts, int64_t token_dim,
                             int64_t hidden) {
  return num_experts * (2 * token_dim * hidden + hidden + token_dim);
}

namespace {

// slots [B, np, d] = D^T X per sample, for D [B, m, np] and X [B, m, d].
// Why by hand: autograd's bmm backward yields D's gradient as the transpose
// of G X^T, a strided view that the routing backward then copies into D's
// layout (a transposition of every sample's m x np gradient: ~3% of a
// packed K=16 SoftMoE-4 update); X G^T computes it in D's layout directly.
struct DispatchMatmul : torch::autograd::Function<DispatchMatmul> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& dispatch,
      const at::Tensor& tokens) {
    ctx->save_for_backward({dispatch, tokens});
    return {torch::bmm(dispatch.transpose(1, 2), tokens)};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = grads[0];  // [B, np, d]
    at::Tensor grad_dispatch, grad_tokens;
    if (ctx->needs_input_grad(0))
      grad_dispatch = torch::bmm(saved[1], g.transpose(1, 2));  // [B, m, np]
    if (ctx->needs_input_grad(1))
      grad_tokens = torch::bmm(saved[0], g);  // [B, m, d]
    return {grad_dispatch, grad_tokens};
  }
};

}  // namespace

at::Tensor DispatchTokens(const at::Tensor& tokens,
                          const at::Tensor& dispatch) {
  const int64_t b = dispatch.size(0);
  const int64_t m = dispatch.size(1);
  const int64_t n = dispatch.size(2);
  const int64_t p = dispatch.size(3);
  TOKRL_CHECK(tokens.dim() == 3 && tokens.size(0) == b && tokens.size(1) == m)
      << "tokens " << tokens.sizes() << " vs dispatch " << dispatch.sizes();
  // [B, m, n*p]^T @ [B, m, d] -> [B, n*p, d].
  return DispatchMatmul::apply(dispatch.reshape({b, m, n * p}), tokens)[0]
      .view({b, n, p, tokens.size(2)});
}

at::Tensor CombineSlots(const at::Tensor& combine,
                        const at::Tensor& slot_outputs) {
  const int64_t b = combine.size(0);
  const int64_t m = combine.size(1);
  const int64_t np = combine.size(2) * combine.size(3);
  // [B, m, n*p] @ [B, n*p, d] -> [B, m, d].
  return torch::bmm(combine.reshape({b, m, np}),
                    slot_outputs.reshape({b, np, slot_outputs.size(-1)}));
}

at::Tensor ApplyExperts(const at::Tensor& tokens, const at::Tensor& dispatch,
                        const at::Tensor& combine, ExpertsImpl& experts) {
  const at::Tensor slots = DispatchTokens(tokens, dispatch);  // [B, n, p, d]
  const int64_t b = slots.size(0);
  const int64_t n = slots.size(1);
  const int64_t p = slots.size(2);
  const int64_t d = slots.size(3);
  // Group by expert: [n, B*p, d], run, and ungroup to [B, n, p, d].
  const at::Tensor out =
      experts.forward(slots.permute({1, 0, 2, 3}).reshape({n, b * p, d}));
  return CombineSlots(combine, out.view({n, b, p, d}).permute({1, 0, 2, 3}));
}

}  // namespace tokrl::nn
