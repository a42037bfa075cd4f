// Per-layer Hessian blocks against the diagonal blocks of the dense float64 Hessian.
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/layer_hessian.h"

#include <gtest/gtest.h>

#include <cmath>

#include <Eigen/Eigenvalues>
#include <torch/nn/functional/loss.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/norm_spec.h"
#include "bnlandscape/probes/flat_params.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

/// 16-pixel inputs -> 8 -> BN -> ReLU -> 6 -> BN -> ReLU -> 10, float64, BN in training mode
/// with frozen running statistics (as the probes use it).
struct SmallNet {
  std::shared_ptr<models::Classifier> model;
  torch::Tensor x, y;
  LossFn loss() const {
    auto m = model;
    auto xx = x, yy = y;
    return [m, xx, yy] { return torch::nn::functional::cross_entropy(m->forward(xx), yy); };
  }
};

SmallNet small_net(bool bn) {
  torch::manual_seed(7);
  models::ModelSpec s;
  s.arch = "mlp";
  s.in_channels = 1;
  s.input_size = 4;
  s.hidden_dims = {8, 6};
  s.norm.kind = bn ? models::NormKind::Custom : models::NormKind::None;
  s.norm.backward = models::BnBackward::Exact;  // the gradient of the loss, as the probes use
  SmallNet n;
  n.model = models::make_model(s);
  n.model->to(torch::kFloat64);
  models::set_running_stats_updates(*n.model, false);
  n.model->train();
  n.x = torch::randn({24, 1, 4, 4}, torch::kFloat64);
  n.y = torch::randint(0, 10, {24}, torch::kInt64);
  return n;
}

Eigen::MatrixXd dense_hessian(const HessianOperator& op) { return testing::dense_symmetric(op); }

TEST(LayerHessian, BlocksAreTheModulesOwningParametersInFlatOrder) {
  const auto n = small_net(true);
  const auto params = n.model->parameters();
  const auto blocks = parameter_blocks(*n.model, params);
  ASSERT_EQ(blocks.size(), 5u);
  const std::vector<std::string> names{"net.0", "net.1", "net.3", "net.4", "net.6"};
  const std::vector<std::string> kinds{"linear", "norm", "linear", "norm", "linear"};
  const std::vector<std::int64_t> sizes{16 * 8 + 8, 2 * 8, 8 * 6 + 6, 2 * 6, 6 * 10 + 10};
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks[i].name, names[i]);
    EXPECT_EQ(blocks[i].kind, kinds[i]);
    EXPECT_EQ(blocks[i].size, sizes[i]);
    ASSERT_EQ(blocks[i].ranges.size(), 2u);  // weight and bias, gamma and beta
    EXPECT_EQ(blocks[i].ranges[0].first, offset);
    offset += blocks[i].size;
  }
  EXPECT_EQ(offset, bnl::probes::numel(params));
  // Without BN: the three Linear layers only.
  const auto plain = small_net(false);
  const auto pb = parameter_blocks(*plain.model, plain.model->parameters());
  ASSERT_EQ(pb.size(), 3u);
  EXPECT_EQ(pb[1].name, "net.2");
  // A subset of the parameters: only the blocks it touches.
  const auto sub = parameter_blocks(*n.model, {params[2], params[3]});
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].name, "net.1");
  EXPECT_EQ(sub[0].ranges[0], std::make_pair(std::int64_t{0}, std::int64_t{8}));
}

TEST(LayerHessian, TopEigenvaluesEqualThoseOfTheDenseDiagonalBlocks) {
  for (bool bn : {true, false}) {
    const auto n = small_net(bn);
    const auto params = n.model->parameters();
    HessianOperator op(params, n.loss());
    const Eigen::MatrixXd h = dense_hessian(op);
    const auto blocks = parameter_blocks(*n.model, params);
    LanczosOptions opt;
    opt.k = 3;
    opt.tol = 1e-10;
    opt.seed = 5;
    const auto before = op.hvp_count();
    const auto r = layer_top_eigs(op, blocks, opt);
    EXPECT_TRUE(r.converged);
    EXPECT_EQ(r.hvp_count, op.hvp_count() - before);
    ASSERT_EQ(r.eigenvalues.size(), blocks.size());
    const double lambda_max = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(h).eigenvalues().maxCoeff();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const auto& blk = blocks[b];
      ASSERT_EQ(blk.ranges.size(), 2u);
      // The block is contiguous here (weight then bias): the dense sub-matrix.
      const auto off = blk.ranges[0].first;
      const Eigen::MatrixXd hb = h.block(off, off, blk.size, blk.size);
      const Eigen::VectorXd ev = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(hb).eigenvalues();  // ascending
      for (int i = 0; i < 3; ++i) {
        const double want = ev[blk.size - 1 - i];
        EXPECT_NEAR(r.eigenvalues[b][i], want, 1e-8 * std::max(1.0, std::abs(want)))
            << blk.name << " eigenvalue " << i << (bn ? " (BN)" : " (no BN)");
      }
      // Cauchy interlacing: no block's top eigenvalue exceeds H's.
      EXPECT_LE(r.eigenvalues[b][0], lambda_max + 1e-9);
    }
  }
}

TEST(LayerHessian, BlockOperatorRestrictsTheProductAndChecksItsInput) {
  const auto n = small_net(true);
  const auto params = n.model->parameters();
  HessianOperator op(params, n.loss());
  const auto blocks = parameter_blocks(*n.model, params);
  const auto& b = blocks[1];  // net.1, BN gamma and beta
  BlockHessianOperator bop(op, b);
  EXPECT_EQ(bop.rows(), 16);
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(16, -1.0, 1.0), y(16);
  bop.perform_op(x.data(), y.data());
  Eigen::VectorXd full = Eigen::VectorXd::Zero(op.rows()), hfull(op.rows());
  full.segment(b.ranges[0].first, 16) = x;
  op.perform_op(full.data(), hfull.data());
  EXPECT_LT((y - hfull.segment(b.ranges[0].first, 16)).norm(), 1e-14 * std::max(1.0, y.norm()));
  ParamBlock bad = b;
  bad.ranges[1].second += 1000000;
  bad.size += 1000000;
  EXPECT_THROW(BlockHessianOperator(op, bad), c10::Error);
  LanczosOptions opt;
  opt.k = 16;  // not below the BN block's size
  EXPECT_THROW(layer_top_eigs(op, blocks, opt), c10::Error);
}

}  // namespace
}  // namespace bnl::probes
