#pragma once
/// \file
/// Loss, gradient and exact Hessian-vector products of the original study's MLP written out by
/// hand: a forward pass, its backward pass, and Pearlmutter's R-operator (1994) applied to both
/// ("forward-over-reverse"), as plain tensor products without an autograd graph; and the
/// Gauss-Newton products G v of the same loss (the R-forward, then an ordinary backward). Autograd's
/// double backward builds and walks a graph of the gradient for every product, with a fresh
/// tensor per node and BatchNorm's backward differentiated op by op; here one product is about
/// twenty matrix products and a few row reductions (bench/RESULTS.md, "Hessian-vector
/// products"). HessianOperator and gradient_path use it when the probed model supports it and
/// fall back to autograd otherwise; tests/probes/mlp_curvature_test.cpp compares both with a
/// float64 reference.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace bnl::models {
class BatchNormImpl;
class Classifier;
}  // namespace bnl::models

namespace bnl::probes {

struct MlpCurvaturePoint;

/// The mean cross-entropy L(w) of an MLP flatten -> [Linear -> BatchNorm? -> ReLU]* -> Linear
/// (models::MLP with --bn none or custom, BN between Linear and ReLU) on a fixed batch, split
/// into micro-batches whose mean losses are averaged (as LandscapeProbe::loss_fn does):
///   Z_l = A_{l-1} W_l^T + b_l,  U_l = (Z_l - mu_l) s_l,  Y_l = gamma_l U_l + beta_l,
///   A_l = max(Y_l, 0),  L = mean_i logsumexp(Z_L,i) - Z_L,i,y_i,
/// with s_l = 1 / sqrt(var_l + eps) of the micro-batch (training mode, or eval mode with batch
/// statistics) or of the running statistics (eval mode), which are never updated. Parameters
/// are w = the model's parameters() in order (W_1, b_1, gamma_1, beta_1, ..., W_L, b_L).
///
/// H v uses the R-operator R{f} = d/dt f(w + t v) at t = 0 of every quantity of the forward
/// and backward pass, e.g. for batch statistics
///   R U = s (R Z - mean(R Z) - U mean(U R Z)),
///   R dZ = (R s / s) dZ + s (R dU - mean(R dU) - R U c - U R c),  c = mean(dU U),
/// and R{(softmax - onehot) / n} = (p R z - p (p . R z)) / n for the logits; ReLU's mask is
/// constant (its second derivative is zero almost everywhere, as in autograd).
class MlpCurvature {
 public:
  /// Empty when `model` (with these parameters, in this order) is supported; otherwise why not.
  /// Needs a models::MLP whose `net` holds Linear (with bias), optionally our BatchNorm over
  /// [N, C] with the exact backward, then ReLU, repeated, ending in a Linear; no BN noise;
  /// float32 or float64 parameters on one device; params equal to model.parameters().
  static std::string unsupported_reason(models::Classifier& model, const std::vector<torch::Tensor>& params);

  /// Which matrix hvp() applies: the Hessian H (the default) or the Gauss-Newton matrix G of
  /// gvp(). With GaussNewton, a HessianOperator built on this object applies G through every
  /// instrument that takes a HessianOperator (Lanczos, trace, SLQ density), while its loss()
  /// and gradient() stay the cross entropy's (unlike ggn_surrogate_loss, whose are 0).
  enum class Product { Hessian, GaussNewton };

  /// Binds to `model` (which must outlive this object; its parameters are read afresh at every
  /// evaluate()) and the batch x [N, ...] (flattened to [N, in]), y [N] (int64), split into
  /// micro-batches of `microbatch` rows (0 = one batch). On the CPU, hvp() computes BN's and
  /// ReLU's element-wise terms in fused loops (two passes over each [m, c] activation instead
  /// of about a dozen tensor operations); `fused_cpu = false` keeps libtorch's tensor operations,
  /// the path every other device takes (tests compare the two). Throws std::invalid_argument
  /// with unsupported_reason when the model is not supported, c10::Error on a bad batch.
  /// `product` chooses what hvp() returns (Product).
  MlpCurvature(models::Classifier& model, const std::vector<torch::Tensor>& params, const torch::Tensor& x,
               const torch::Tensor& y, std::int64_t microbatch, bool fused_cpu = true,
               Product product = Product::Hessian);
  ~MlpCurvature();
  MlpCurvature(const MlpCurvature&) = delete;
  MlpCurvature& operator=(const MlpCurvature&) = delete;

