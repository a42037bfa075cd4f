#include "bnlandscape/probes/gradient_path.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <c10/util/Exception.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/mlp_curvature.h"

namespace bnl::probes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double finite_or_nan(double x) { return std::isfinite(x) ? x : kNaN; }

struct LossAndGradient {
  double loss;
  torch::Tensor gradient;  // [P], detached, parameters' dtype
};

LossAndGradient evaluate(const std::vector<torch::Tensor>& params, const LossFn& loss, const TensorAverage& average,
                         const MlpCurvature* curvature) {
  LossAndGradient out;
  if (curvature) {
    std::vector<torch::Tensor> grads;
    curvature->evaluate(&out.loss, &grads, /*keep=*/false);
    out.gradient = flatten(grads);
  } else {
    torch::AutoGradMode grad_mode(true);
    const torch::Tensor l = loss();
    TORCH_CHECK(l.defined() && l.numel() == 1, "gradient_path: expected the loss closure to return a scalar, got ",
                l.defined() ? l.sizes() : torch::IntArrayRef{});
    std::vector<torch::Tensor> grads(params.size());
    if (l.requires_grad()) {
      grads = torch::autograd::grad({l.reshape({})}, params, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                    /*create_graph=*/false, /*allow_unused=*/true);
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!grads[i].defined()) grads[i] = torch::zeros_like(params[i]);
    }
    out = {l.detach().to(torch::kCPU, torch::kDouble).item<double>(), flatten(grads).detach()};
  }
  if (average) {
    const std::int64_t n = out.gradient.numel();
    auto packed = torch::cat({out.gradient, torch::full({1}, out.loss, out.gradient.options())});
    average(packed);
    out.gradient = packed.narrow(0, 0, n).clone();
    out.loss = packed[n].item<double>();
  }
  return out;
}

double norm2(const torch::Tensor& t) { return t.to(torch::kDouble).norm().item<double>(); }

// Puts the weights back however the loop below is left.
class RestoreOnExit {
 public:
  RestoreOnExit(const std::vector<torch::Tensor>& params, std::vector<torch::Tensor> saved)
      : params_(params), saved_(std::move(saved)) {}
  RestoreOnExit(const RestoreOnExit&) = delete;
  RestoreOnExit& operator=(const RestoreOnExit&) = delete;
  ~RestoreOnExit() { restore(params_, saved_); }

 private:
  const std::vector<torch::Tensor>& params_;
  std::vector<torch::Tensor> saved_;
};

}  // namespace

GradientPathResult gradient_path(const std::vector<torch::Tensor>& params, const LossFn& loss,
                                 const std::vector<double>& step_sizes, const HessianOperator* op,
                                 const TensorAverage& average, const MlpCurvature* curvature) {
  TORCH_CHECK(!params.empty(), "gradient_path: expected at least one parameter tensor, got none");
  TORCH_CHECK(curvature || static_cast<bool>(loss), "gradient_path: expected a loss closure, got an empty std::function");
  TORCH_CHECK(!step_sizes.empty(), "gradient_path: expected at least one step size, got none");
  for (std::size_t j = 0; j < step_sizes.size(); ++j) {
    TORCH_CHECK(step_sizes[j] > 0.0 && std::isfinite(step_sizes[j]),
                "gradient_path: expected positive finite step sizes, got ", step_sizes[j], " at index ", j);
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    TORCH_CHECK(params[i].defined() && params[i].requires_grad(), "gradient_path: expected parameter ", i,
                " to be defined and require grad");
  }
  if (op != nullptr) {
    TORCH_CHECK(op->params().size() == params.size(), "gradient_path: expected an operator over the same ",
                params.size(), " parameters, got one over ", op->params().size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      TORCH_CHECK(op->params()[i].is_same(params[i]), "gradient_path: expected the operator's parameter ", i,
                  " to be the same tensor as params[", i, "], got a different tensor");
    }
  }

  GradientPathResult result;
  result.step_sizes = step_sizes;
  result.loss_path.assign(step_sizes.size(), kNaN);
  result.grad_pred.assign(step_sizes.size(), kNaN);

  // An operator built at w already holds L(w) and g (its hvp() below checks that the weights
  // are still the ones it was built at).
  const bool reuse = op != nullptr && op->finite();
  const LossAndGradient base =
      reuse ? LossAndGradient{op->loss(), op->gradient()} : evaluate(params, loss, average, curvature);
  const torch::Tensor& g = base.gradient;
  result.loss = finite_or_nan(base.loss);
  result.grad_norm = finite_or_nan(norm2(g));
  if (std::isnan(result.loss) || std::isnan(result.grad_norm)) return result;

  if (reuse) {
    const torch::Tensor hg = op->hvp(g);
    const double ghg = torch::dot(g.to(torch::kDouble), hg.to(torch::kDouble)).item<double>();
    result.grad_curvature = finite_or_nan(ghg / (result.grad_norm * result.grad_norm));
  }

  const torch::Tensor w = flatten(snapshot(params));
  {
    RestoreOnExit guard(params, snapshot(params));
    for (std::size_t j = 0; j < step_sizes.size(); ++j) {
      assign_flat(params, w - step_sizes[j] * g);
      const LossAndGradient moved = evaluate(params, loss, average, curvature);
      result.loss_path[j] = finite_or_nan(moved.loss);
      result.grad_pred[j] = finite_or_nan(norm2(g - moved.gradient));
    }
  }

  bool all_finite = result.grad_norm > 0.0;
  double beta = 0.0;
  for (std::size_t j = 0; j < step_sizes.size(); ++j) {
    const double ratio = result.grad_pred[j] / (step_sizes[j] * result.grad_norm);
    all_finite = all_finite && std::isfinite(ratio);
    beta = std::max(beta, ratio);
  }
  result.beta_smoothness = all_finite ? beta : kNaN;
  return result;
}

std::vector<double> default_step_sizes(double lr, int count, double lo, double hi) {
  TORCH_CHECK(lr > 0.0 && std::isfinite(lr), "default_step_sizes: expected a positive learning rate, got ", lr);
  TORCH_CHECK(count >= 1, "default_step_sizes: expected count >= 1, got ", count);
  TORCH_CHECK(lo > 0.0 && hi >= lo && std::isfinite(hi), "default_step_sizes: expected 0 < lo <= hi, got lo = ", lo,
              ", hi = ", hi);
  std::vector<double> steps(static_cast<std::size_t>(count));
  for (int j = 0; j < count; ++j) {
    const double t = count == 1 ? 0.0 : static_cast<double>(j) / (count - 1);
    steps[static_cast<std::size_t>(j)] = lr * lo * std::pow(hi / lo, t);
  }
  return steps;
}

}  // namespace bnl::probes
