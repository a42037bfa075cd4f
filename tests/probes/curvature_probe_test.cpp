// LandscapeProbe's curvature instruments beyond the Hessian (issue 24): --curvature ggn against a
// Gauss-Newton matrix J^T H_out J formed from the exact Jacobian, the scaled top eigenvalues
// against dense D H D and D G D, the gradient's share in the top-k against exact eigenvectors,
// the effective learning rate, and the invariances that make the scaled sharpness worth having.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/probes/scaled_operator.h"
#include "probes/problems.h"

using namespace bnl;

namespace {

namespace F = torch::nn::functional;

constexpr std::int64_t kExamples = 16;

models::ModelSpec spec_of(models::NormKind kind) {
  auto s = probes::testing::small_mlp_spec(4, {6, 5}, kind);
  s.norm.backward = models::BnBackward::Exact;
  return s;
}

/// A float64 source model with running statistics moved off their initial values (so that
/// evaluation mode differs from training mode), and a probe set.
struct Case {
  models::ModelSpec spec;
  std::shared_ptr<models::Classifier> model;
  torch::Tensor x, y;
};

Case make_case(models::NormKind kind, std::uint64_t seed) {
  torch::manual_seed(seed);
  Case c;
  c.spec = spec_of(kind);
  c.model = models::make_model(c.spec);
  c.model->to(torch::kFloat64);
  c.x = torch::randn({kExamples, 1, 4, 4}, torch::kFloat64);
  c.y = torch::randint(0, 10, {kExamples}, torch::kInt64);
  torch::NoGradGuard no_grad;
  c.model->train();
  for (int i = 0; i < 3; ++i) c.model->forward(torch::randn({kExamples, 1, 4, 4}, torch::kFloat64));
  return c;
}

probes::ProbeConfig config(bool eval, std::int64_t microbatch) {
  probes::ProbeConfig cfg;
  cfg.probe_dtype = "float64";
  cfg.probe_bn_mode = eval ? "eval" : "train";
  cfg.probe_microbatch = microbatch;
  cfg.tol = 1e-10;
  cfg.top_k = 3;
  cfg.bottom_k = 1;
  cfg.trace_samples = 64;
  cfg.density_runs = 2;
  cfg.density_steps = 30;
  cfg.layer_top_k = 2;
  cfg.curvature = "hessian,ggn";
  cfg.sharpness_scaling = "layer,adaptive";
  return cfg;
}

/// The probe's own view of the model, built independently: a float64 copy with exact BN
/// backward, running statistics frozen, in the probe's BN mode.
std::shared_ptr<models::Classifier> reference_model(const Case& c, bool eval) {
  auto m = models::make_model(c.spec);
  m->to(torch::kFloat64);
  probes::copy_state(*c.model, *m);
  models::set_running_stats_updates(*m, false);
  if (eval)
    m->eval();
  else
    m->train();
  return m;
}

/// G = (1/M) sum_m J_m^T H_m J_m from the exact Jacobian J_m [N_m K, P] of each micro-batch's
/// logits (one backward pass per logit), H_m = blockdiag_i(diag(p_i) - p_i p_i^T) / N_m.
Eigen::MatrixXd dense_ggn(models::Classifier& m, const std::vector<torch::Tensor>& params, const torch::Tensor& x,
                          std::int64_t microbatch) {
  const std::int64_t p = probes::numel(params), n = x.size(0), mb = microbatch > 0 ? microbatch : n;
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(p, p);
  int chunks = 0;
  for (std::int64_t b = 0; b < n; b += mb, ++chunks) {
    const auto z = m.forward(x.slice(0, b, b + mb));
    const std::int64_t rows = z.size(0), k = z.size(1);
    Eigen::MatrixXd jac(rows * k, p);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < k; ++j) {
        auto grads = torch::autograd::grad({z[i][j]}, params, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
        for (std::size_t t = 0; t < grads.size(); ++t)
          if (!grads[t].defined()) grads[t] = torch::zeros_like(params[t]);
        jac.row(i * k + j) = probes::to_eigen(probes::flatten(grads)).transpose();
      }
    const auto prob = probes::testing::to_matrix(torch::softmax(z.detach(), 1));
    Eigen::MatrixXd hout = Eigen::MatrixXd::Zero(rows * k, rows * k);
    for (std::int64_t i = 0; i < rows; ++i) {
      const Eigen::VectorXd pi = prob.row(i).transpose();
      hout.block(i * k, i * k, k, k) = (Eigen::MatrixXd(pi.asDiagonal()) - pi * pi.transpose()) / double(rows);
    }
    g += jac.transpose() * hout * jac;
  }
  return g / double(chunks);
}

/// The Hessian of the probe's loss (mean of micro-batch means), column by column.
Eigen::MatrixXd dense_hessian(models::Classifier& m, const std::vector<torch::Tensor>& params, const Case& c,
                              std::int64_t microbatch) {
  const std::int64_t n = c.x.size(0), mb = microbatch > 0 ? microbatch : n;
  probes::LossFn loss = [&]() {
    torch::Tensor total;
    for (std::int64_t b = 0; b < n; b += mb) {
      auto l = F::cross_entropy(m.forward(c.x.slice(0, b, b + mb)), c.y.slice(0, b, b + mb));
      total = total.defined() ? total + l : l;
    }
    return total / double(n / mb);
  };
  probes::HessianOperator op(params, loss);
  return probes::testing::dense_symmetric(op);
}

/// Eigenvalues descending and the matching eigenvectors.
struct Eig {
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
};
Eig eig_desc(const Eigen::MatrixXd& a) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (a + a.transpose()));
  return {es.eigenvalues().reverse(), es.eigenvectors().rowwise().reverse()};
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

