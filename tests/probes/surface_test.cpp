// Loss surfaces (Li et al. 2018): filter normalisation against per-filter norms computed here
// element by element, grid cells against the model evaluated directly at theta + a x + b y,
// the gradient line against gradient_path (the probe's loss_path), eigen directions against a
// dense Hessian's eigenvectors.
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/surface.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>

#include <Eigen/Eigenvalues>
#include <torch/nn/functional/loss.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/norm_spec.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/gradient_path.h"
#include "bnlandscape/probes/hessian_operator.h"

using namespace bnl;
using probes::Direction;

namespace {

std::shared_ptr<models::Classifier> small_model(const std::string& arch, torch::Dtype dtype, std::uint64_t seed) {
  models::ModelSpec s;
  s.arch = arch;
  s.in_channels = arch == "cnn" ? 2 : 1;
  s.input_size = arch == "cnn" ? 8 : 4;
  s.hidden_dims = {8, 6};
  s.conv_channels = {3, 4};
  s.norm.kind = models::NormKind::Custom;
  s.placement = models::BnPlacement::All;
  torch::manual_seed(seed);
  auto m = models::make_model(s);
  m->to(dtype);
  models::set_running_stats_updates(*m, false);
  return m;
}

struct Data {
  torch::Tensor x, y;
};

Data make_data(std::int64_t n, std::int64_t c, std::int64_t hw, torch::Dtype dtype, std::uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({n, c, hw, hw}, dtype), torch::randint(0, 10, {n}, torch::kLong)};
}

/// A float64 MLP of small_model(model_seed) in training mode, `n` inputs of
/// make_data(n, 1, 4, float64, data_seed), its parameters and the whole-batch float64 loss.
struct TrainingMlp {
  std::shared_ptr<models::Classifier> m;
  Data d;
  std::vector<torch::Tensor> params;
  probes::LossFn loss;
};

TrainingMlp training_mlp(std::uint64_t model_seed, std::int64_t n, std::uint64_t data_seed) {
  TrainingMlp t;
  t.m = small_model("mlp", torch::kFloat64, model_seed);
  t.m->train();
  t.d = make_data(n, 1, 4, torch::kFloat64, data_seed);
  t.params = t.m->parameters();
  t.loss = probes::batched_loss(*t.m, t.d.x, t.d.y, n, torch::kFloat64);
  return t;
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

bool bitwise_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// The norm of filter j of t, summed element by element in double.
double filter_norm_by_hand(const torch::Tensor& t, std::int64_t j) {
  const auto row = t.detach().to(torch::kDouble).contiguous()[j].reshape({-1});
  const double* p = row.data_ptr<double>();
  double sq = 0;
  for (std::int64_t i = 0; i < row.numel(); ++i) sq += p[i] * p[i];
  return std::sqrt(sq);
}

double direct_loss(models::Classifier& m, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  return torch::nn::functional::cross_entropy(m.forward(x), y).item<double>();
}

}  // namespace

TEST(Surface, FilterNormalisedDirectionHasTheWeightsFilterNorms) {
  for (const std::string arch : {"mlp", "cnn"}) {
    auto m = small_model(arch, torch::kFloat32, 1);
    const auto params = m->parameters();
    auto d = probes::normal_direction(params, 7);
    const auto raw = clones(d);
    probes::filter_normalize(d, params, /*include_bn_bias=*/false);
    bool saw_conv = false;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i].dim() <= 1) {
        EXPECT_EQ(d[i].abs().max().item<float>(), 0.0f) << arch << " tensor " << i;
        continue;
      }
      saw_conv = saw_conv || params[i].dim() == 4;
      for (std::int64_t j = 0; j < params[i].size(0); ++j) {
        const double want = filter_norm_by_hand(params[i], j);
        EXPECT_NEAR(filter_norm_by_hand(d[i], j), want, 1e-6 * want) << arch << " tensor " << i << " filter " << j;
        // Only the scale changed: the filter still points where the random one did.
        const auto a = d[i][j].reshape({-1}).to(torch::kDouble), b = raw[i][j].reshape({-1}).to(torch::kDouble);
        EXPECT_NEAR((a.dot(b) / (a.norm() * b.norm())).item<double>(), 1.0, 1e-6);
      }
      EXPECT_TRUE(torch::allclose(probes::filter_norms(d[i]), probes::filter_norms(params[i]), 1e-6, 0));
    }
    EXPECT_EQ(saw_conv, arch == "cnn");

    auto with_bias = probes::normal_direction(params, 7);
    probes::filter_normalize(with_bias, params, /*include_bn_bias=*/true);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i].dim() <= 1)
        EXPECT_TRUE(torch::equal(with_bias[i], params[i].detach())) << i;
      else
        EXPECT_TRUE(torch::equal(with_bias[i], d[i])) << i;
    }
  }
}

