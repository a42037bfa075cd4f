#pragma once
/// \file
/// Loss surfaces around a set of weights, Li, Xu, Taylor, Studer and Goldstein 2018,
/// "Visualizing the Loss Landscape of Neural Nets": the loss and accuracy at
/// theta + alpha d1 (+ beta d2) on a grid of (alpha, beta), along filter-normalised random
/// directions (section 4), the top Hessian eigenvectors, the steepest-descent direction or
/// the principal directions of a training trajectory (section 7, probes/trajectory_pca.h).
/// No HDF5 and no CLI here: `bnlandscape surface` (cli/surface_command.h) stores the grids.

#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/probes/loss_fn.h"

namespace bnl::models {
class Classifier;
}  // namespace bnl::models

namespace bnl::probes {

/// A direction in parameter space: one tensor per parameter tensor, each of the parameter's
/// shape and dtype, in the order of the parameter list it was made for.
using Direction = std::vector<torch::Tensor>;

/// The L2 norms of the filters of `t`, as float64 [F]. A filter is a slice along dim 0 of a
/// tensor with two or more dims: an output channel [C_in, kH, kW] of a conv weight
/// [C_out, C_in, kH, kW], an output neuron's row [in] of a Linear weight [out, in]. Each element
/// of a 1-D tensor (bias, normalisation scale or shift) is its own filter, |t_i|; a 0-D
/// tensor is one filter.
torch::Tensor filter_norms(const torch::Tensor& t);

/// A direction of independent standard normal entries drawn from `seed` (std::mt19937_64 and
/// Box-Muller in float64, then converted to each parameter's dtype): the same seed gives the
/// same direction on every platform. Entries are drawn tensor by tensor in `params` order.
Direction normal_direction(const std::vector<torch::Tensor>& params, std::uint64_t seed);

/// Filter normalisation (Li et al. 2018, section 4, eq. in "Filter-Wise Normalization"), in
/// place: every filter d_ij of a tensor with two or more dims becomes
/// d_ij / (||d_ij|| + 1e-10) * ||theta_ij||, so that filter_norms(d_i) = filter_norms(theta_i).
/// 1-D tensors (biases and normalisation parameters) are set to zero, unless
/// `include_bn_bias`, when they are set to the weights themselves (d_i = theta_i), as in the
/// authors' code (net_plotter.normalize_directions_for_weights with ignore != 'biasbn'): each
/// element is then its own filter of norm |theta_ij|. `weights` must match `d` in count and
/// shapes; throws c10::Error otherwise.
void filter_normalize(Direction& d, const std::vector<torch::Tensor>& weights, bool include_bn_bias);

/// ||d||_2 over all of its tensors (computed in float64).
double direction_norm(const Direction& d);

/// `n` points evenly spaced over [lo, hi], both ends included (lo + (hi - lo) i / (n - 1));
/// n = 1 gives {lo}. Throws c10::Error for n < 1 or a non-finite end.
std::vector<double> grid_axis(double lo, double hi, std::int64_t n);

/// Mean cross-entropy (nats) and accuracy (fraction correct) of a set of examples.
/// Non-finite losses are NaN, never errors.
struct LossAcc {
  double loss = NAN;
  double acc = NAN;
};

/// Evaluates `model` as it is (training or evaluation mode, weights as they are) on images
/// x [N, C, H, W] and labels y [N] in consecutive batches of `batch` examples (a last batch of a
/// single example is folded into the one before it, since BN in training mode cannot normalise
/// one example), without autograd: the loss is sum of per-example cross-entropies / N, the
/// accuracy the fraction whose argmax logit is the label. x is cast to the model's dtype per
/// batch. Throws c10::Error for N = 0 or batch < 1.
LossAcc evaluate_batched(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y,
                         std::int64_t batch);

/// The same loss as evaluate_batched, differentiable with respect to the model's parameters
/// (for gradients and Hessian-vector products): sum over batches b of (n_b / N) * mean_b.
/// The closure holds x (cast to `dtype`) and y.
LossFn batched_loss(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y,
                    std::int64_t batch, torch::Dtype dtype = torch::kFloat32);

/// The unit steepest-descent direction -g / ||g|| at the current `params`, g = grad loss
/// (computed once, in the parameters' dtype); `grad_norm` (if given) receives ||g||. Throws
/// c10::Error when ||g|| is zero or not finite (there is no direction).
Direction gradient_direction(const std::vector<torch::Tensor>& params, const LossFn& loss,
                             double* grad_norm = nullptr);

/// Top Hessian eigenvectors as surface directions, with what the solver reported.
struct EigenDirections {
  std::vector<Direction> directions;  ///< unit eigenvectors, largest eigenvalue first
  std::vector<double> eigenvalues;    ///< their Ritz values, descending
  bool converged = false;             ///< every requested Ritz pair met the tolerance
  std::int64_t hvp_count = 0;         ///< Hessian-vector products used
};

/// The `count` largest algebraic eigenpairs of the Hessian of `loss` at the current `params`
/// by implicitly restarted Lanczos (Spectra, ncv = default_ncv(count, P), start vector
/// lanczos_start_vector with `seed`, relative tolerance `tol`; spectrum.h). Unconverged Ritz
/// vectors are still returned, with converged = false (an outcome, not an error). Throws
/// c10::Error when the loss, gradient or a product is not finite, or count is not in [1, P).
EigenDirections hessian_eigen_directions(const std::vector<torch::Tensor>& params, const LossFn& loss,
                                         int count, double tol, std::uint64_t seed);

/// The plane (or line) of a surface: theta + alpha[i] x + beta[j] y. A 1-D surface has an
/// empty `beta` and `y`. Cell c of the grid is (i, j) = (c / nb, c % nb) with
/// nb = max(1, beta.size()), i.e. the row-major index of loss [alpha.size() x beta.size()].
struct SurfacePlane {
  std::vector<double> alpha;
  std::vector<double> beta;
  Direction x;
  Direction y;
  /// Number of cells: alpha.size() * max(1, beta.size()).
  std::int64_t cells() const {
    return static_cast<std::int64_t>(alpha.size() * std::max<std::size_t>(1, beta.size()));
  }
};

/// For each cell c of `cells`, in order: sets `params` in place to theta + alpha x + beta y
/// (computed afresh from the saved theta in the parameters' dtype, so a cell's weights do
/// not depend on which cells came before it), calls `eval` and passes the result to
/// `on_cell(c, value)`. The parameters are restored bit for bit afterwards, also when `eval`
/// or `on_cell` throws. Throws c10::Error for a direction that does not match `params` or a
/// cell outside the grid.
void evaluate_cells(const std::vector<torch::Tensor>& params, const SurfacePlane& plane,
                    const std::vector<std::int64_t>& cells, const std::function<LossAcc()>& eval,
                    const std::function<void(std::int64_t, const LossAcc&)>& on_cell);

/// Sets `params` in place to `weights` (one tensor per parameter, of its shape; copied into
/// the parameter's dtype and device), calls `eval` and returns its result: the loss at a
/// trajectory's checkpoint (Li et al. 2018, section 7), evaluated exactly rather than on the
/// plane. Only the parameters move: the model's buffers (BN running statistics) stay as they
/// are, as for every cell of evaluate_cells. The parameters are restored bit for bit
/// afterwards, also when `eval` throws. Throws c10::Error for weights that do not match.
LossAcc evaluate_at(const std::vector<torch::Tensor>& params, const Direction& weights,
                    const std::function<LossAcc()>& eval);

/// Rank `rank`'s share of `cells` when `world_size` ranks split them: the entries at positions
/// rank, rank + world_size, ... (round robin, so neighbouring cells, which cost the same, are
/// spread evenly).
std::vector<std::int64_t> rank_share(const std::vector<std::int64_t>& cells, int rank, int world_size);

}  // namespace bnl::probes
