#include "tokrl/nn/heads.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/baselines.h"
#include "tokrl/nn/dueling_kernel.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/noisy_linear.h"
#include "tokrl/nn/routing_kernel.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<HeadType>, 3> kHeadNames = {{
    {"linear", HeadType::kLinear},
    {"c51", HeadType::kC51},
    {"distributional", HeadType::kC51},
}};

// x.index_select(0, order), or with `scatter` the rows put back:
// at::empty_like(x).index_copy_(0, order, x). Why: for contiguous float CPU
// matrices these are row copies, which ATen's index_copy_ made per element
// (a 1600-wide SoftMoE head's input gradient at the taken actions, [32,
// 1600]): as copies, bench_nn's BM_LinearAtGroups (that layer forward and
// backward) went from 216-265 to 186-205 us; 14 LibTorch ops fewer per
// Rainbow-lite SoftMoE-4 update, 21 per DER one.
at::Tensor PermuteRows(const at::Tensor& x, const at::Tensor& order,
                       bool scatter) {
  if (!FastPathApplies(x) || x.dim() != 2 || !x.is_contiguous() ||
      !order.is_cpu() || order.scalar_type() != torch::kLong ||
      order.numel() != x.size(0)) {
    return scatter ? at::empty_like(x).index_copy_(0, order, x)
                   : x.index_select(0, order);
  }
  at::Tensor out = at::empty_like(x);
  const int64_t width = x.size(1);
  const int64_t* op = order.data_ptr<int64_t>();
  const float* xp = x.data_ptr<float>();
  float* yp = out.data_ptr<float>();
  for (int64_t i = 0; i < x.size(0); ++i) {
    const float* src = xp + (scatter ? i : op[i]) * width;
    std::copy(src, src + width, yp + (scatter ? op[i] : i) * width);
  }
  return out;
}