TEST(Surface, NormalDirectionIsSeededAndStandardNormal) {
  auto m = small_model("mlp", torch::kFloat32, 1);
  const auto params = m->parameters();
  const auto a = probes::normal_direction(params, 3), b = probes::normal_direction(params, 3),
             c = probes::normal_direction(params, 4);
  EXPECT_TRUE(bitwise_equal(a, b));
  EXPECT_FALSE(bitwise_equal(a, c));
  const auto flat = probes::flatten(a).to(torch::kDouble);
  ASSERT_EQ(flat.numel(), probes::numel(params));
  // P standard normals: mean within 4 / sqrt(P), variance within 30%.
  EXPECT_GT(flat.numel(), 200);
  EXPECT_NEAR(flat.mean().item<double>(), 0.0, 4.0 / std::sqrt(static_cast<double>(flat.numel())));
  EXPECT_NEAR(flat.var().item<double>(), 1.0, 0.3);
}

TEST(Surface, GridAxisHitsBothEnds) {
  EXPECT_EQ(probes::grid_axis(-1, 1, 5), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(probes::grid_axis(0.5, 2, 1), (std::vector<double>{0.5}));
  EXPECT_EQ(probes::grid_axis(-0.3, 0.7, 11).back(), 0.7);
  EXPECT_THROW(probes::grid_axis(0, 1, 0), c10::Error);
}

TEST(Surface, CellsEqualTheModelEvaluatedAtThoseWeightsAndWeightsComeBack) {
  for (const bool train_mode : {true, false}) {
    auto m = small_model("cnn", torch::kFloat32, 2);
    m->train(train_mode);
    const auto d = make_data(40, 2, 8, torch::kFloat32, 3);
    const auto params = m->parameters();
    const auto theta = clones(params);
    const auto buffers = clones(m->buffers());
    probes::SurfacePlane plane;
    plane.alpha = probes::grid_axis(-1, 1, 3);
    plane.beta = probes::grid_axis(-0.5, 0.5, 3);
    plane.x = probes::normal_direction(params, 1);
    plane.y = probes::normal_direction(params, 2);
    probes::filter_normalize(plane.x, params, false);
    probes::filter_normalize(plane.y, params, true);
    std::vector<std::int64_t> all(9);
    std::iota(all.begin(), all.end(), 0);
    std::vector<probes::LossAcc> got(9);
    std::vector<std::int64_t> order;
    // One batch, so that BN in training mode sees the whole set as direct_loss does.
    probes::evaluate_cells(params, plane, all, [&] { return probes::evaluate_batched(*m, d.x, d.y, 40); },
                           [&](std::int64_t c, const probes::LossAcc& v) {
                             got[static_cast<std::size_t>(c)] = v;
                             order.push_back(c);
                           });
    EXPECT_EQ(order, all);
    EXPECT_TRUE(bitwise_equal(params, theta));
    EXPECT_TRUE(bitwise_equal(m->buffers(), buffers));
    // The centre is the checkpoint itself.
    EXPECT_NEAR(got[4].loss, direct_loss(*m, d.x, d.y), 1e-6);
    for (const std::int64_t c : {0, 5, 8}) {
      const double a = plane.alpha[c / 3], b = plane.beta[c % 3];
      {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < params.size(); ++i)
          params[i].copy_(theta[i].to(torch::kDouble).add(plane.x[i].to(torch::kDouble), a)
                              .add(plane.y[i].to(torch::kDouble), b).to(torch::kFloat32));
      }
      const double want = direct_loss(*m, d.x, d.y);
      EXPECT_NEAR(got[static_cast<std::size_t>(c)].loss, want, 1e-5 * std::max(1.0, want)) << c;
      {
        torch::NoGradGuard no_grad;
        const auto pred = m->forward(d.x).argmax(1);
        const double want_acc = pred.eq(d.y).to(torch::kDouble).mean().item<double>();
        EXPECT_DOUBLE_EQ(got[static_cast<std::size_t>(c)].acc, want_acc);
      }
      probes::restore(params, theta);
    }
    // Away from the centre the loss changes: the directions did move the weights.
    double spread = 0;
    for (const auto& v : got) spread = std::max(spread, std::abs(v.loss - got[4].loss));
    EXPECT_GT(spread, 1e-4);
  }
}

