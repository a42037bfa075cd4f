#include "bnlandscape/models/batch_norm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

namespace {

using bnl::models::batch_norm_train;
using bnl::models::BatchNorm;
using bnl::models::BatchNormOptions;
using bnl::models::BnBackward;
using bnl::models::BnEvalStats;
using torch::Tensor;

constexpr double kEps = 1e-5;

/// Largest |a - b| / (atol + rtol * |b|); <= 1 means close.
double closeness(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const auto ad = a.detach().to(torch::kFloat64);
  const auto bd = b.detach().to(torch::kFloat64);
  return ((ad - bd).abs() / (atol + rtol * bd.abs())).max().item<double>();
}

void expect_close(const Tensor& a, const Tensor& b, double rtol, double atol,
                  const std::string& what) {
  ASSERT_TRUE(a.defined()) << what << ": undefined";
  ASSERT_TRUE(b.defined()) << what << ": undefined reference";
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double c = closeness(a, b, rtol, atol);
  EXPECT_LE(c, 1.0) << what << ": max |a-b| = "
                    << (a.detach().to(torch::kFloat64) - b.detach().to(torch::kFloat64))
                           .abs()
                           .max()
                           .item<double>()
                    << " (closeness " << c << ")";
}

/// libtorch's own training-mode batch norm, the independent reference.
Tensor torch_bn(const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  return torch::batch_norm(x, gamma, beta, /*running_mean=*/{}, /*running_var=*/{},
                           /*training=*/true, /*momentum=*/0.1, kEps, /*cudnn_enabled=*/false);
}

using BnFn = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

Tensor ours_exact(const Tensor& x, const Tensor& g, const Tensor& b) {
  return batch_norm_train(x, g, b, kEps, BnBackward::Exact);
}

/// Shapes covering 1-D ([N, C]) and 2-D ([N, C, H, W]) inputs with N in {2, 3, 16, 128}.
std::vector<std::vector<int64_t>> shapes() {
  return {{2, 5},       {3, 7},       {16, 11},     {128, 9},
          {2, 3, 4, 4}, {3, 4, 3, 5}, {16, 3, 4, 4}, {128, 2, 3, 3}};
}

struct Inputs {
  Tensor x, gamma, beta;
};

/// Random input with a per-channel offset and scale far from (0, 1), and non-trivial gamma, beta.
Inputs make_inputs(const std::vector<int64_t>& shape, torch::Dtype dtype, bool requires_grad) {
  const int64_t c = shape[1];
  std::vector<int64_t> bshape(shape.size(), 1);
  bshape[1] = c;
  const auto opts = torch::TensorOptions().dtype(dtype);
  auto x = torch::randn(shape, opts) * (0.5 + 2.0 * torch::rand(bshape, opts)) +
           torch::randn(bshape, opts);
  auto gamma = 1.0 + 0.5 * torch::randn({c}, opts);
  auto beta = torch::randn({c}, opts);
  return {x.detach().requires_grad_(requires_grad), gamma.detach().requires_grad_(requires_grad),
          beta.detach().requires_grad_(requires_grad)};
}

/// A smooth, non-linear loss of the layer output: cross-entropy over the channel dimension.
Tensor nonlinear_loss(const Tensor& y, const Tensor& weights) {
  return -(torch::log_softmax(y, 1) * weights).sum() + 0.1 * (y * y * weights).sum();
}

/// Hessian-vector product of nonlinear_loss(bn(x, gamma, beta)) in (x, gamma, beta) along
/// v = (vx, vgamma, vbeta), through double backward.
std::vector<Tensor> hvp(const BnFn& bn, const Inputs& in, const Tensor& weights,
                        const std::vector<Tensor>& v) {
  const auto loss = nonlinear_loss(bn(in.x, in.gamma, in.beta), weights);
  const auto g = torch::autograd::grad({loss}, {in.x, in.gamma, in.beta}, {},
                                       /*retain_graph=*/true, /*create_graph=*/true);
  auto dot = (g[0] * v[0]).sum() + (g[1] * v[1]).sum() + (g[2] * v[2]).sum();
  return torch::autograd::grad({dot}, {in.x, in.gamma, in.beta}, {}, /*retain_graph=*/false,
                               /*create_graph=*/false, /*allow_unused=*/true);
}

/// The original study's mistake in its double-backward form: x_hat and inv_std saved from the
/// (grad-mode-off) forward and used as constants in an otherwise exact backward.
class StaleBn : public torch::autograd::Function<StaleBn> {
 public:
  static Tensor forward(torch::autograd::AutogradContext* ctx, const Tensor& x, const Tensor& gamma,
                        const Tensor& beta) {
    auto [var, mu] = torch::var_mean(x, {0}, /*unbiased=*/false, /*keepdim=*/true);
    const auto inv_std = (var + kEps).rsqrt();
    const auto x_hat = (x - mu) * inv_std;
    ctx->save_for_backward({x_hat, inv_std, gamma});
    return x_hat * gamma + beta;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list go) {
    const auto s = ctx->get_saved_variables();
    const auto &x_hat = s[0], &inv_std = s[1], &gamma = s[2];
    const auto& dy = go[0];
    const auto dxh = dy * gamma;
    const auto dx = inv_std * (dxh - dxh.mean(0, true) - x_hat * (dxh * x_hat).mean(0, true));
    return {dx, (dy * x_hat).sum(0), dy.sum(0)};
  }
};

// ---------------------------------------------------------------- batch_norm_train vs libtorch

TEST(BatchNormTrain, ForwardMatchesTorch) {
  torch::manual_seed(1);
  for (const auto& shape : shapes()) {
    const auto in = make_inputs(shape, torch::kFloat32, false);
    expect_close(ours_exact(in.x, in.gamma, in.beta), torch_bn(in.x, in.gamma, in.beta), 1e-5,
                 1e-5, "forward " + c10::str(shape));
  }
}

TEST(BatchNormTrain, BackwardMatchesTorch) {
  torch::manual_seed(2);
  for (const auto& shape : shapes()) {
    const auto in = make_inputs(shape, torch::kFloat32, true);
    const auto dy = torch::randn(shape);
    const auto ours = torch::autograd::grad({ours_exact(in.x, in.gamma, in.beta)},
                                            {in.x, in.gamma, in.beta}, {dy});
    const auto ref = torch::autograd::grad({torch_bn(in.x, in.gamma, in.beta)},
                                           {in.x, in.gamma, in.beta}, {dy});
    const std::string s = c10::str(shape);
    expect_close(ours[0], ref[0], 1e-5, 1e-5, "dx " + s);
    expect_close(ours[1], ref[1], 1e-5, 1e-5, "dgamma " + s);
    expect_close(ours[2], ref[2], 1e-5, 1e-5, "dbeta " + s);
  }
}

/// Second-order results of a batch norm implementation, on fixed data cast to the given dtype.
using SecondOrder = std::function<std::vector<Tensor>(const BnFn&, torch::Dtype)>;

/// Inputs made in float64 and cast to `dtype`, as fresh leaves requiring grad.
Inputs cast_inputs(const Inputs& in, torch::Dtype dtype) {
  return {in.x.detach().to(dtype).requires_grad_(true),
          in.gamma.detach().to(dtype).requires_grad_(true),
          in.beta.detach().to(dtype).requires_grad_(true)};
}

/// Our second-order results match libtorch's: in float64 to 1e-9; in float32 to within 1e-5 of
/// the result's scale plus twice the rounding error libtorch's own float32 result has, both
/// measured against libtorch in float64. (A flat 1e-5 between the two float32 results cannot
/// hold: with two or three values per channel x_hat barely depends on x, the derivatives in x
/// cancel to ~1e-3 of their terms, and libtorch's float32 error there reaches 1e-3 itself.)
void expect_second_order_matches_torch(const SecondOrder& compute, const std::string& what) {
  const auto ref64 = compute(torch_bn, torch::kFloat64);
  const auto ours64 = compute(ours_exact, torch::kFloat64);
  const auto ref32 = compute(torch_bn, torch::kFloat32);
  const auto ours32 = compute(ours_exact, torch::kFloat32);
  for (size_t i = 0; i < ref64.size(); ++i) {
    const std::string w = what + " output " + std::to_string(i);
    expect_close(ours64[i], ref64[i], 1e-9, 1e-10, w + " float64");
    const double scale = std::max(1.0, ref64[i].abs().max().item<double>());
    const double err_ours = (ours32[i].to(torch::kFloat64) - ref64[i]).abs().max().item<double>();
    const double err_torch = (ref32[i].to(torch::kFloat64) - ref64[i]).abs().max().item<double>();
    EXPECT_LE(err_ours, 1e-5 * scale + 2.0 * err_torch)
        << w << " float32: libtorch's float32 error " << err_torch << ", scale " << scale;
  }
}

TEST(BatchNormTrain, DoubleBackwardMatchesTorch) {
  torch::manual_seed(3);
  for (const auto& shape : shapes()) {
    const int64_t c = shape[1];
    const auto in64 = make_inputs(shape, torch::kFloat64, false);
    const auto v64 = torch::randn(shape, torch::kFloat64);
    const auto u64 = torch::randn({c}, torch::kFloat64);
    const auto t64 = torch::randn({c}, torch::kFloat64);
    const auto dy64 = torch::randn(shape, torch::kFloat64);
    // grad of (dx . v + dgamma . u + dbeta . t) in x, gamma and dy (a leaf, so the derivative of
    // the backward in its incoming gradient is checked as well).
    const SecondOrder second = [&](const BnFn& bn, torch::Dtype dtype) {
      const auto in = cast_inputs(in64, dtype);
      const auto dy = dy64.to(dtype).requires_grad_(true);
      const auto g = torch::autograd::grad({bn(in.x, in.gamma, in.beta)},
                                           {in.x, in.gamma, in.beta}, {dy},
                                           /*retain_graph=*/true, /*create_graph=*/true);
      const auto s = (g[0] * v64.to(dtype)).sum() + (g[1] * u64.to(dtype)).sum() +
                     (g[2] * t64.to(dtype)).sum();
      return torch::autograd::grad({s}, {in.x, in.gamma, dy}, {}, /*retain_graph=*/false,
                                   /*create_graph=*/false, /*allow_unused=*/true);
    };
    expect_second_order_matches_torch(second, "d(dx.v + dgamma.u + dbeta.t) " + c10::str(shape));
  }
}

TEST(BatchNormTrain, HessianVectorProductMatchesTorch) {
  torch::manual_seed(4);
  for (const auto& shape : shapes()) {
    const int64_t c = shape[1];
    const auto in64 = make_inputs(shape, torch::kFloat64, false);
    const auto weights64 = torch::rand(shape, torch::kFloat64);
    const std::vector<Tensor> v64{torch::randn(shape, torch::kFloat64),
                                  torch::randn({c}, torch::kFloat64),
                                  torch::randn({c}, torch::kFloat64)};
    const SecondOrder second = [&](const BnFn& bn, torch::Dtype dtype) {
      return hvp(bn, cast_inputs(in64, dtype), weights64.to(dtype),
                 {v64[0].to(dtype), v64[1].to(dtype), v64[2].to(dtype)});
    };
    expect_second_order_matches_torch(second, "Hv " + c10::str(shape));
  }
}

TEST(BatchNormTrain, StaleSavedStatisticsFailTheDoubleBackwardCheck) {
  // Negative control: the same HVP comparison that our layer passes rejects a backward that
  // treats x_hat and inv_std saved in forward as constants, although its first derivatives are
  // right.
  torch::manual_seed(5);
  const std::vector<int64_t> shape{16, 6};
  const auto in = make_inputs(shape, torch::kFloat64, true);
  const auto weights = torch::rand(shape, torch::kFloat64);
  const std::vector<Tensor> v{torch::randn(shape, torch::kFloat64),
                              torch::randn({6}, torch::kFloat64),
                              torch::randn({6}, torch::kFloat64)};
  const BnFn stale = [](const Tensor& x, const Tensor& g, const Tensor& b) {
    return StaleBn::apply(x, g, b);
  };

  const auto dy = torch::randn(shape, torch::kFloat64);
  const auto g_stale = torch::autograd::grad({stale(in.x, in.gamma, in.beta)},
                                             {in.x, in.gamma, in.beta}, {dy});
  const auto g_ref = torch::autograd::grad({torch_bn(in.x, in.gamma, in.beta)},
                                           {in.x, in.gamma, in.beta}, {dy});
  for (size_t i = 0; i < 3; ++i) {
    expect_close(g_stale[i], g_ref[i], 1e-10, 1e-10, "stale first derivative " + std::to_string(i));
  }

  const auto ref = hvp(torch_bn, in, weights, v);
  const auto ours = hvp(ours_exact, in, weights, v);
  const auto bad = hvp(stale, in, weights, v);
  expect_close(ours[0], ref[0], 1e-10, 1e-10, "ours Hv x");
  expect_close(ours[1], ref[1], 1e-10, 1e-10, "ours Hv gamma");
  ASSERT_TRUE(bad[0].defined());
  EXPECT_GT(closeness(bad[0], ref[0], 1e-5, 1e-5), 100.0) << "stale Hv x should be far off";
  const double rel = ((bad[0] - ref[0]).norm() / ref[0].norm()).item<double>();
  EXPECT_GT(rel, 1e-2) << "stale Hv x relative error " << rel;
}

// ------------------------------------------------------------ finite differences (float64)

/// Central finite differences of scalar f at every element of `p` (modified in place and
/// restored), step h.
Tensor finite_difference(const std::function<double()>& f, Tensor p, double h) {
  auto grad = torch::zeros_like(p);
  auto flat = p.view(-1);
  auto gflat = grad.view(-1);
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double orig = flat[i].item<double>();
    flat[i].fill_(orig + h);
    const double fp = f();
    flat[i].fill_(orig - h);
    const double fm = f();
    flat[i].fill_(orig);
    gflat[i].fill_((fp - fm) / (2 * h));
  }
  return grad;
}