// LinearAtGroups (heads.h) as an autograd function. Why: a C51 update needs
// the online head at the taken actions alone, and the full layer is a sixth
// of a MinAtar SoftMoE-4 Rainbow-lite update (1600 -> 6 x 51). The rows are
// grouped (a counting sort on the host) so that each group is one GEMM with
// its block of W, forward and backward; W's rows of absent groups get a
// zero gradient, as in the full layer.
//
// The products run in small_gemm_kernel.h's loops where they apply: a group
// is a few rows against a 326 KB block of W, which OpenBLAS would pack for
// every product (forward and backward of MinAtar SoftMoE-4's layer at
// the taken actions: 0.52-0.55 against 1.06-1.09 ms, bench_nn
// BM_LinearAtGroups).
struct GroupedLinear : torch::autograd::Function<GroupedLinear> {
  // Float CPU rows, contiguous, whole vectors of 8 wide.
  static bool UseKernel(const at::Tensor& zs, const at::Tensor& weight) {
    return FastPathApplies(zs) && FastPathApplies(weight) &&
           weight.size(1) % tokrl::internal::kSmallGemmLanes == 0 &&
           weight.is_contiguous() && zs.is_contiguous();
  }

  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& z,
      const at::Tensor& weight, const at::Tensor& bias,
      const at::Tensor& groups, int64_t atoms) {
    const int64_t b = z.size(0);
    const int64_t num_groups = weight.size(0) / atoms;
    const at::Tensor a = groups.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t* ap = a.data_ptr<int64_t>();
    std::vector<int64_t> offsets(static_cast<size_t>(num_groups) + 1, 0);
    for (int64_t i = 0; i < b; ++i) {
      TOKRL_CHECK(ap[i] >= 0 && ap[i] < num_groups)
          << "group " << ap[i] << " out of range [0, " << num_groups << ")";
      ++offsets[static_cast<size_t>(ap[i]) + 1];
    }
    for (int64_t i = 0; i < num_groups; ++i) offsets[i + 1] += offsets[i];
    at::Tensor order = at::empty({b}, a.options());
    {
      std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
      int64_t* op = order.data_ptr<int64_t>();
      for (int64_t i = 0; i < b; ++i) {
        op[next[static_cast<size_t>(ap[i])]++] = i;
      }
    }
    const at::Tensor zs = PermuteRows(z, order, false);  // grouped
    at::Tensor ys = at::empty({b, atoms}, z.options());
    const int64_t in = weight.size(1);
    if (UseKernel(zs, weight) && FastPathApplies(bias) &&
        bias.is_contiguous()) {
      // Pointers into the blocks: narrow() views cost a few LibTorch ops
      // per group (~70 per Rainbow-lite update, forward and backward).
      const float* zp = zs.data_ptr<float>();
      const float* wp = weight.data_ptr<float>();
      const float* bp = bias.data_ptr<float>();
      float* yp = ys.data_ptr<float>();
      for (int64_t g = 0; g < num_groups; ++g) {
        const int64_t start = offsets[g], count = offsets[g + 1] - start;
        if (count == 0) continue;
        float* out = yp + start * atoms;
        tokrl::internal::SmallGemmRowsByRows(zp + start * in, in, count,
                                             wp + g * atoms * in, in, atoms, in,
                                             out, atoms);
        for (int64_t r = 0; r < count; ++r) {
          for (int64_t j = 0; j < atoms; ++j) {
            out[r * atoms + j] += bp[g * atoms + j];
          }
        }
      }
    } else {
      for (int64_t g = 0; g < num_groups; ++g) {
        const int64_t start = offsets[g], count = offsets[g + 1] - start;
        if (count == 0) continue;
        at::Tensor out = ys.narrow(0, start, count);
        at::addmm_out(out, bias.narrow(0, g * atoms, atoms),
                      zs.narrow(0, start, count),
                      weight.narrow(0, g * atoms, atoms).t());
      }
    }
    ctx->save_for_backward({zs, weight, order});
    ctx->saved_data["offsets"] = offsets;
    return {PermuteRows(ys, order, true)};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& zs = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& order = saved[2];
    const std::vector<int64_t> offsets =
        ctx->saved_data["offsets"].toIntVector();
    const int64_t atoms = grads[0].size(1);
    const at::Tensor gs = PermuteRows(grads[0], order, false);
    at::Tensor dzs = at::empty_like(zs);
    at::Tensor dw = at::empty_like(weight);
    at::Tensor db = at::empty({weight.size(0)}, weight.options());
    const int64_t in = weight.size(1);
    if (UseKernel(zs, weight)) {  // gs: zs's type, contiguous
      const float* gp = gs.data_ptr<float>();
      const float* zp = zs.data_ptr<float>();
      const float* wp = weight.data_ptr<float>();
      float* dzp = dzs.data_ptr<float>();
      float* dwp = dw.data_ptr<float>();
      float* dbp = db.data_ptr<float>();
      for (size_t g = 0; g + 1 < offsets.size(); ++g) {
        const int64_t rows = static_cast<int64_t>(g) * atoms;
        const int64_t start = offsets[g], count = offsets[g + 1] - start;
        float* dw_a = dwp + rows * in;
        float* db_a = dbp + rows;
        if (count == 0) {
          std::fill(dw_a, dw_a + atoms * in, 0.0f);
          std::fill(db_a, db_a + atoms, 0.0f);
          continue;
        }
        const float* g_a = gp + start * atoms;
        tokrl::internal::SmallGemm(g_a, atoms, 1, count, atoms, wp + rows * in,
                                   in, in, dzp + start * in, in);
        tokrl::internal::SmallGemm(g_a, 1, atoms, atoms, count, zp + start * in,
                                   in, in, dw_a, in);
        // Row after row.
        std::copy(g_a, g_a + atoms, db_a);
        for (int64_t r = 1; r < count; ++r) {
          for (int64_t j = 0; j < atoms; ++j) db_a[j] += g_a[r * atoms + j];
        }
      }
    } else {
      for (size_t g = 0; g + 1 < offsets.size(); ++g) {
        const int64_t rows = static_cast<int64_t>(g) * atoms;
        const int64_t start = offsets[g], count = offsets[g + 1] - start;
        at::Tensor dw_a = dw.narrow(0, rows, atoms);
        at::Tensor db_a = db.narrow(0, rows, atoms);
        if (count == 0) {
          dw_a.zero_();
          db_a.zero_();
          continue;
        }
        const at::Tensor g_a = gs.narrow(0, start, count);
        at::Tensor dz_a = dzs.narrow(0, start, count);
        at::mm_out(dz_a, g_a, weight.narrow(0, rows, atoms));
        at::mm_out(dw_a, g_a.t(), zs.narrow(0, start, count));
        at::sum_out(db_a, g_a, {0});
      }
    }
    return {PermuteRows(dzs, order, true), dw, db, at::Tensor(), at::Tensor()};
  }
};

