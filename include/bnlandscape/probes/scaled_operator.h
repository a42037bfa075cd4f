#pragma once
/// \file
/// Curvature in scale-free coordinates: D A D for a matrix-free operator A (the Hessian, the
/// Gauss-Newton matrix) and a diagonal D, and the two choices of D that make the top
/// eigenvalue blind to the reparametrisations BN and ReLU allow.
///
/// A weight block w_b feeding a normalisation layer that uses batch statistics is scale
/// invariant: BN(c (W x + b)) = BN(W x + b) for every c > 0 (up to BN's eps), so
/// L(c w_b) = L(w_b), grad_b L(c w) = grad_b L(w) / c and H_bb(c w) = H_bb(w) / c^2: raw
/// eigenvalues partly measure weight norms. With D = diag(d) and d scaling with w (d(c w) = c d(w)
/// on the block), D H D is invariant.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <c10/util/Exception.h>
#include <torch/types.h>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bnl::probes {

/// y = D A D x with D = diag(d), d [P] (applied as y = d * A(d * x), elementwise): the
/// operator whose eigenvalues are the scaled sharpness of Lyu, Li and Arora (2022, sharpness
/// on the sphere; d from layer_scaling) or the adaptive sharpness of Kwon et al. (2021, ASAM)
/// and Andriushchenko et al. (2023) (d = |w|, adaptive_scaling). `Op` is any operator with
/// Spectra's interface plus finite(), hvp_count() and options() (HessianOperator,
/// GgnOperator, BlockHessianOperator over a full vector, another ScaledOperator). Holds a
/// reference to `op`, which must outlive it. One product of D A D is one product of A plus two
/// elementwise products of P doubles.
template <class Op>
class ScaledOperator {
 public:
  /// Spectra reads the scalar type from the operator.
  using Scalar = double;

  /// Wraps `op` with the scaling `d` [P]; throws (TORCH_CHECK) unless d.size() == op.rows().
  ScaledOperator(const Op& op, Eigen::VectorXd d) : op_(op), d_(std::move(d)) {
    TORCH_CHECK(d_.size() == op_.rows(), "ScaledOperator: expected a scaling vector of size ", op_.rows(), ", got ",
                d_.size());
  }

  /// P, the number of rows of D A D.
  Eigen::Index rows() const { return op_.rows(); }
  /// P, the number of columns of D A D.
  Eigen::Index cols() const { return op_.cols(); }

  /// y_out[0..P) = d * A (d * x_in[0..P)); one product of A.
  void perform_op(const Scalar* x_in, Scalar* y_out) const {
    const Eigen::VectorXd dx = d_.cwiseProduct(Eigen::Map<const Eigen::VectorXd>(x_in, d_.size()));
    op_.perform_op(dx.data(), y_out);
    Eigen::Map<Eigen::VectorXd>(y_out, d_.size()).array() *= d_.array();
  }

  /// The scaling vector d [P].
  const Eigen::VectorXd& scaling() const { return d_; }
  /// The wrapped operator's finite().
  bool finite() const { return op_.finite() && d_.allFinite(); }
  /// Products of A so far (every product of D A D is one).
  std::int64_t hvp_count() const { return op_.hvp_count(); }
  /// The wrapped operator's options() (the products' dtype and device).
  torch::TensorOptions options() const { return op_.options(); }

 private:
  const Op& op_;
  Eigen::VectorXd d_;
};

/// The parameters of one Linear or Conv2d layer immediately followed, in an nn::Sequential, by
/// a normalisation layer (models::is_norm_layer: our BatchNorm, libtorch's BatchNorm1d/2d,
/// LpNorm). While that layer normalises with batch statistics (training mode, or eval with
/// BnEvalStats::Batch), the loss is invariant under w_b -> c w_b, c > 0, for the block
/// w_b = (weight, bias) jointly (each output channel's row and bias even separately; the issue
/// treats the layer as one block, as Lyu et al. 2022 do per layer). With running statistics
/// (eval mode) it is not.
struct ScaleInvariantBlock {
  /// Dotted module name of the Linear/Conv layer ("net.1", "conv.0", "features.4").
  std::string layer;
  /// Dotted names of its parameters as in the model's named_parameters() ("net.1.weight", ...).
  std::vector<std::string> names;
  /// The parameter tensors themselves (sharing storage with the model's).
  std::vector<torch::Tensor> params;
};

/// The scale-invariant blocks of `model`, in the order of its named_modules(): for every
/// nn::Sequential inside it (its own children included), each Linear/Conv2d child i whose next
/// child i + 1 is a normalisation layer. Empty for a model without normalisation.
std::vector<ScaleInvariantBlock> scale_invariant_blocks(const torch::nn::Module& model);

/// ||w_b||_2 over all of the block's parameters (weight and bias together).
double block_norm(const ScaleInvariantBlock& block);

/// d [P] for the `layer` scaling (Lyu, Li and Arora 2022, sharpness on the sphere): on the
/// entries of every block's parameters, the block's norm ||w_b||; 1 elsewhere. P and the order
/// are those of flatten(params); the blocks' tensors are found among `params` by identity.
/// Then d(c w_b) = c d(w_b) on the block and D H D is unchanged by w_b -> c w_b. Throws
/// (TORCH_CHECK) when a block's tensor is not among `params`.
Eigen::VectorXd layer_scaling(const std::vector<torch::Tensor>& params, const std::vector<ScaleInvariantBlock>& blocks);

/// d [P] for the `adaptive` scaling (Kwon et al. 2021, ASAM, section 3; Andriushchenko et al.
/// 2023, adaptive sharpness): d_j = |w_j| + eta elementwise over flatten(params). With eta = 0
/// (the default), D H D is invariant under every elementwise rescaling that leaves the function
/// unchanged, e.g. layer l times c and layer l + 1's weight times 1/c around a ReLU (positive
/// homogeneity), and under BN's block scaling. ASAM's eta > 0 keeps zero weights from having
/// zero curvature, at the cost of exact invariance. Throws (TORCH_CHECK) unless eta >= 0.
Eigen::VectorXd adaptive_scaling(const std::vector<torch::Tensor>& params, double eta = 0.0);

}  // namespace bnl::probes