TEST(BatchNormTrain, GradientMatchesFiniteDifferences) {
  torch::manual_seed(6);
  for (const auto& shape :
       std::vector<std::vector<int64_t>>{{2, 3}, {5, 4}, {16, 3}, {3, 2, 2, 3}}) {
    const auto in = make_inputs(shape, torch::kFloat64, true);
    const auto weights = torch::rand(shape, torch::kFloat64);
    const auto loss_of = [&](BnBackward mode) {
      return nonlinear_loss(batch_norm_train(in.x, in.gamma, in.beta, kEps, mode), weights);
    };
    const auto f = [&] { return loss_of(BnBackward::Exact).item<double>(); };
    const auto g = torch::autograd::grad({loss_of(BnBackward::Exact)}, {in.x, in.gamma, in.beta});
    const std::string s = c10::str(shape);
    expect_close(g[0], finite_difference(f, in.x.detach(), 1e-6), 1e-6, 1e-6, "FD dx " + s);
    expect_close(g[1], finite_difference(f, in.gamma.detach(), 1e-6), 1e-6, 1e-6,
                 "FD dgamma " + s);
    expect_close(g[2], finite_difference(f, in.beta.detach(), 1e-6), 1e-6, 1e-6,
                 "FD dbeta " + s);

    // The same check rejects the original backward (when var + eps is far from 1).
    const auto go = torch::autograd::grad({loss_of(BnBackward::Original)}, {in.x});
    EXPECT_GT(closeness(go[0], finite_difference(f, in.x.detach(), 1e-6), 1e-6, 1e-6), 10.0)
        << "original dx unexpectedly matches finite differences " << s;
  }
}