// DuelingCombine (heads.h) of value [K, X] and advantage [K, A, X] on CPU
// floats as one autograd node of one pass each way. Why: DuelingParams
// serves a dueling C51 head at the taken actions, which replaces A + 1 rows
// of products per sample by one, and as tensor ops (the mean, add and
// subtract, and their backward) it would be ~6 passes over a MinAtar
// advantage weight (6 x 51 x 1600 floats, 2 MB) per forward, much of what
// the products saved; and ATen's mean rounds by its CPU kernels. Forward: the
// mean as a sum in action order divided by A, then (value + advantage_a) -
// mean, as the tensor ops write it. Backward: d value = sum over a of g_a; d
// advantage_a = g_a - d value / A. Elementwise over X, so any split among
// threads gives the same bits. The loops are dueling_kernel.h's (built
// with AVX2 and AVX-512 clones; here they ran 4 floats wide).
struct DuelingFn : torch::autograd::Function<DuelingFn> {
  // Columns per parallel task.
  static constexpr int64_t kGrain = 8192;

  // fn(member m, first column c, len) over the columns of K members' [A, X]
  // rows, in parallel.
  template <class Fn>
  static void ForColumns(int64_t k, int64_t x, const Fn& fn) {
    at::parallel_for(0, k * x, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end;) {
        const int64_t len = std::min(end - i, x - i % x);
        fn(i / x, i % x, len);
        i += len;
      }
    });
  }

  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* /*ctx*/, const at::Tensor& value,
      const at::Tensor& advantage) {
    const int64_t k = advantage.size(0), a = advantage.size(1),
                  x = advantage.size(2);
    at::Tensor out = at::empty_like(advantage);
    const float* vp = value.data_ptr<float>();
    const float* ap = advantage.data_ptr<float>();
    float* op = out.data_ptr<float>();
    ForColumns(k, x, [&](int64_t m, int64_t c, int64_t len) {
      tokrl::internal::DuelingForward(vp + m * x + c, ap + m * a * x + c, a, x,
                                      len, op + m * a * x + c);
    });
    return {out};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* /*ctx*/,
      torch::autograd::variable_list grads) {
    const at::Tensor g = grads[0].contiguous();
    const int64_t k = g.size(0), a = g.size(1), x = g.size(2);
    at::Tensor dvalue = at::empty({k, x}, g.options());
    at::Tensor dadvantage = at::empty_like(g);
    const float* gp = g.data_ptr<float>();
    float* dvp = dvalue.data_ptr<float>();
    float* dap = dadvantage.data_ptr<float>();
    ForColumns(k, x, [&](int64_t m, int64_t c, int64_t len) {
      tokrl::internal::DuelingBackward(gp + m * a * x + c, a, x, len,
                                       dvp + m * x + c, dap + m * a * x + c);
    });
    return {dvalue, dadvantage};
  }
};

// A head layer's weight and bias as it applies them now.
std::pair<at::Tensor, at::Tensor> Params(torch::nn::AnyModule& layer) {
  if (auto* linear = layer.ptr()->as<torch::nn::LinearImpl>()) {
    return {linear->weight, linear->bias};
  }
  return layer.ptr()->as<NoisyLinearImpl>()->params();
}

