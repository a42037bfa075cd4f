#include "bnlandscape/probes/trajectory_pca.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <Eigen/Eigenvalues>
#include <c10/util/Exception.h>

#include "bnlandscape/core/error.h"

namespace bnl::probes {

TrajectoryPca trajectory_pca(const std::vector<torch::Tensor>& checkpoints, const torch::Tensor& centre) {
  const auto n = static_cast<std::int64_t>(checkpoints.size());
  if (n < 2)
    throw bnl::ConfigError("trajectory_pca: expected at least 2 checkpoints besides the centre, got " +
                           std::to_string(n));
  TORCH_CHECK(centre.defined() && centre.dim() == 1, "trajectory_pca: expected a flat centre [P], got shape ",
              centre.defined() ? centre.sizes() : torch::IntArrayRef{});
  const auto wc = centre.detach().to(torch::kCPU, torch::kDouble);
  std::vector<torch::Tensor> rows;
  rows.reserve(checkpoints.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& w = checkpoints[static_cast<std::size_t>(i)];
    TORCH_CHECK(w.defined() && w.dim() == 1 && w.numel() == wc.numel(), "trajectory_pca: expected checkpoint ", i,
                " of shape [", wc.numel(), "], got ", w.defined() ? w.sizes() : torch::IntArrayRef{});
    rows.push_back(w.detach().to(torch::kCPU, torch::kDouble) - wc);
  }
  const auto d = torch::stack(rows).contiguous();  // [n, P]
  const auto gram_t = d.mm(d.t()).contiguous();    // [n, n], symmetric; row-major = column-major
  const Eigen::MatrixXd gram = Eigen::Map<const Eigen::MatrixXd>(gram_t.data_ptr<double>(), n, n);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const Eigen::VectorXd lambda = eig.eigenvalues();  // ascending
  const double total = gram.trace();
  const double l1 = lambda[n - 1], l2 = lambda[n - 2];
  if (!(l2 > 1e-12 * l1))
    throw bnl::DataError("trajectory_pca: expected checkpoints whose offsets from the centre span at least two "
                         "directions, got singular values sigma_1 = " + std::to_string(std::sqrt(std::max(l1, 0.0))) +
                         ", sigma_2 = " + std::to_string(std::sqrt(std::max(l2, 0.0))));

  TrajectoryPca out;
  for (int j = 0; j < 2; ++j) {
    Eigen::VectorXd a = eig.eigenvectors().col(n - 1 - j);
    Eigen::Index big = 0;
    a.cwiseAbs().maxCoeff(&big);
    if (a[big] < 0.0) a = -a;
    auto at = torch::from_blob(a.data(), {n}, torch::kDouble).clone();
    auto u = d.t().mv(at);
    u = u / u.norm();  // = D^T a / sigma, renormalised against rounding
    out.directions[static_cast<std::size_t>(j)] = u;
    out.explained_variance[static_cast<std::size_t>(j)] = lambda[n - 1 - j] / total;
    const auto proj = d.mv(u).contiguous();
    auto& coord = j == 0 ? out.alpha : out.beta;
    coord.assign(proj.data_ptr<double>(), proj.data_ptr<double>() + n);
  }
  return out;
}

}  // namespace bnl::probes