TEST(BatchNormTrain, HessianVectorProductMatchesFiniteDifferences) {
  torch::manual_seed(7);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{4, 3}, {2, 2, 2, 2}}) {
    const auto in = make_inputs(shape, torch::kFloat64, true);
    const int64_t c = shape[1];
    const auto weights = torch::rand(shape, torch::kFloat64);
    const std::vector<Tensor> v{torch::randn(shape, torch::kFloat64),
                                torch::randn({c}, torch::kFloat64),
                                torch::randn({c}, torch::kFloat64)};
    const auto hv = hvp(ours_exact, in, weights, v);

    // H v = (grad(theta + h v) - grad(theta - h v)) / 2h.
    const std::vector<Tensor> params{in.x, in.gamma, in.beta};
    auto grad_at = [&](double step) {
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < 3; ++i) params[i].add_(v[i], step);
      }
      const auto g = torch::autograd::grad(
          {nonlinear_loss(ours_exact(in.x, in.gamma, in.beta), weights)}, params);
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < 3; ++i) params[i].sub_(v[i], step);
      }
      return g;
    };
    const double h = 1e-6;
    const auto gp = grad_at(h);
    const auto gm = grad_at(-h);
    const std::string s = c10::str(shape);
    for (size_t i = 0; i < 3; ++i) {
      expect_close(hv[i], (gp[i] - gm[i]) / (2 * h), 1e-6, 1e-6,
                   "FD Hv part " + std::to_string(i) + " " + s);
    }
  }
}