// A head layer on z (LinearForward: acting's few-row products too).
at::Tensor ApplyLayer(torch::nn::AnyModule& layer, const at::Tensor& z) {
  const auto [weight, bias] = Params(layer);
  return LinearForward(z, weight, bias);
}

}  // namespace

at::Tensor DuelingParams(const at::Tensor& value, const at::Tensor& advantage) {
  TOKRL_CHECK(value.dim() == 2 && advantage.dim() == 3 &&
              value.size(0) == advantage.size(0) &&
              value.size(1) == advantage.size(2))
      << "DuelingParams: expected value [K, X] and advantage [K, A, X], got "
      << value.sizes() << " and " << advantage.sizes();
  return DuelingCombine(value.unsqueeze(1), advantage);
}

std::pair<at::Tensor, at::Tensor> DuelingLayer(
    const at::Tensor& value_weight, const at::Tensor& value_bias,
    const at::Tensor& advantage_weight, const at::Tensor& advantage_bias) {
  const int64_t n = value_bias.size(-1), f = value_weight.size(-1);
  const int64_t k = value_bias.numel() / n;
  const int64_t a = advantage_bias.size(-1) / n;
  TOKRL_CHECK(advantage_bias.size(-1) == a * n &&
              value_weight.numel() == k * n * f &&
              advantage_bias.numel() == k * a * n &&
              advantage_weight.numel() == k * a * n * f)
      << "DuelingLayer: value " << value_weight.sizes() << " / "
      << value_bias.sizes() << ", advantage " << advantage_weight.sizes()
      << " / " << advantage_bias.sizes();
  return {DuelingParams(value_weight.reshape({k, n * f}),
                        advantage_weight.reshape({k, a, n * f}))
              .view(advantage_weight.sizes()),
          DuelingParams(value_bias.reshape({k, n}),
                        advantage_bias.reshape({k, a, n}))
              .view(advantage_bias.sizes())};
}

at::Tensor LinearAtGroups(const at::Tensor& z, const at::Tensor& weight,
                          const at::Tensor& bias, const at::Tensor& groups,
                          int64_t n) {
  TOKRL_CHECK(z.dim() == 2 && weight.dim() == 2 && bias.dim() == 1 &&
              weight.size(1) == z.size(1) && n > 0 && weight.size(0) % n == 0 &&
              bias.size(0) == weight.size(0))
      << "LinearAtGroups: z " << z.sizes() << ", weight " << weight.sizes()
      << ", bias " << bias.sizes() << ", n " << n;
  TOKRL_CHECK(groups.dim() == 1 && groups.size(0) == z.size(0))
      << "LinearAtGroups: expected groups [" << z.size(0) << "], got "
      << groups.sizes();
  return ApplyFn<GroupedLinear>(z, weight, bias, groups, n)[0];
}

TakenOutput AtActions(const at::Tensor& q, const at::Tensor& logits,
                      const at::Tensor& actions) {
  const at::Tensor index =
      actions.to((q.defined() ? q : logits).device(), torch::kLong);
  TakenOutput result;
  if (q.defined()) result.q = q.gather(1, index.unsqueeze(1)).squeeze(1);
  if (logits.defined()) {
    result.logits =
        logits.gather(1, index.view({-1, 1, 1}).expand({-1, 1, logits.size(2)}))
            .squeeze(1);
  }
  return result;
}

HeadType ParseHeadType(std::string_view name) {
  return ParseEnum<HeadType>("head", name, kHeadNames);
}
std::string_view ToString(HeadType type) {
  return EnumToName<HeadType>(type, kHeadNames);
}

at::Tensor C51Support(int64_t num_atoms, double v_min, double v_max,
                      const at::TensorOptions& options) {
  TOKRL_CHECK_GE(num_atoms, 2) << "C51 needs at least 2 atoms";
  TOKRL_CHECK_LT(v_min, v_max);
  // In double on the host, rounded once. Why not torch::linspace: in float
  // it misses atoms by up to ~2e-7 (the middle atom of [-10, 10] came out
  // 1.5e-7 or 2.4e-7, not 0), differently under ATen's AVX2 and AVX-512
  // kernels, which made every C51 run on such a support differ between them.
  std::vector<double> atoms(static_cast<size_t>(num_atoms));
  const double step = (v_max - v_min) / static_cast<double>(num_atoms - 1);
  for (int64_t i = 0; i < num_atoms; ++i) {
    atoms[static_cast<size_t>(i)] = v_min + static_cast<double>(i) * step;
  }
  atoms.back() = v_max;
  return torch::tensor(atoms, torch::kDouble)
      .to(options.device(), c10::typeMetaToScalarType(options.dtype()));
}