TEST(Surface, BatchedEvaluationIsTheExampleMean) {
  auto m = small_model("mlp", torch::kFloat64, 4);
  m->eval();
  const auto d = make_data(23, 1, 4, torch::kFloat64, 5);
  const auto whole = probes::evaluate_batched(*m, d.x, d.y, 100);
  // Batches 7, 7, 9 (the lone last example joins the batch before): in evaluation mode the
  // batching must not matter.
  const auto batched = probes::evaluate_batched(*m, d.x, d.y, 7);
  EXPECT_NEAR(batched.loss, direct_loss(*m, d.x, d.y), 1e-12);
  EXPECT_NEAR(whole.loss, batched.loss, 1e-12);
  EXPECT_EQ(whole.acc, batched.acc);
  // The differentiable loss is the same number.
  const double differentiable = probes::batched_loss(*m, d.x, d.y, 7, torch::kFloat64)().item<double>();
  EXPECT_NEAR(differentiable, batched.loss, 1e-12);
}

TEST(Surface, GradientLineMatchesGradientPathLossPath) {
  const auto [m, d, params, loss] = training_mlp(6, 32, 7);
  const std::vector<double> steps{0.05, 0.2, 0.8};
  const auto path = probes::gradient_path(params, loss, steps, nullptr);
  double gn = 0;
  probes::SurfacePlane plane;
  plane.x = probes::gradient_direction(params, loss, &gn);
  EXPECT_NEAR(gn, path.grad_norm, 1e-12 * gn);
  EXPECT_NEAR(probes::direction_norm(plane.x), 1.0, 1e-12);
  plane.alpha = {0.0};
  for (const double s : steps) plane.alpha.push_back(s * gn);
  std::vector<probes::LossAcc> got;
  probes::evaluate_cells(params, plane, {0, 1, 2, 3}, [&] { return probes::evaluate_batched(*m, d.x, d.y, 32); },
                         [&](std::int64_t, const probes::LossAcc& v) { got.push_back(v); });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_NEAR(got[0].loss, path.loss, 1e-12);
  for (std::size_t j = 0; j < steps.size(); ++j) EXPECT_NEAR(got[j + 1].loss, path.loss_path[j], 1e-10) << j;
  // Steepest descent: the first small step lowers the loss.
  EXPECT_LT(got[1].loss, got[0].loss);
}

