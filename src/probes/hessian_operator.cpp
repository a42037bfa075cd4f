#include "bnlandscape/probes/hessian_operator.h"

#include <cmath>
#include <cstring>
#include <utility>

#include <c10/util/Exception.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "operator_checks.h"

namespace bnl::probes {

HessianOperator::HessianOperator(std::vector<torch::Tensor> params, LossFn loss, TensorAverage average,
                                 std::shared_ptr<const MlpCurvature> curvature)
    : params_(std::move(params)), average_(std::move(average)), curvature_(std::move(curvature)) {
  detail::check_params(params_, "HessianOperator");
  TORCH_CHECK(curvature_ || static_cast<bool>(loss),
              "HessianOperator: expected a loss closure, got an empty std::function");
  options_ = torch::TensorOptions().dtype(params_[0].dtype()).device(params_[0].device());
  n_ = numel(params_);

  std::vector<torch::Tensor> detached;
  if (curvature_) {
    point_ = curvature_->evaluate(&loss_, &detached, /*keep=*/true);
    has_curvature_ = true;
  } else {
    torch::AutoGradMode grad_mode(true);
    const torch::Tensor l = loss();
    TORCH_CHECK(l.defined() && l.numel() == 1, "HessianOperator: expected the loss closure to return a scalar, got ",
                l.defined() ? l.sizes() : torch::IntArrayRef{});
    loss_ = l.detach().to(torch::kCPU, torch::kDouble).item<double>();

    if (l.requires_grad()) {
      grads_ = torch::autograd::grad({l.reshape({})}, params_, /*grad_outputs=*/{}, /*retain_graph=*/true,
                                     /*create_graph=*/true, /*allow_unused=*/true);
    } else {
      grads_.assign(params_.size(), torch::Tensor());
    }
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!grads_[i].defined()) grads_[i] = torch::zeros_like(params_[i]);
      has_curvature_ = has_curvature_ || grads_[i].requires_grad();
    }
    detached.reserve(grads_.size());
    for (const auto& g : grads_) detached.push_back(g.detach());
  }
  gradient_ = flatten(detached).contiguous();
  if (average_) {
    // The loss rides along with the gradient: one all-reduce for both.
    auto packed = torch::cat({gradient_, torch::full({1}, loss_, options_)});
    average_(packed);
    gradient_ = packed.narrow(0, 0, n_).clone();
    loss_ = packed[n_].item<double>();
  }
  finite_ = std::isfinite(loss_) && gradient_.isfinite().all().item<bool>();
  weights_ = snapshot(params_);
}

void HessianOperator::check_weights_unchanged() const {
  detail::check_weights_unchanged(params_, weights_, "HessianOperator");
}

torch::Tensor HessianOperator::hvp(const torch::Tensor& v) const {
  TORCH_CHECK(v.dim() == 1 && v.numel() == n_, "HessianOperator::hvp: expected a vector of shape [", n_,
              "], got shape ", v.sizes());
  check_weights_unchanged();
  ++hvp_count_;
  // Structural, hence the same on every rank: no rank skips the all-reduce alone.
  if (!has_curvature_) return torch::zeros({n_}, options_);

  const torch::Tensor vv = v.detach().to(options_.device(), options_.dtype().toScalarType());
  if (curvature_) {
    auto out = flatten(curvature_->hvp(*point_, unflatten(vv, params_)));
    if (average_) average_(out);
    return out;
  }
  torch::AutoGradMode grad_mode(true);
  // A per-tensor dot product keeps a concatenation node out of the backward graph.
  torch::Tensor gv;
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < grads_.size(); ++i) {
    const std::int64_t n = params_[i].numel();
    if (grads_[i].requires_grad()) {
      auto term = (grads_[i] * vv.narrow(0, offset, n).view(grads_[i].sizes())).sum();
      gv = gv.defined() ? gv + term : term;
    }
    offset += n;
  }
  auto hv = torch::autograd::grad({gv}, params_, /*grad_outputs=*/{}, /*retain_graph=*/true,
                                  /*create_graph=*/false, /*allow_unused=*/true);
  for (std::size_t i = 0; i < hv.size(); ++i) {
    if (!hv[i].defined()) hv[i] = torch::zeros_like(params_[i]);
  }
  auto out = flatten(hv).detach();
  if (average_) average_(out);
  return out;
}

void HessianOperator::perform_op(const Scalar* x_in, Scalar* y_out) const {
  // from_blob only reads x_in; the const_cast is for its signature.
  const auto x = torch::from_blob(const_cast<Scalar*>(x_in), {n_}, torch::kDouble);
  const auto y = hvp(x).to(torch::kCPU, torch::kDouble).contiguous();
  std::memcpy(y_out, y.data_ptr<double>(), sizeof(double) * static_cast<std::size_t>(n_));
}

}  // namespace bnl::probes