// ----------------------------------------------------------------------- original backward

TEST(BatchNormTrain, OriginalBackwardDiffersByTheDocumentedTerm) {
  torch::manual_seed(8);
  for (const auto& shape :
       std::vector<std::vector<int64_t>>{{2, 4}, {16, 5}, {128, 3}, {8, 3, 2, 2}}) {
    const auto in = make_inputs(shape, torch::kFloat64, true);
    const auto dy = torch::randn(shape, torch::kFloat64);
    const auto exact = torch::autograd::grad(
        {batch_norm_train(in.x, in.gamma, in.beta, kEps, BnBackward::Exact)},
        {in.x, in.gamma, in.beta}, {dy});
    const auto orig = torch::autograd::grad(
        {batch_norm_train(in.x, in.gamma, in.beta, kEps, BnBackward::Original)},
        {in.x, in.gamma, in.beta}, {dy});
    const std::string s = c10::str(shape);
    expect_close(orig[1], exact[1], 1e-12, 1e-12, "original dgamma " + s);
    expect_close(orig[2], exact[2], 1e-12, 1e-12, "original dbeta " + s);

    // dvar_orig = dvar_exact * inv_std, so dx_orig - dx_exact
    //   = (1 - inv_std) * inv_std * x_hat * mean(dy * gamma * x_hat).
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < in.x.dim(); ++d) dims.push_back(d);
    std::vector<int64_t> bshape(shape.size(), 1);
    bshape[1] = shape[1];
    const auto x = in.x.detach();
    const auto mu = x.mean(dims, true);
    const auto var = ((x - mu) * (x - mu)).mean(dims, true);
    const auto inv_std = 1.0 / torch::sqrt(var + kEps);
    const auto x_hat = (x - mu) * inv_std;
    const auto g = in.gamma.detach().view(bshape);
    const auto term = (1.0 - inv_std) * inv_std * x_hat * (dy * g * x_hat).mean(dims, true);
    ASSERT_GT(term.abs().max().item<double>(), 1e-3) << "test data must make the term visible";
    expect_close(orig[0] - exact[0], term, 1e-9, 1e-12, "dx_orig - dx_exact " + s);
  }
}