  /// Everything the backward and R passes need at one point w: activations, BN statistics,
  /// softmax and backward signals of every micro-batch. Opaque.
  using Point = MlpCurvaturePoint;

  /// L(w) and dL/dw (one tensor per parameter, shapes and dtype of the parameters) at the
  /// model's current weights; keeps the pass's intermediates in the returned point when
  /// `keep` (for hvp), drops them otherwise.
  std::shared_ptr<const Point> evaluate(double* loss, std::vector<torch::Tensor>* grads, bool keep) const;

  /// H v at `point` for v given per parameter (shapes of the parameters, any floating dtype);
  /// returns H v per parameter in the parameters' dtype. G v (gvp()) instead when the object
  /// was built with Product::GaussNewton.
  std::vector<torch::Tensor> hvp(const Point& point, const std::vector<torch::Tensor>& v) const;

  /// G v at `point`, G = (1/M) sum_m J_m^T H_m J_m the generalised Gauss-Newton matrix of the
  /// same loss (probes/ggn_operator.h: J_m = dz_m/dw the Jacobian of micro-batch m's logits [N_m
  /// K, P], coupled across the micro-batch's examples through BN's batch statistics; H_m =
  /// blockdiag_i (diag(p_i) - p_i p_i^T) / N_m): J_m v by the R-forward hvp() also runs (up to
  /// the logits' R z), H_m R z (the R of the logits' gradient), then an ordinary backward pass
  /// (vector-Jacobian product, BN's exact backward) of H_m R z instead of hvp()'s R-backward:
  /// none of the terms with the point's own gradients (dL/dY, dL/dZ, mean(dU U)) times R of an
  /// activation or of BN's statistics. v as for hvp(); returns G v per parameter in the
  /// parameters' dtype (mlp_ggn_product.cpp).
  std::vector<torch::Tensor> gvp(const Point& point, const std::vector<torch::Tensor>& v) const;

 private:
  struct Layer {
    torch::Tensor weight, bias;             // [out, in], [out]
    models::BatchNormImpl* bn = nullptr;    // after this Linear; owned by the model
    std::int64_t weight_index = 0;          // position of weight in params (bias follows)
    std::int64_t gamma_index = -1;          // position of gamma in params (beta follows)
  };
  // R of every layer's input (undefined = 0 for the data), of BN's U and of k = mean(U R Z)
  // [out] (BN layers only) in one micro-batch's R-forward pass.
  struct RForward {
    std::vector<torch::Tensor> r_in, r_u, r_k;
  };
  // v per parameter in the parameters' dtype, contiguous, after checking v and point.
  std::vector<torch::Tensor> directions(const Point& point, const std::vector<torch::Tensor>& v, const char* who) const;
  // Whether the products take the fused CPU loops.
  bool fused() const;
  // The R-forward of micro-batch k along `dir`, shared by hvp() and gvp(): fills *r and
  // returns R z of the logits [m, K], i.e. J_k v. r_forward_fused is the same with BN's and
  // ReLU's element-wise terms in fused loops (CPU, element type T).
  torch::Tensor r_forward(const Point& point, std::size_t k, const std::vector<torch::Tensor>& dir, RForward* r) const;
  template <typename T>
  torch::Tensor r_forward_fused(const Point& point, std::size_t k, const std::vector<torch::Tensor>& dir,
                                RForward* r) const;
  template <typename T>
  std::vector<torch::Tensor> hvp_fused(const Point& point, const std::vector<torch::Tensor>& dir) const;
  template <typename T>
  std::vector<torch::Tensor> gvp_fused(const Point& point, const std::vector<torch::Tensor>& dir) const;
  // R Z of `layer` [m, out] from its input A [m, in] and R A (undefined = 0) along `dir`; the
  // R-forward step both hvp paths share, so it also keeps R A in `*kept_r_input` for their
  // backward pass.
  static torch::Tensor r_preactivation(const Layer& layer, const torch::Tensor& input, const torch::Tensor& r_input,
                                       const std::vector<torch::Tensor>& dir, torch::Tensor* kept_r_input);

  models::Classifier* model_ = nullptr;
  bool fused_cpu_ = true;
  Product product_ = Product::Hessian;
  std::vector<Layer> layers_;
  std::size_t num_params_ = 0;
  std::vector<torch::Tensor> xs_, ys_;      // micro-batches: [m, in0] in the parameters' dtype, [m]
};

}  // namespace bnl::probes
