// The probes on a scripted module (--arch torchscript): Hessian-vector products through the
// loaded module equal a dense float64 Hessian of a functional libtorch reference of the same
// network, the probe's top eigenvalue equals Eigen's on that Hessian, and the hand-written MLP
// engines refuse it.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <torch/torch.h>

#include "bnlandscape/models/factory.h"
#include "bnlandscape/models/torchscript_model.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/probes/mlp_curvature.h"
#include "bnlandscape/probes/param_block.h"
#include "bnlandscape/train/fused_mlp_step.h"
#include "common/torchscript_files.h"

using namespace bnl;

namespace {

models::ModelSpec scripted_spec(const std::string& file) {
  models::ModelSpec spec;
  spec.arch = "torchscript";
  spec.model_file = file;
  return spec;
}

/// The dense Hessian [P, P] of the cross-entropy of Linear(6, 5) -> BatchNorm1d (batch
/// statistics) -> ReLU -> Linear(5, 3) at the flat float64 weights `w` (Python order:
/// fc1.weight, fc1.bias, bn.weight, bn.bias, fc2.weight, fc2.bias), by autograd on functional
/// ops, row by row.
Eigen::MatrixXd reference_hessian(const torch::Tensor& w0, const torch::Tensor& x, const torch::Tensor& y) {
  auto w = w0.detach().clone().requires_grad_(true);
  std::int64_t o = 0;
  auto take = [&](std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    auto t = w.narrow(0, o, n).view(shape);
    o += n;
    return t;
  };
  auto w1 = take({5, 6}), b1 = take({5}), g = take({5}), b = take({5}), w2 = take({3, 5}), b2 = take({3});
  auto h = torch::batch_norm(torch::linear(x, w1, b1), g, b, {}, {}, true, 0.1, 1e-5, false);
  auto loss = torch::nn::functional::cross_entropy(torch::linear(torch::relu(h), w2, b2), y);
  auto grad = torch::autograd::grad({loss}, {w}, {}, true, true)[0];
  const auto p = w.numel();
  Eigen::MatrixXd H(p, p);
  for (std::int64_t i = 0; i < p; ++i) {
    auto row = torch::autograd::grad({grad[i]}, {w}, {}, true, false)[0].contiguous();
    for (std::int64_t j = 0; j < p; ++j) H(i, j) = row[j].item<double>();
  }
  return H;
}

}  // namespace

TEST(TorchScriptProbe, HessianVectorProductsEqualADenseFloat64Hessian) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = models::make_model(scripted_spec(dir + "/mlp_bn_small.pt"));
  model->to(torch::kFloat64);
  model->train();
  torch::manual_seed(5);
  const auto x = torch::randn({10, 6}, torch::kFloat64);
  const auto y = torch::randint(0, 3, {10}, torch::kInt64);
  const auto params = model->parameters();
  std::vector<torch::Tensor> flat;
  for (const auto& p : params) flat.push_back(p.detach().flatten());
  const auto w = torch::cat(flat);
  const Eigen::MatrixXd H = reference_hessian(w, x, y);

  probes::HessianOperator op(params, [&] { return torch::nn::functional::cross_entropy(model->forward(x), y); });
  const auto p = w.numel();
  ASSERT_EQ(op.rows(), p);
  double worst = 0;
  for (std::int64_t j = 0; j < p; ++j) {
    auto e = torch::zeros({p}, torch::kFloat64);
    e[j] = 1.0;
    const auto col = op.hvp(e).contiguous();
    for (std::int64_t i = 0; i < p; ++i) worst = std::max(worst, std::abs(col[i].item<double>() - H(i, j)));
  }
  EXPECT_LT(worst, 1e-10);
  EXPECT_GT(H.cwiseAbs().maxCoeff(), 1e-2) << "a Hessian that is not zero";

  // The probe (its own copy by make_model, float64, batch statistics) finds the same top
  // eigenvalue as a dense eigensolver.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(H);
  const double top = eig.eigenvalues().maxCoeff();
  probes::ProbeConfig cfg;
  cfg.top_k = 1;
  cfg.tol = 1e-12;
  cfg.probe_dtype = "float64";
  probes::LandscapeProbe probe(scripted_spec(dir + "/mlp_bn_small.pt"), cfg, {});
  EXPECT_EQ(probe.hvp_engine(), "autograd");
  const auto r = probe.measure(0, *model, x, y);
  ASSERT_EQ(r.eigvals.size(), 1u);
  EXPECT_NEAR(r.eigvals[0], top, 1e-8 * std::max(1.0, std::abs(top)));
}

TEST(TorchScriptProbe, TheHandWrittenMlpEnginesRefuseAScriptedModule) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = models::make_model(scripted_spec(dir + "/mlp_bn.pt"));
  EXPECT_NE(train::FusedMlpStep::unsupported_reason(*model), "");
  EXPECT_NE(probes::MlpCurvature::unsupported_reason(*model, model->parameters()), "");
}

TEST(TorchScriptProbe, LayerBlocksAreTheSubmodulesWithParametersByPythonNameAndClass) {
  BNL_TORCHSCRIPT_DIR(dir);
  auto model = models::make_model(scripted_spec(dir + "/conv_bn.pt"));
  const auto params = model->parameters();
  const auto blocks = probes::parameter_blocks(*model, params);
  std::vector<std::string> names, kinds;
  std::vector<std::int64_t> sizes;
  for (const auto& b : blocks) {
    names.push_back(b.name);
    kinds.push_back(b.kind);
    sizes.push_back(b.size);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"layer1.0", "layer1.1", "head"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"conv", "norm", "linear"}));
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{4 * 9 + 4, 4 + 4, 10 * 676 + 10}));
}
