#include "bnlandscape/probes/flat_params.h"

#include <gtest/gtest.h>

#include <limits>

#include "bnlandscape/probes/hessian_operator.h"
#include "probes/problems.h"

namespace bnl::probes {
namespace {

using testing::same_bits;

std::vector<torch::Tensor> make_params() {
  torch::manual_seed(1);
  return {torch::randn({2, 3}, torch::kDouble).requires_grad_(true), torch::randn({4}, torch::kDouble).requires_grad_(true),
          torch::randn({1, 2, 2}, torch::kDouble).requires_grad_(true)};
}

TEST(FlatParams, FlattenConcatenatesRowMajor) {
  const auto params = make_params();
  const auto flat = flatten(params);
  ASSERT_EQ(flat.sizes(), torch::IntArrayRef({14}));
  EXPECT_EQ(numel(params), 14);
  EXPECT_TRUE(torch::equal(flat.narrow(0, 0, 6), params[0].detach().reshape({-1})));
  EXPECT_TRUE(torch::equal(flat.narrow(0, 6, 4), params[1].detach()));
  EXPECT_TRUE(torch::equal(flat.narrow(0, 10, 4), params[2].detach().reshape({-1})));
  EXPECT_EQ(flatten({}).numel(), 0);
}

TEST(FlatParams, AssignFlatWritesEverySliceWithoutHistory) {
  const auto params = make_params();
  const auto target = torch::arange(14, torch::kDouble);
  assign_flat(params, target);
  EXPECT_TRUE(torch::equal(flatten(params).detach(), target));
  for (const auto& p : params) {
    EXPECT_TRUE(p.is_leaf());
    EXPECT_TRUE(p.requires_grad());
  }
  assign_flat(params, torch::zeros({14}, torch::kFloat));  // dtype conversion allowed
  EXPECT_EQ(flatten(params).abs().sum().item<double>(), 0.0);
}

TEST(FlatParams, UnflattenGivesViewsShapedAsTheParameters) {
  const auto params = make_params();
  const auto flat = torch::arange(numel(params), torch::kDouble);
  const auto parts = unflatten(flat, params);
  ASSERT_EQ(parts.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_EQ(parts[i].sizes(), params[i].sizes()) << i;
  EXPECT_TRUE(torch::equal(flatten(parts), flat));
  EXPECT_EQ(parts[0].data_ptr(), flat.data_ptr());  // views, not copies
  EXPECT_THROW(unflatten(flat.narrow(0, 1, flat.numel() - 1), params), c10::Error);
}

TEST(FlatParams, AssignFlatRejectsWrongSize) {
  const auto params = make_params();
  try {
    assign_flat(params, torch::zeros({13}, torch::kDouble));
    FAIL() << "expected an exception";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a flat tensor of shape [14], got shape [13]"), std::string::npos)
        << e.what();
  }
}

TEST(FlatParams, SnapshotIsDeepAndRestoreIsBitForBit) {
  auto params = make_params();
  {
    torch::NoGradGuard no_grad;
    params[1][2] = std::numeric_limits<double>::quiet_NaN();
    params[0][0][0] = -0.0;
  }
  const auto before = snapshot(params);
  const auto saved = snapshot(params);
  assign_flat(params, torch::randn({14}, torch::kDouble));
  EXPECT_TRUE(same_bits(saved[1], before[1]));  // snapshot did not alias
  restore(params, saved);
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(same_bits(params[i], before[i])) << i;
  EXPECT_TRUE(std::signbit(params[0][0][0].item<double>()));
}

TEST(FlatParams, RestoreRejectsMismatch) {
  const auto params = make_params();
  auto saved = snapshot(params);
  saved.pop_back();
  EXPECT_THROW(restore(params, saved), c10::Error);
  saved = snapshot(params);
  saved[0] = saved[0].to(torch::kFloat);
  EXPECT_THROW(restore(params, saved), c10::Error);
}

TEST(FlatParams, RestoreKeepsAnOperatorUsableAndChangedWeightsAreRefused) {
  // A loss whose backward saves the weights themselves (pow), so that a
  // version-counted write would break the operator's graph.
  auto params = make_params();
  LossFn loss = [params] { return flatten(params).pow(3).sum(); };
  HessianOperator op(params, loss);
  const auto v = torch::ones({14}, torch::kDouble);
  const auto hv = op.hvp(v);
  const auto saved = snapshot(params);
  assign_flat(params, torch::zeros({14}, torch::kDouble));
  EXPECT_THROW(op.hvp(v), c10::Error);
  restore(params, saved);
  EXPECT_TRUE(torch::equal(op.hvp(v), hv));
}

TEST(FlatParams, EigenRoundTrip) {
  const auto t = torch::randn({7}, torch::kDouble);
  const Eigen::VectorXd e = to_eigen(t);
  ASSERT_EQ(e.size(), 7);
  EXPECT_EQ(e[3], t[3].item<double>());
  EXPECT_TRUE(torch::equal(from_eigen(e, torch::kDouble), t));
  EXPECT_EQ(from_eigen(e, torch::kFloat).dtype(), torch::kFloat);
}

}  // namespace
}  // namespace bnl::probes