/// ||P_j g||^2 / ||g||^2 over the first j exact eigenvectors, j = 1..k.
std::vector<double> exact_share(const Eig& e, const Eigen::VectorXd& g, int k) {
  std::vector<double> out;
  double acc = 0;
  for (int j = 0; j < k; ++j) {
    const double c = e.vectors.col(j).dot(g);
    acc += c * c;
    out.push_back(acc / g.squaredNorm());
  }
  return out;
}

void expect_top(const std::vector<double>& got, const Eigen::VectorXd& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), 3u) << what;
  for (int j = 0; j < 3; ++j) EXPECT_LT(rel(got[j], want[j]), tol) << what << " " << j << ": " << got[j] << " vs " << want[j];
}

struct Mode {
  models::NormKind kind;
  bool eval;
  std::int64_t microbatch;
  // auto: G v by MlpCurvature's hand-written passes (the MLP's engine); autograd: GgnOperator.
  const char* engine = "auto";
};

class CurvatureProbe : public ::testing::TestWithParam<Mode> {};

TEST_P(CurvatureProbe, GgnAndScaledMeasuresAgreeWithDenseFloat64References) {
  const Mode mode = GetParam();
  const Case c = make_case(mode.kind, 5);
  auto cfg = config(mode.eval, mode.microbatch);
  cfg.hvp_engine = mode.engine;
  probes::ProbeContext ctx;
  ctx.lr = 0.05;
  probes::LandscapeProbe probe(c.spec, cfg, ctx);
  const auto r = probe.measure(0, *c.model, c.x, c.y);

  auto ref = reference_model(c, mode.eval);
  const auto params = ref->parameters();
  const Eigen::MatrixXd g = dense_ggn(*ref, params, c.x, mode.microbatch);
  const Eigen::MatrixXd h = dense_hessian(*ref, params, c, mode.microbatch);
  const Eig ge = eig_desc(g), he = eig_desc(h);
  const double scale = ge.values[0];

  // G is positive semi-definite to rounding.
  EXPECT_GT(ge.values.minCoeff(), -1e-12 * scale);
  // Top-k and bottom-k.
  expect_top(r.ggn.eigvals, ge.values, 1e-8, "ggn_eigvals");
  // G's smallest eigenvalue is 0 with multiplicity P - rank (rank <= N (K - 1)): Spectra's
  // relative test ||G y - theta y|| < tol max(|theta|, eps^(2/3)) cannot be met there, so the
  // bottom eigenvalue is NaN and not converged (data), or, if it converged, 0 to rounding.
  ASSERT_EQ(r.ggn.eigvals_bottom.size(), 1u);
  if (std::isfinite(r.ggn.eigvals_bottom[0]))
    EXPECT_NEAR(r.ggn.eigvals_bottom[0], ge.values[ge.values.size() - 1], 1e-8 * scale);
  else
    EXPECT_FALSE(r.ggn.converged);
  EXPECT_GT(r.ggn.hvp_count, 0);
  // The Hessian's numbers are still the Hessian's.
  expect_top(r.eigvals, he.values, 1e-8, "eigvals");
  // Hutchinson: within 5 standard errors of tr(G), with a standard error of the right size.
  EXPECT_LT(std::abs(r.ggn.trace - g.trace()), 5 * r.ggn.trace_stderr) << r.ggn.trace << " vs " << g.trace();
  EXPECT_GT(r.ggn.trace_stderr, 0);
  // SLQ density: every node is a Ritz value of G, inside its spectrum; the largest is lambda_max.
  ASSERT_EQ(r.ggn.density_nodes.size(), 60u);
  for (int run = 0; run < 2; ++run) {
    double top = -1e300;
    for (int i = 0; i < 30; ++i) {
      const double node = r.ggn.density_nodes[run * 30 + i];
      if (!std::isfinite(node)) continue;
      EXPECT_GE(node, ge.values.minCoeff() - 1e-8 * scale);
      EXPECT_LE(node, scale * (1 + 1e-8));
      top = std::max(top, node);
    }
    EXPECT_LT(rel(top, scale), 1e-6) << "run " << run;
  }
  EXPECT_GT(r.ggn.density_hvp_count, 0);
  // Per-layer blocks G_bb.
  const auto& blocks = probe.blocks();
  ASSERT_EQ(r.ggn.layer_eigvals.size(), blocks.size() * 2);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    std::vector<Eigen::Index> idx;
    for (const auto& [off, len] : blocks[b].ranges)
      for (std::int64_t i = 0; i < len; ++i) idx.push_back(off + i);
    Eigen::MatrixXd gb(idx.size(), idx.size());
    for (std::size_t i = 0; i < idx.size(); ++i)
      for (std::size_t j = 0; j < idx.size(); ++j) gb(i, j) = g(idx[i], idx[j]);
    const Eig be = eig_desc(gb);
    for (int k = 0; k < 2; ++k)
      EXPECT_NEAR(r.ggn.layer_eigvals[b * 2 + k], be.values[k], 1e-8 * scale) << blocks[b].name << " " << k;
  }
  EXPECT_TRUE(r.ggn.layer_converged);

  // The gradient's share in the top-k Ritz vectors, against exact eigenvectors: with tol 1e-10
  // a Ritz vector is within tol |theta| / gap of its eigenvector (radians), far below 1e-6.
  const Eigen::VectorXd grad = probes::to_eigen(
      probes::flatten(torch::autograd::grad({F::cross_entropy(ref->forward(c.x), c.y)}, params)));
  if (mode.microbatch == 0) {
    const auto gs = exact_share(ge, grad, 3), hs = exact_share(he, grad, 3);
    ASSERT_EQ(r.ggn.grad_topk_share.size(), 3u);
    ASSERT_EQ(r.hessian.grad_topk_share.size(), 3u);
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(r.ggn.grad_topk_share[j], gs[j], 1e-6) << j;
      EXPECT_NEAR(r.hessian.grad_topk_share[j], hs[j], 1e-6) << j;
    }
  }

  // Scaled sharpness: D H D and D G D with D from the scale-invariant blocks, and diag(|w|).
  const auto invariant = probes::scale_invariant_blocks(*ref);
  EXPECT_EQ(invariant.size(), mode.kind == models::NormKind::None ? 0u : 2u);
  const Eigen::VectorXd dl = probes::layer_scaling(params, invariant);
  const Eigen::VectorXd da = probes::to_eigen(probes::flatten(params)).cwiseAbs();
  const auto scaled = [](const Eigen::MatrixXd& a, const Eigen::VectorXd& d) {
    return eig_desc(d.asDiagonal() * a * d.asDiagonal()).values;
  };
  expect_top(r.hessian.eigvals_layer, scaled(h, dl), 1e-8, "eigvals_layer");
  expect_top(r.hessian.eigvals_adaptive, scaled(h, da), 1e-8, "eigvals_adaptive");
  expect_top(r.ggn.eigvals_layer, scaled(g, dl), 1e-8, "ggn_eigvals_layer");
  expect_top(r.ggn.eigvals_adaptive, scaled(g, da), 1e-8, "ggn_eigvals_adaptive");
  if (invariant.empty()) EXPECT_EQ(r.hessian.eigvals_layer, r.eigvals);  // D = I: the raw numbers
  // lr / ||w_b||^2 per scale-invariant block.
  ASSERT_EQ(r.effective_lr.size(), invariant.size());
  for (std::size_t b = 0; b < invariant.size(); ++b) {
    const auto named = ref->named_parameters();
    const double n2 = named[invariant[b].layer + ".weight"].pow(2).sum().item<double>() +
                      named[invariant[b].layer + ".bias"].pow(2).sum().item<double>();
    EXPECT_NEAR(r.effective_lr[b], 0.05 / n2, 1e-12 * 0.05 / n2);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CurvatureProbe,
                         ::testing::Values(Mode{models::NormKind::Custom, false, 0},
                                           Mode{models::NormKind::Custom, true, 0},
                                           Mode{models::NormKind::None, false, 0},
                                           Mode{models::NormKind::Custom, false, 8},
                                           Mode{models::NormKind::Custom, false, 0, "autograd"},
                                           Mode{models::NormKind::Custom, true, 8, "autograd"}));

