#include "bnlandscape/probes/topk_share.h"

#include <cmath>
#include <limits>

#include <c10/util/Exception.h>

namespace bnl::probes {

std::vector<double> topk_gradient_share(const Eigen::MatrixXd& ritz, const Eigen::VectorXd& gradient) {
  TORCH_CHECK(ritz.cols() >= 1, "topk_gradient_share: expected at least one Ritz vector, got 0");
  TORCH_CHECK(ritz.rows() == gradient.size(), "topk_gradient_share: expected Ritz vectors of size ", gradient.size(),
              " (the gradient's), got ", ritz.rows());
  std::vector<double> shares(static_cast<std::size_t>(ritz.cols()), std::numeric_limits<double>::quiet_NaN());
  const double g2 = gradient.squaredNorm();
  if (!(g2 > 0.0) || !std::isfinite(g2) || !ritz.allFinite()) return shares;
  const Eigen::VectorXd coeffs = ritz.transpose() * gradient;
  double sum = 0.0;
  for (Eigen::Index k = 0; k < coeffs.size(); ++k) {
    sum += coeffs[k] * coeffs[k];
    shares[static_cast<std::size_t>(k)] = sum / g2;
  }
  return shares;
}

}  // namespace bnl::probes