TEST(BatchNorm, OriginalOptionSelectsOriginalBackwardAndCanBeSwitched) {
  torch::manual_seed(9);
  BatchNorm bn(BatchNormOptions(4).backward(BnBackward::Original));
  const auto x = (3.0 * torch::randn({8, 4})).requires_grad_(true);
  const auto dy = torch::randn({8, 4});
  const auto want_orig = torch::autograd::grad(
      {batch_norm_train(x, bn->gamma, bn->beta, kEps, BnBackward::Original)}, {x}, {dy})[0];
  const auto want_exact = torch::autograd::grad(
      {batch_norm_train(x, bn->gamma, bn->beta, kEps, BnBackward::Exact)}, {x}, {dy})[0];
  ASSERT_FALSE(torch::allclose(want_orig, want_exact));
  EXPECT_TRUE(torch::equal(torch::autograd::grad({bn(x)}, {x}, {dy})[0], want_orig));
  bn->options.backward(BnBackward::Exact);
  EXPECT_TRUE(torch::equal(torch::autograd::grad({bn(x)}, {x}, {dy})[0], want_exact));
}

// --------------------------------------------------------------------- module: running stats

template <typename TorchBn>
void check_running_stats_against(TorchBn ref, BatchNorm ours,
                                 const std::vector<std::vector<int64_t>>& batch_shapes) {
  ref->to(torch::kFloat32);
  ASSERT_TRUE(ours->is_training());
  for (const auto& shape : batch_shapes) {
    const auto x = torch::randn(shape) * 2.0 + 0.7;
    expect_close(ours(x), ref(x), 1e-5, 1e-5, "training output " + c10::str(shape));
  }
  expect_close(ours->running_mean, ref->running_mean, 1e-5, 1e-6, "running_mean");
  expect_close(ours->running_var, ref->running_var, 1e-5, 1e-6, "running_var");
  EXPECT_GT((ours->running_mean.abs()).max().item<double>(), 0.1) << "stats must have moved";

  ours->eval();
  ref->eval();
  const auto x = torch::randn(batch_shapes.front()) * 2.0 + 0.7;
  expect_close(ours(x), ref(x), 1e-5, 1e-5, "eval output (running stats)");
  const auto one = x.narrow(0, 0, 1);
  expect_close(ours(one), ref(one), 1e-5, 1e-5, "eval output for a batch of one");
}

