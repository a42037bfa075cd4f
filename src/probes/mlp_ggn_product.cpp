// MlpCurvature::gvp: the Gauss-Newton product G v = J^T H_out J v of the MLP written out by
// hand. J v is hvp()'s R-forward (r_forward), H_out R z is the R of the logits' gradient, and
// J^T of that is the forward pass's ordinary backward: the R-backward of hvp() without its
// terms in the point's own gradients (dL/dY, dL/dZ, mean(dU U)), which are what H - G is made
// of (the residual sum_ik dL/dz_ik d^2 z_ik / dw^2 of probes/ggn_operator.h).
#include <vector>

#include <c10/util/Exception.h>

#include "bn_r_kernels.h"
#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "mlp_curvature_point.h"

namespace bnl::probes {

using detail::batch_statistics;
using detail::col_mean;
using detail::ptr;

std::vector<torch::Tensor> MlpCurvature::gvp(const Point& point, const std::vector<torch::Tensor>& v) const {
  torch::NoGradGuard no_grad;
  const auto dir = directions(point, v, "MlpCurvature::gvp");
  const auto dtype = layers_.front().weight.scalar_type();
  if (fused() && dtype == torch::kFloat32) return gvp_fused<float>(point, dir);
  if (fused()) return gvp_fused<double>(point, dir);
  std::vector<torch::Tensor> out(num_params_);
  auto add = [&](std::size_t i, const torch::Tensor& t) { out[i] = out[i].defined() ? out[i] + t : t; };
  RForward rf;
  for (std::size_t k = 0; k < xs_.size(); ++k) {
    const auto& cache = point.chunks[k];
    // dY of the logits: H_m J_m v.
    torch::Tensor gy = detail::output_hessian_product(point.probs[k], r_forward(point, k, dir, &rf));
    for (std::size_t l = layers_.size(); l-- > 0;) {
      const auto& L = layers_[l];
      const auto& c = cache[l];
      torch::Tensor gz = gy;
      if (L.bn) {
        const auto gi = static_cast<std::size_t>(L.gamma_index);
        add(gi, (gy * c.u).sum(0));
        add(gi + 1, gy.sum(0));
        const auto gu = gy * L.bn->gamma.detach();
        // BN's exact backward; with batch statistics it couples the micro-batch's examples.
        gz = batch_statistics(*L.bn) ? c.s * (gu - col_mean(gu) - c.u * col_mean(gu * c.u)) : c.s * gu;
      }
      const auto wi = static_cast<std::size_t>(L.weight_index);
      add(wi, gz.t().mm(c.input));
      add(wi + 1, gz.sum(0));
      if (l > 0) gy = gz.mm(L.weight.detach()) * (c.input > 0);
    }
  }
  if (xs_.size() > 1)
    for (auto& t : out) t.mul_(1.0 / static_cast<double>(xs_.size()));
  return out;
}

template <typename T>
std::vector<torch::Tensor> MlpCurvature::gvp_fused(const Point& point, const std::vector<torch::Tensor>& dir) const {
  // The tensor path above with BN's backward and ReLU's mask in fused loops (bn_backward,
  // relu_mask_) and the products accumulated in place into one output per parameter.
  const auto opts = layers_.front().weight.options();
  std::vector<torch::Tensor> out(num_params_);
  for (std::size_t i = 0; i < num_params_; ++i) out[i] = torch::zeros_like(dir[i]);
  RForward rf;
  for (std::size_t k = 0; k < xs_.size(); ++k) {
    const auto& cache = point.chunks[k];
    const std::int64_t m = xs_[k].size(0);
    torch::Tensor gy = detail::output_hessian_product(point.probs[k], r_forward_fused<T>(point, k, dir, &rf));
    for (std::size_t l = layers_.size(); l-- > 0;) {
      const auto& L = layers_[l];
      const auto& c = cache[l];
      const auto wi = static_cast<std::size_t>(L.weight_index);
      torch::Tensor gz = gy;
      if (L.bn) {
        const auto gi = static_cast<std::size_t>(L.gamma_index);
        const std::int64_t width = gy.size(1);
        const auto gamma = L.bn->gamma.detach().contiguous();
        const detail::BnTerms<T> b{m, width, batch_statistics(*L.bn), ptr<T>(c.s), ptr<T>(gamma), nullptr, nullptr,
                                   ptr<T>(c.u)};
        gz = torch::empty_like(gy);
        auto sums = torch::empty({3, width}, opts);
        detail::bn_backward(b, ptr<T>(gy), ptr<T>(gz), ptr<T>(sums[0]), ptr<T>(sums[1]), ptr<T>(sums[2]));
        out[gi].add_(sums[0]);
        out[gi + 1].add_(sums[1]);
        out[wi + 1].add_(sums[2]);
      } else {
        out[wi + 1].add_(gz.sum(0));
      }
      out[wi].addmm_(gz.t(), c.input);
      if (l > 0) {
        auto ga = gz.mm(L.weight.detach());
        detail::relu_mask_(ptr<T>(ga), ptr<T>(c.input), ga.numel());
        gy = ga;
      }
    }
  }
  if (xs_.size() > 1)
    for (auto& t : out) t.mul_(1.0 / static_cast<double>(xs_.size()));
  return out;
}

}  // namespace bnl::probes
