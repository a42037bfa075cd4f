#pragma once
/// \file
/// The plane of an optimisation trajectory (Li, Xu, Taylor, Studer and Goldstein 2018,
/// "Visualizing the loss landscape of neural nets", section 7): the top two principal
/// directions of the checkpoints' offsets from a chosen centre, for `surface --directions pca`.

#include <array>
#include <vector>

#include <torch/types.h>

namespace bnl::probes {

/// The trajectory's plane and the path's coordinates in it.
struct TrajectoryPca {
  /// Unit directions u_1, u_2, each [P] float64: the top two right singular vectors of
  /// D = [w_1 - w_c; ...; w_n - w_c] [n x P]. Signs: the checkpoint with the largest |u_j .
  /// (w_i - w_c)| has a positive coordinate along u_j.
  std::array<torch::Tensor, 2> directions;
  /// sigma_j^2 / sum_i sigma_i^2 = sigma_j^2 / ||D||_F^2 for j = 1, 2: the share of the
  /// offsets' sum of squares each direction explains (Li et al.'s "explained variance"; no
  /// mean is removed, see trajectory_pca()). Each in [0, 1], their sum <= 1, equal to 1
  /// exactly when the offsets lie in a plane.
  std::array<double, 2> explained_variance{};
  /// alpha_i = u_1 . (w_i - w_c), one per checkpoint, in the checkpoints' order.
  std::vector<double> alpha;
  /// beta_i = u_2 . (w_i - w_c), one per checkpoint, in the checkpoints' order.
  std::vector<double> beta;
};

/// PCA of the offsets d_i = w_i - w_c of `checkpoints` (each flattened [P], any floating dtype,
/// computed in float64) from `centre` w_c [P]. As Li et al. (2018, section 7) do, the matrix of
/// offsets is decomposed as it is, without subtracting the offsets' mean: the directions are
/// the best rank-2 subspace through w_c (the plot's origin), not through the path's centroid,
/// so the centre's own coordinates are (0, 0) exactly and the directions point along the path
/// as seen from w_c (the authors' code, loss-landscape/projection.py, fits sklearn's PCA, which
/// does centre the rows; on a path that ends at w_c the two differ little). The directions
/// are unit vectors in the parameters' own scale, not filter-normalised (section 7: filter
/// normalisation is for random directions). Computed through the Gram matrix D D^T [n x n] (Eigen's self-adjoint
/// solver) and u_j = D^T a_j / sigma_j: memory n x P doubles for D, time O(n^2 P); the
/// directions' error is O(eps sigma_1^2 / (sigma_2^2 - sigma_3^2)), far below what a plot
/// resolves. The centre may be one of the checkpoints (its offset is zero). Throws
/// bnl::ConfigError when fewer than 2 checkpoints are given, TORCH_CHECK on shape mismatch,
/// and bnl::DataError when the offsets span fewer than two directions (sigma_2 <= 1e-6 sigma_1).
TrajectoryPca trajectory_pca(const std::vector<torch::Tensor>& checkpoints, const torch::Tensor& centre);

}  // namespace bnl::probes