TEST(CurvatureProbe, DefaultConfigurationMeasuresNoGgnAndNoScaling) {
  const Case c = make_case(models::NormKind::Custom, 3);
  probes::ProbeConfig cfg;
  cfg.probe_dtype = "float64";
  probes::LandscapeProbe probe(c.spec, cfg, {});
  const auto r = probe.measure(0, *c.model, c.x, c.y);
  EXPECT_EQ(r.eigvals.size(), 1u);
  EXPECT_TRUE(r.ggn.eigvals.empty());
  EXPECT_EQ(r.ggn.hvp_count, 0);
  EXPECT_TRUE(r.hessian.eigvals_layer.empty());
  EXPECT_EQ(r.hessian.scaled_hvp_count, 0);
  EXPECT_EQ(r.hessian.grad_topk_share.size(), 1u);
}

TEST(CurvatureProbe, GgnOnlySkipsTheHessianSpectrum) {
  const Case c = make_case(models::NormKind::Custom, 4);
  auto cfg = config(false, 0);
  cfg.curvature = "ggn";
  probes::LandscapeProbe probe(c.spec, cfg, {});
  const auto r = probe.measure(0, *c.model, c.x, c.y);
  EXPECT_TRUE(r.eigvals.empty());
  EXPECT_EQ(r.hvp_count, 0);
  EXPECT_EQ(r.ggn.eigvals.size(), 3u);
  EXPECT_EQ(probe.ggn_engine(), "mlp-r-operator");
}

}  // namespace
