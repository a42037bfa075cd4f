#include "bnlandscape/probes/mlp_ggn_operator.h"

#include <cmath>
#include <cstring>
#include <utility>

#include <c10/util/Exception.h>

#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "operator_checks.h"

namespace bnl::probes {

MlpGgnOperator::MlpGgnOperator(std::vector<torch::Tensor> params, std::shared_ptr<const MlpCurvature> curvature,
                               TensorAverage average)
    : params_(std::move(params)), average_(std::move(average)), curvature_(std::move(curvature)) {
  detail::check_params(params_, "MlpGgnOperator");
  TORCH_CHECK(curvature_ != nullptr, "MlpGgnOperator: expected an MlpCurvature, got a null pointer");
  options_ = torch::TensorOptions().dtype(params_[0].dtype()).device(params_[0].device());
  n_ = numel(params_);
  std::vector<torch::Tensor> grads;
  point_ = curvature_->evaluate(&loss_, &grads, /*keep=*/true);
  TORCH_CHECK(grads.size() == params_.size(), "MlpGgnOperator: expected the curvature of ", params_.size(),
              " parameter tensors, got ", grads.size());
  gradient_ = flatten(grads).contiguous();
  if (average_) {
    // The loss rides along with the gradient: one all-reduce for both (as HessianOperator).
    auto packed = torch::cat({gradient_, torch::full({1}, loss_, options_)});
    average_(packed);
    gradient_ = packed.narrow(0, 0, n_).clone();
    loss_ = packed[n_].item<double>();
  }
  finite_ = std::isfinite(loss_) && gradient_.isfinite().all().item<bool>();
  weights_ = snapshot(params_);
}

MlpGgnOperator::~MlpGgnOperator() = default;

torch::Tensor MlpGgnOperator::gvp(const torch::Tensor& v) const {
  TORCH_CHECK(v.dim() == 1 && v.numel() == n_, "MlpGgnOperator::gvp: expected a vector of shape [", n_,
              "], got shape ", v.sizes());
  detail::check_weights_unchanged(params_, weights_, "MlpGgnOperator");
  ++count_;
  const torch::Tensor vv = v.detach().to(options_.device(), options_.dtype().toScalarType());
  auto out = flatten(curvature_->gvp(*point_, unflatten(vv, params_)));
  if (average_) average_(out);
  return out;
}

void MlpGgnOperator::perform_op(const Scalar* x_in, Scalar* y_out) const {
  // from_blob only reads x_in; the const_cast is for its signature.
  const auto x = torch::from_blob(const_cast<Scalar*>(x_in), {n_}, torch::kDouble);
  const auto y = gvp(x).to(torch::kCPU, torch::kDouble).contiguous();
  std::memcpy(y_out, y.data_ptr<double>(), sizeof(double) * static_cast<std::size_t>(n_));
}

}  // namespace bnl::probes