TEST(Surface, EigenDirectionsAreTheDenseHessiansTopEigenvectors) {
  const auto [m, d, params, loss] = training_mlp(8, 24, 9);
  const auto e = probes::hessian_eigen_directions(params, loss, 2, 1e-10, 11);
  ASSERT_EQ(e.directions.size(), 2u);
  EXPECT_TRUE(e.converged);
  EXPECT_GT(e.hvp_count, 0);

  probes::HessianOperator op(params, loss);
  const auto p = op.rows();
  Eigen::MatrixXd h(p, p);
  for (Eigen::Index j = 0; j < p; ++j) {
    auto unit = torch::zeros({p}, torch::kDouble);
    unit[j] = 1.0;
    h.col(j) = probes::to_eigen(op.hvp(unit));
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (h + h.transpose()));
  for (int k = 0; k < 2; ++k) {
    const double want = es.eigenvalues()[p - 1 - k];
    EXPECT_NEAR(e.eigenvalues[static_cast<std::size_t>(k)], want, 1e-8 * std::abs(es.eigenvalues()[p - 1])) << k;
    const Eigen::VectorXd v = probes::to_eigen(probes::flatten(e.directions[static_cast<std::size_t>(k)]));
    EXPECT_NEAR(v.norm(), 1.0, 1e-12);
    EXPECT_NEAR(std::abs(v.dot(es.eigenvectors().col(p - 1 - k))), 1.0, 1e-6) << k;
  }
}

TEST(Surface, WeightsComeBackWhenEvaluationThrows) {
  auto m = small_model("mlp", torch::kFloat32, 1);
  const auto params = m->parameters();
  const auto theta = clones(params);
  probes::SurfacePlane plane;
  plane.alpha = {-1, 1};
  plane.x = probes::normal_direction(params, 1);
  int calls = 0;
  EXPECT_THROW(probes::evaluate_cells(params, plane, {0, 1},
                                      [&]() -> probes::LossAcc {
                                        if (++calls == 2) throw std::runtime_error("boom");
                                        return {};
                                      },
                                      [](std::int64_t, const probes::LossAcc&) {}),
               std::runtime_error);
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(bitwise_equal(params, theta));
  EXPECT_THROW(probes::evaluate_cells(params, plane, {2}, [] { return probes::LossAcc{}; },
                                      [](std::int64_t, const probes::LossAcc&) {}),
               c10::Error);
}

TEST(Surface, EvaluateAtGivesTheLossOfTheOtherWeightsAndRestoresTheParameters) {
  // Training mode: BN uses batch statistics, so m at w2 is m2 whatever m's buffers hold.
  auto m = small_model("mlp", torch::kFloat32, 1), m2 = small_model("mlp", torch::kFloat32, 2);
  m->train();
  m2->train();
  const auto d = make_data(40, 1, 4, torch::kFloat32, 3);
  const auto params = m->parameters();
  const auto theta = clones(params);
  const auto buffers = clones(m->buffers());
  const Direction w2 = clones(m2->parameters());
  ASSERT_FALSE(bitwise_equal(params, w2));
  const auto want = probes::evaluate_batched(*m2, d.x, d.y, 16);
  const auto got = probes::evaluate_at(params, w2, [&] { return probes::evaluate_batched(*m, d.x, d.y, 16); });
  EXPECT_EQ(got.loss, want.loss);
  EXPECT_EQ(got.acc, want.acc);
  EXPECT_TRUE(bitwise_equal(params, theta));
  EXPECT_TRUE(bitwise_equal(m->buffers(), buffers));
  EXPECT_THROW(probes::evaluate_at(params, w2, []() -> probes::LossAcc { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_TRUE(bitwise_equal(params, theta));
  EXPECT_THROW(probes::evaluate_at(params, Direction(w2.begin(), w2.end() - 1), [] { return probes::LossAcc{}; }),
               c10::Error);
}

TEST(Surface, RankSharesPartitionTheCells) {
  std::vector<std::int64_t> cells{3, 4, 5, 9, 10, 11, 12};
  std::multiset<std::int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    const auto share = probes::rank_share(cells, r, 3);
    EXPECT_GE(share.size(), 2u);
    seen.insert(share.begin(), share.end());
  }
  EXPECT_EQ(seen, std::multiset<std::int64_t>(cells.begin(), cells.end()));
  EXPECT_EQ(probes::rank_share(cells, 0, 1), cells);
}
