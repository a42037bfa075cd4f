// The declaration drives the writers' column lists (series_columns, RowLayout).

#include <gtest/gtest.h>

#include "bnlandscape/core/error.h"
#include "bnlandscape/record/row_layout.h"
#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record::schema {
namespace {

using namespace names;

TEST(Schema, EveryGroupPathIsDeclaredOnce) {
  std::set<std::string> seen;
  for (const auto& g : run_file()) EXPECT_TRUE(seen.insert(g.path).second) << g.path;
  for (const char* p : {kRoot, kTrainSteps, kTrainEpochs, kTrainEvals, kProbes, kDensity, kActivations, kIcs, kSurface})
    EXPECT_NO_THROW(group(p)) << p;
  EXPECT_THROW(group("/nowhere"), InternalError);
}

TEST(Schema, SeriesColumnsResolveSymbolicSizes) {
  const auto cols = series_columns(group(kTrainSteps), {{"L", 3}});
  ASSERT_EQ(cols.size(), 9u);
  EXPECT_EQ(cols[0].name, "step");
  EXPECT_EQ(cols[0].type, io::ColumnType::Int64);
  EXPECT_TRUE(cols[0].inner.empty());
  EXPECT_EQ(cols[7].name, "layer_grad_norm");
  EXPECT_EQ(cols[7].inner, std::vector<std::int64_t>{3});
  EXPECT_EQ(cols[8].name, "layer_weight_norm");
  EXPECT_EQ(cols[8].inner, std::vector<std::int64_t>{3});
  EXPECT_EQ(cols[2].units, "nats");
  EXPECT_EQ(cols[2].description, "mean cross-entropy of the mini-batch before the update");
  EXPECT_THROW(series_columns(group(kTrainSteps)), InternalError);
}

TEST(Schema, OptionalColumnsFollowTheirFlags) {
  Sizes s{{"S", 4}, {"k", 0}, {"k'", 0}, {"L", 2}, {"K", 0}, {"P", 10}, {"save_eigenvectors", 0}};
  auto names_of = [](const std::vector<io::ColumnSpec>& c) {
    std::vector<std::string> n;
    for (const auto& x : c) n.push_back(x.name);
    return n;
  };
  const auto base = names_of(series_columns(group(kProbes), s));
  EXPECT_EQ(base.size(), 15u);
  EXPECT_EQ(std::count(base.begin(), base.end(), "eigvals"), 0);
  s["k"] = 2;
  s["K"] = 3;
  // The Hessian's spectral columns follow their own presence symbols (--curvature hessian).
  s["hessian_k"] = 2;
  s["hessian_K"] = 3;
  s["save_eigenvectors"] = 1;
  const auto cols = series_columns(group(kProbes), s);
  const auto all = names_of(cols);
  ASSERT_EQ(all.size(), 21u);
  EXPECT_EQ(all[7], "eigvals");
  EXPECT_EQ(all[19], "top_eigenvector");
  EXPECT_EQ(all.back(), "grad_topk_share");
  EXPECT_EQ(cols[7].inner, std::vector<std::int64_t>{2});
  EXPECT_EQ(cols[16].name, "layer_eigvals");
  EXPECT_EQ(cols[16].inner, (std::vector<std::int64_t>{2, 3}));
  const auto density = series_columns(group(kDensity), {{"K", 3}, {"M", 5}});
  EXPECT_EQ(density[1].inner, std::vector<std::int64_t>{15});
  // The Gauss-Newton matrix's columns, the scaled sharpness and the effective learning rate.
  s["ggn"] = 1;
  s["ggn_k"] = 2;
  s["ggn_layer"] = 2;
  s["hessian_adaptive"] = 2;
  s["hessian_scaled"] = 2;
  s["B"] = 4;
  const auto more = names_of(series_columns(group(kProbes), s));
  for (const char* name : {"ggn_eigvals", "ggn_grad_topk_share", "ggn_eigvals_layer", "eigvals_adaptive",
                           "scaled_hvp_count", "ggn_trace", "effective_lr"})
    EXPECT_EQ(std::count(more.begin(), more.end(), name), 1) << name;
  for (const char* name : {"ggn_eigvals_bottom", "ggn_layer_eigvals", "eigvals_layer", "ggn_eigvals_adaptive"})
    EXPECT_EQ(std::count(more.begin(), more.end(), name), 0) << name;
  EXPECT_EQ(series_columns(group(kDensityGgn), {{"K", 3}, {"M", 5}})[1].inner, std::vector<std::int64_t>{15});
}

TEST(Schema, ItemFindsColumnsAndFixedArrays) {
  EXPECT_EQ(item(kSurface, kAlpha).meaning, "coefficient of direction x (grid rows)");
  EXPECT_EQ(item(kSurface, kLoss).units, "nats");
  EXPECT_EQ(item(kProbes, kStepSizes).shape, "[S]");
  EXPECT_EQ(item(kTrainSteps, kLoss).units, "nats");
  EXPECT_THROW(item(kSurface, "nothing"), InternalError);
}

struct Rec {
  double a = 1, b = 2;
};

TEST(RowLayout, FillsRowsInColumnOrderAndRefusesAColumnWithoutGetter) {
  const std::vector<io::ColumnSpec> specs{{"b", io::ColumnType::Float64, {}, "1", ""},
                                          {"a", io::ColumnType::Float64, {}, "1", ""}};
  const std::vector<ColumnGetter<Rec>> getters{{"a", [](const Rec& r) { return one(r.a); }},
                                               {"b", [](const Rec& r) { return one(r.b); }}};
  const RowLayout<Rec> layout(specs, getters);
  EXPECT_EQ(layout.row(Rec{}), (std::vector<std::vector<double>>{{2}, {1}}));
  const std::vector<ColumnGetter<Rec>> partial{{"a", [](const Rec& r) { return one(r.a); }}};
  EXPECT_THROW((RowLayout<Rec>(specs, partial)), InternalError);
}

}  // namespace
}  // namespace bnl::record::schema
