#pragma once
/// \file
/// How much of the gradient lies in the top eigenspace of the curvature (Gur-Ari, Roberts and
/// Dyer 2018, "Gradient descent happens in a tiny subspace"; Ghorbani, Krishnan and Xiao 2019,
/// section 4: without BN the gradient concentrates in the outlier eigenspace, with BN it does
/// not).

#include <vector>

#include <Eigen/Core>

namespace bnl::probes {

/// The cumulative shares s_k = ||P_k g||^2 / ||g||^2 = sum_{j <= k} (v_j . g)^2 / ||g||^2 for
/// k = 1..K, where P_k projects onto the span of the first k columns v_1..v_k of `ritz`
/// [P x K] (orthonormal: Ritz vectors of the Hessian or GGN, in the order of their eigenvalues,
/// largest first) and g = `gradient` [P]. Each s_k lies in [0, 1] when the columns are
/// orthonormal; the function does not re-orthogonalise them, so a column that is off by
/// epsilon from orthonormality moves s_k by O(epsilon). With Ritz vectors v_hat_j of residual
/// r_j = ||A v_hat_j - theta_j v_hat_j|| and gap delta_j to the rest of the spectrum,
/// sin angle(v_hat_j, v_j) <= r_j / delta_j (Davis-Kahan), and |s_k - s_k(exact)| <=
/// 2 sqrt(2) sum_{j <= k} r_j / delta_j. A zero or non-finite gradient, or non-finite
/// vectors, give NaN shares (data, not an error). Throws (TORCH_CHECK, "expected X, got Y")
/// when K == 0 or the sizes disagree.
std::vector<double> topk_gradient_share(const Eigen::MatrixXd& ritz, const Eigen::VectorXd& gradient);

}  // namespace bnl::probes