TEST(BatchNorm, RunningStatsMatchBatchNorm1d) {
  torch::manual_seed(10);
  check_running_stats_against(
      torch::nn::BatchNorm1d(torch::nn::BatchNormOptions(6).eps(1e-5).momentum(0.1)),
      BatchNorm(BatchNormOptions(6)), {{16, 6}, {2, 6}, {3, 6}, {128, 6}, {16, 6}});
}

TEST(BatchNorm, RunningStatsMatchBatchNorm2d) {
  torch::manual_seed(11);
  check_running_stats_against(
      torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(3).eps(1e-5).momentum(0.1)),
      BatchNorm(BatchNormOptions(3).spatial(true)),
      {{4, 3, 5, 5}, {2, 3, 5, 5}, {16, 3, 2, 3}, {1, 3, 4, 4}, {7, 3, 5, 5}});
}

TEST(BatchNorm, EvalWithBatchStatsEqualsTrainingOutputAndKeepsBuffers) {
  torch::manual_seed(12);
  for (bool spatial : {false, true}) {
    BatchNorm bn(BatchNormOptions(3).spatial(spatial).eval_stats(BnEvalStats::Batch));
    {
      torch::NoGradGuard no_grad;
      bn->gamma.copy_(torch::randn({3}));
      bn->beta.copy_(torch::randn({3}));
    }
    const auto shape = spatial ? std::vector<int64_t>{5, 3, 2, 2} : std::vector<int64_t>{5, 3};
    bn(torch::randn(shape) + 1.0);  // move the running stats away from their initial values
    const auto x = (torch::randn(shape) * 3.0).requires_grad_(true);
    const auto mean_before = bn->running_mean.clone();
    const auto var_before = bn->running_var.clone();

    bn->set_update_running_stats(false);
    const auto y_train = bn(x);
    bn->set_update_running_stats(true);
    bn->eval();
    const auto y_eval = bn(x);

    EXPECT_TRUE(torch::equal(y_eval, y_train));
    EXPECT_TRUE(torch::equal(bn->running_mean, mean_before));
    EXPECT_TRUE(torch::equal(bn->running_var, var_before));
    const auto cs = spatial ? std::vector<int64_t>{1, 3, 1, 1} : std::vector<int64_t>{1, 3};
    const auto y_running = (x - mean_before.view(cs)) / torch::sqrt(var_before.view(cs) + kEps) *
                               bn->gamma.view(cs) +
                           bn->beta.view(cs);
    EXPECT_FALSE(torch::allclose(y_eval, y_running))
        << "eval with batch stats must not use the running stats";
    const auto dy = torch::randn(shape);
    EXPECT_TRUE(torch::equal(torch::autograd::grad({y_eval}, {x}, {dy})[0],
                             torch::autograd::grad({y_train}, {x}, {dy})[0]));
  }
}

