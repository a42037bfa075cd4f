#include "bnlandscape/probes/ggn_operator.h"

#include <cstring>
#include <utility>

#include <c10/util/Exception.h>
#include <torch/autograd.h>

#include "bnlandscape/probes/flat_params.h"
#include "operator_checks.h"

namespace bnl::probes {
namespace {

void check_closures(const std::vector<LogitsFn>& fns, const char* who) {
  TORCH_CHECK(!fns.empty(), who, ": expected at least one micro-batch closure, got none");
  for (std::size_t m = 0; m < fns.size(); ++m)
    TORCH_CHECK(static_cast<bool>(fns[m]), who, ": expected a logits closure, got an empty std::function at micro-batch ", m);
}

torch::Tensor checked_logits(const LogitsFn& fn, std::size_t m, const char* who) {
  torch::Tensor z = fn();
  TORCH_CHECK(z.defined() && z.dim() == 2 && z.size(0) >= 1 && z.size(1) >= 1, who,
              ": expected logits of shape [N >= 1, K >= 1], got ", z.defined() ? z.sizes() : torch::IntArrayRef{},
              " at micro-batch ", m);
  return z;
}

// (diag(p_i) - p_i p_i^T) u_i / n per row i: the softmax cross-entropy's Hessian in the logits.
torch::Tensor output_hessian_product(const torch::Tensor& p, const torch::Tensor& u, double n) {
  const auto pu = p * u;
  return (pu - p * pu.sum(1, /*keepdim=*/true)) / n;
}

}  // namespace

GgnOperator::GgnOperator(std::vector<torch::Tensor> params, LogitsFn logits, TensorAverage average)
    : GgnOperator(std::move(params), std::vector<LogitsFn>{std::move(logits)}, std::move(average)) {}

GgnOperator::GgnOperator(std::vector<torch::Tensor> params, std::vector<LogitsFn> microbatches, TensorAverage average)
    : params_(std::move(params)), average_(std::move(average)) {
  detail::check_params(params_, "GgnOperator");
  check_closures(microbatches, "GgnOperator");
  options_ = torch::TensorOptions().dtype(params_[0].dtype()).device(params_[0].device());
  n_ = numel(params_);

  torch::AutoGradMode grad_mode(true);
  batches_.reserve(microbatches.size());
  for (std::size_t m = 0; m < microbatches.size(); ++m) {
    Batch b;
    b.logits = checked_logits(microbatches[m], m, "GgnOperator");
    TORCH_CHECK(b.logits.dtype() == params_[0].dtype(), "GgnOperator: expected logits of dtype ", params_[0].dtype(),
                ", got ", b.logits.dtype(), " at micro-batch ", m);
    const auto z = b.logits.detach();
    finite_ = finite_ && z.isfinite().all().item<bool>();
    b.probs = torch::softmax(z, 1);
    b.jt_dummy.assign(params_.size(), torch::Tensor());
    if (b.logits.requires_grad()) {
      b.dummy = torch::zeros_like(z).requires_grad_(true);
      b.jt_dummy = torch::autograd::grad({b.logits}, params_, {b.dummy}, /*retain_graph=*/true,
                                         /*create_graph=*/true, /*allow_unused=*/true);
      for (const auto& t : b.jt_dummy) b.depends = b.depends || (t.defined() && t.requires_grad());
    }
    batches_.push_back(std::move(b));
  }
  weights_ = snapshot(params_);
}

void GgnOperator::check_weights_unchanged() const {
  detail::check_weights_unchanged(params_, weights_, "GgnOperator");
}

torch::Tensor GgnOperator::gvp(const torch::Tensor& v) const {
  TORCH_CHECK(v.dim() == 1 && v.numel() == n_, "GgnOperator::gvp: expected a vector of shape [", n_, "], got shape ",
              v.sizes());
  check_weights_unchanged();
  ++count_;
  const torch::Tensor vv = v.detach().to(options_.device(), options_.dtype().toScalarType());
  const auto vs = unflatten(vv, params_);
  torch::AutoGradMode grad_mode(true);
  std::vector<torch::Tensor> sum(params_.size());
  for (const auto& b : batches_) {
    // Structural, hence the same on every rank: no rank skips the all-reduce alone.
    if (!b.depends) continue;
    // J v = d/da (J^T a . v); a per-tensor dot keeps a concatenation node out of the graph.
    torch::Tensor dot;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!b.jt_dummy[i].defined() || !b.jt_dummy[i].requires_grad()) continue;
      auto term = (b.jt_dummy[i] * vs[i]).sum();
      dot = dot.defined() ? dot + term : term;
    }
    auto jv = torch::autograd::grad({dot}, {b.dummy}, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                    /*allow_unused=*/true)[0];
    if (!jv.defined()) jv = torch::zeros_like(b.probs);
    const auto h = output_hessian_product(b.probs, jv, static_cast<double>(b.probs.size(0)));
    const auto g = torch::autograd::grad({b.logits}, params_, {h}, /*retain_graph=*/true, /*create_graph=*/false,
                                         /*allow_unused=*/true);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!g[i].defined()) continue;
      sum[i] = sum[i].defined() ? sum[i] + g[i] : g[i];
    }
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!sum[i].defined()) sum[i] = torch::zeros_like(params_[i]);
  auto out = flatten(sum).detach() / static_cast<double>(batches_.size());
  if (average_) average_(out);
  return out;
}

void GgnOperator::perform_op(const Scalar* x_in, Scalar* y_out) const {
  // from_blob only reads x_in; the const_cast is for its signature.
  const auto x = torch::from_blob(const_cast<Scalar*>(x_in), {n_}, torch::kDouble);
  const auto y = gvp(x).to(torch::kCPU, torch::kDouble).contiguous();
  std::memcpy(y_out, y.data_ptr<double>(), sizeof(double) * static_cast<std::size_t>(n_));
}

LossFn ggn_surrogate_loss(std::vector<LogitsFn> microbatches) {
  check_closures(microbatches, "ggn_surrogate_loss");
  return [fns = std::move(microbatches)]() {
    torch::Tensor total;
    for (std::size_t m = 0; m < fns.size(); ++m) {
      const auto z = checked_logits(fns[m], m, "ggn_surrogate_loss");
      const auto p = torch::softmax(z.detach(), 1);
      // d is exactly zero in value and the identity in derivative: Lt is 0 with Hessian G.
      const auto d = z - z.detach();
      const auto pd = p * d;
      const auto quad = (pd * d).sum() - pd.sum(1).pow(2).sum();
      const auto lt = 0.5 * quad / static_cast<double>(z.size(0));
      total = total.defined() ? total + lt : lt;
    }
    return total / static_cast<double>(fns.size());
  };
}

}  // namespace bnl::probes