namespace {

// C51QValues in one kernel (AtomExpectations) with its backward. Why: ATen
// ran the softmax over 51 atoms at ~1.2 ns an element (~12 us for a target
// network's [32, 6, 51]) plus a product and a sum; and its bits depend on
// which of ATen's CPU kernels (AVX2, AVX-512) runs.
struct AtomExpectationsFn : torch::autograd::Function<AtomExpectationsFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& logits,
      const at::Tensor& support) {
    const at::Tensor x = logits.contiguous();
    const at::Tensor z = support.contiguous();
    const int64_t k = x.size(-1), rows = x.numel() / k;
    at::Tensor p = at::empty_like(x);
    auto sizes = x.sizes().vec();
    sizes.pop_back();
    at::Tensor q = at::empty(sizes, x.options());
    tokrl::internal::AtomExpectations(x.data_ptr<float>(), z.data_ptr<float>(),
                                      rows, k, p.data_ptr<float>(),
                                      q.data_ptr<float>());
    ctx->save_for_backward({p, q, z});
    return {q};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& p = saved[0];
    const at::Tensor g = grads[0].contiguous();
    const int64_t k = p.size(-1), rows = p.numel() / k;
    at::Tensor grad = at::empty_like(p);
    tokrl::internal::AtomExpectationsBackward(
        p.data_ptr<float>(), saved[1].data_ptr<float>(),
        saved[2].data_ptr<float>(), g.data_ptr<float>(), rows, k,
        grad.data_ptr<float>());
    return {grad, at::Tensor()};
  }
};

}  // namespace

at::Tensor C51QValues(const at::Tensor& logits, const at::Tensor& support) {
  TOKRL_CHECK(logits.dim() == 3 && logits.size(2) == support.numel())
      << "logits " << logits.sizes() << " vs support " << support.sizes();
  if (FastPathApplies(logits) && FastPathApplies(support) &&
      logits.numel() > 0 &&
      !(at::GradMode::is_enabled() && support.requires_grad())) {
    return ApplyFn<AtomExpectationsFn>(logits, support)[0];
  }
  return (torch::softmax(logits, -1) * support).sum(-1);
}

at::Tensor C51Probabilities(const at::Tensor& logits) {
  TOKRL_CHECK(logits.dim() >= 1) << "C51Probabilities: logits need atoms";
  if (!FastPathApplies(logits) || logits.numel() == 0 ||
      (at::GradMode::is_enabled() && logits.requires_grad())) {
    return torch::softmax(logits, -1);
  }
  const at::Tensor x = logits.contiguous();
  at::Tensor p = at::empty_like(x);
  const int64_t k = x.size(-1);
  tokrl::internal::AtomSoftmax(x.data_ptr<float>(), x.numel() / k, k,
                               p.data_ptr<float>());
  return p;
}

at::Tensor DuelingCombine(const at::Tensor& value,
                          const at::Tensor& advantage) {
  // DuelingFn's loops also for the outputs: ATen's mean over the
  // actions rounds differently under its AVX2 and AVX-512 kernels, and a
  // DER head's Q values (acting's and double Q's argmax) followed it.
  if (value.dim() >= 2 && value.dim() == advantage.dim() &&
      value.size(0) == advantage.size(0) && value.size(1) == 1 &&
      value.sizes().slice(2) == advantage.sizes().slice(2) &&
      advantage.numel() > 0 && FastPathApplies(value) &&
      FastPathApplies(advantage)) {
    const int64_t b = advantage.size(0), a = advantage.size(1);
    return ApplyFn<DuelingFn>(value.reshape({b, -1}).contiguous(),
                              advantage.reshape({b, a, -1}).contiguous())[0]
        .view(advantage.sizes());
  }
  return value + advantage - advantage.mean(1, /*keepdim=*/true);
}