TEST(BatchNorm, DisablingRunningStatUpdatesKeepsBuffersBitIdentical) {
  torch::manual_seed(13);
  BatchNorm bn(BatchNormOptions(4));
  bn(torch::randn({8, 4}) + 2.0);
  const auto mean_before = bn->running_mean.clone();
  const auto var_before = bn->running_var.clone();
  EXPECT_TRUE(bn->update_running_stats());
  bn->set_update_running_stats(false);
  EXPECT_FALSE(bn->update_running_stats());
  for (int i = 0; i < 3; ++i) {
    bn(torch::randn({8, 4}) * 5.0);
  }
  EXPECT_TRUE(torch::equal(bn->running_mean, mean_before));
  EXPECT_TRUE(torch::equal(bn->running_var, var_before));

  bn->set_update_running_stats(true);
  bn(torch::randn({8, 4}) * 5.0);
  EXPECT_FALSE(torch::equal(bn->running_mean, mean_before));
  EXPECT_FALSE(torch::equal(bn->running_var, var_before));
}

TEST(BatchNorm, Float64MatchesTorch) {
  torch::manual_seed(14);
  BatchNorm ours(BatchNormOptions(5));
  torch::nn::BatchNorm1d ref(5);
  ours->to(torch::kFloat64);
  ref->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    ours->gamma.copy_(torch::randn({5}));
    ref->weight.copy_(ours->gamma);
  }
  const auto x = (torch::randn({3, 5}, torch::kFloat64) * 4.0).requires_grad_(true);
  const auto y = ours(x);
  EXPECT_EQ(y.scalar_type(), torch::kFloat64);
  expect_close(y, ref(x), 1e-12, 1e-12, "float64 forward");
  const auto dy = torch::randn({3, 5}, torch::kFloat64);
  const auto go = torch::autograd::grad({ours(x)}, {x, ours->gamma}, {dy});
  const auto gr = torch::autograd::grad({ref(x)}, {x, ref->weight}, {dy});
  expect_close(go[0], gr[0], 1e-10, 1e-12, "float64 dx");
  expect_close(go[1], gr[1], 1e-10, 1e-12, "float64 dgamma");
  expect_close(ours->running_var, ref->running_var, 1e-12, 1e-12, "float64 running_var");
}

// ---------------------------------------------------------------- module: names, errors, misc

TEST(BatchNorm, ParameterAndBufferNames) {
  BatchNorm bn(BatchNormOptions(7));
  std::vector<std::string> params, buffers;
  for (const auto& p : bn->named_parameters()) params.push_back(p.key());
  for (const auto& b : bn->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(params, (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(buffers, (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_TRUE(torch::equal(bn->gamma, torch::ones({7})));
  EXPECT_TRUE(torch::equal(bn->beta, torch::zeros({7})));
  EXPECT_TRUE(torch::equal(bn->running_mean, torch::zeros({7})));
  EXPECT_TRUE(torch::equal(bn->running_var, torch::ones({7})));
  EXPECT_EQ(bn->num_batches_tracked.scalar_type(), torch::kLong);
  EXPECT_EQ(bn->num_batches_tracked.dim(), 0);

  // Key for key (names, order, shapes, dtypes) the state of libtorch's BatchNorm1d, whose names
  // are torch.nn's, so a state dict of ours loads into PyTorch with strict=True.
  torch::nn::Sequential net(torch::nn::Linear(3, 7), BatchNorm(BatchNormOptions(7)));
  torch::nn::Sequential ref(torch::nn::Linear(3, 7), torch::nn::BatchNorm1d(7));
  auto state = [](const torch::nn::Module& m) {
    std::vector<std::string> out;
    for (const auto& p : m.named_parameters()) out.push_back(p.key() + c10::str(p.value().sizes()) + c10::str(p.value().scalar_type()));
    for (const auto& b : m.named_buffers()) out.push_back(b.key() + c10::str(b.value().sizes()) + c10::str(b.value().scalar_type()));
    return out;
  };
  EXPECT_EQ(state(*net), state(*ref));
}

TEST(BatchNorm, NumBatchesTrackedCountsRunningStatisticUpdates) {
  torch::manual_seed(4);
  BatchNorm bn(BatchNormOptions(3));
  torch::nn::BatchNorm1d ref(3);
  const auto x = torch::randn({5, 3});
  for (int i = 0; i < 3; ++i) {
    bn(x);
    ref(x);
  }
  EXPECT_EQ(bn->num_batches_tracked.item<std::int64_t>(), 3);
  EXPECT_TRUE(torch::equal(bn->num_batches_tracked, ref->num_batches_tracked));
  // The momentum stays ours (torch would use it too with momentum=0.1): the count changes no number.
  expect_close(bn->running_var, ref->running_var, 1e-6, 1e-6, "running_var after 3 updates");
  bn->eval();
  bn(x);
  bn->train();
  bn->set_update_running_stats(false);
  bn(x);
  EXPECT_EQ(bn->num_batches_tracked.item<std::int64_t>(), 3);  // neither eval nor a probe counts
}

TEST(BatchNorm, CloneCopiesStateIndependently) {
  torch::manual_seed(15);
  BatchNorm bn(BatchNormOptions(3).backward(BnBackward::Original).eval_stats(BnEvalStats::Batch));
  bn(torch::randn({4, 3}) + 1.0);
  bn->set_update_running_stats(false);
  auto copy = std::dynamic_pointer_cast<bnl::models::BatchNormImpl>(bn->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::equal(copy->running_mean, bn->running_mean));
  EXPECT_EQ(copy->options.backward(), BnBackward::Original);
  EXPECT_EQ(copy->options.eval_stats(), BnEvalStats::Batch);
  EXPECT_FALSE(copy->update_running_stats());
  {
    torch::NoGradGuard no_grad;
    copy->gamma.add_(1.0);
  }
  EXPECT_TRUE(torch::equal(bn->gamma, torch::ones({3})));
}

TEST(BatchNorm, PrettyPrint) {
  std::ostringstream os;
  BatchNorm(BatchNormOptions(64).spatial(true).backward(BnBackward::Original))->pretty_print(os);
  EXPECT_EQ(os.str(),
            "bnl::models::BatchNorm(64, eps=1e-05, momentum=0.1, spatial=true, backward=original, "
            "eval_stats=running)");
}

TEST(BatchNorm, RejectsBadInputs) {
  BatchNorm flat(BatchNormOptions(4));
  BatchNorm spatial(BatchNormOptions(4).spatial(true));
  EXPECT_THROW(flat(torch::randn({8, 4, 2})), c10::Error);
  EXPECT_THROW(flat(torch::randn({8})), c10::Error);
  EXPECT_THROW(spatial(torch::randn({8, 4})), c10::Error);
  EXPECT_THROW(flat(torch::randn({8, 5})), c10::Error);
  EXPECT_THROW(spatial(torch::randn({8, 3, 2, 2})), c10::Error);
  EXPECT_THROW(flat(torch::randn({1, 4})), c10::Error);
  EXPECT_THROW(spatial(torch::randn({1, 4, 1, 1})), c10::Error);
  EXPECT_NO_THROW(spatial(torch::randn({1, 4, 2, 1})));  // two values per channel suffice

  flat->eval();
  EXPECT_NO_THROW(flat(torch::randn({1, 4})));  // running stats need no batch
  flat->options.eval_stats(BnEvalStats::Batch);
  EXPECT_THROW(flat(torch::randn({1, 4})), c10::Error);

  try {
    BatchNorm(BatchNormOptions(4))(torch::randn({8, 5}));
    FAIL() << "channel mismatch accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("expected 4 channels"),
              std::string::npos)
        << e.what_without_backtrace();
  }

  EXPECT_THROW(batch_norm_train(torch::randn({4, 3}), torch::ones({3}, torch::kFloat64),
                                torch::zeros({3}), kEps, BnBackward::Exact),
               c10::Error);
  EXPECT_THROW(batch_norm_train(torch::randn({4, 3}), torch::ones({2}), torch::zeros({3}), kEps,
                                BnBackward::Exact),
               c10::Error);
  EXPECT_THROW(BatchNorm(BatchNormOptions(0)), c10::Error);
}

}  // namespace