QHeadImpl::QHeadImpl(const QHeadOptions& options_) : options(options_) {
  reset();
}

torch::nn::AnyModule QHeadImpl::MakeLayer(const std::string& name,
                                          int64_t out) {
  const int64_t in = options.in_features();
  if (options.noisy()) {
    auto layer = register_module(
        name, NoisyLinear(
                  NoisyLinearOptions(in, out)
                      .sigma0(options.noisy_sigma0())
                      .deterministic_eval(options.noisy_deterministic_eval())));
    return torch::nn::AnyModule(layer);
  }
  return torch::nn::AnyModule(register_module(name, MakeDense(in, out)));
}

void QHeadImpl::reset() {
  TOKRL_CHECK_GT(options.in_features(), 0);
  TOKRL_CHECK_GT(options.num_actions(), 0) << "num_actions must be set";
  support = at::Tensor();
  value = torch::nn::AnyModule();
  if (options.type() == HeadType::kC51) {
    support = register_buffer(
        "support",
        C51Support(options.num_atoms(), options.v_min(), options.v_max()));
  }
  advantage = MakeLayer("advantage", options.num_actions() * atoms());
  if (options.dueling()) value = MakeLayer("value", atoms());
}

void QHeadImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::QHead(" << options.in_features() << " -> "
         << options.num_actions() << ", " << ToString(options.type());
  if (options.type() == HeadType::kC51) {
    stream << "(" << options.num_atoms() << " atoms in [" << options.v_min()
           << ", " << options.v_max() << "])";
  }
  if (options.dueling()) stream << ", dueling";
  if (options.noisy()) stream << ", noisy";
  stream << ")";
}

at::Tensor QHeadImpl::Outputs(const at::Tensor& z) {
  TOKRL_CHECK(z.dim() == 2 && z.size(1) == options.in_features())
      << "expected head input [B, " << options.in_features() << "], got "
      << z.sizes();
  const int64_t b = z.size(0);
  const int64_t n = atoms();
  at::Tensor out = ApplyLayer(advantage, z).view({b, options.num_actions(), n});
  if (options.dueling()) {
    out = DuelingCombine(ApplyLayer(value, z).view({b, 1, n}), out);
  }
  return out;
}

HeadOutput QHeadImpl::forward(const at::Tensor& z) {
  const at::Tensor out = Outputs(z);
  HeadOutput result;
  if (options.type() == HeadType::kC51) {
    result.logits = out;
    result.q = C51QValues(out, support);
  } else {
    result.q = out.squeeze(-1);
  }
  return result;
}

TakenOutput QHeadImpl::forward_taken(const at::Tensor& z,
                                     const at::Tensor& actions) {
  TOKRL_CHECK(actions.dim() == 1 && actions.size(0) == z.size(0))
      << "expected actions [" << z.size(0) << "], got " << actions.sizes();
  if (options.type() != HeadType::kC51) {
    return AtActions(Outputs(z).squeeze(-1), at::Tensor(), actions);
  }
  TakenOutput result;
  if (FastPathApplies(z) && z.dim() == 2 &&
      z.size(1) == options.in_features()) {
    auto [weight, bias] = Params(advantage);
    if (options.dueling()) {
      const auto [value_weight, value_bias] = Params(value);
      std::tie(weight, bias) =
          DuelingLayer(value_weight, value_bias, weight, bias);
    }
    result.logits = LinearAtGroups(z, weight, bias, actions, atoms());
  } else {
    // Every action's logits, gathered.
    result = AtActions(at::Tensor(), Outputs(z), actions);
  }
  // Q at the taken actions only (mean Q's): the other actions' softmaxes
  // would not be used.
  result.q = C51QValues(result.logits.unsqueeze(1), support).squeeze(1);
  return result;
}

}  // namespace tokrl::nn
