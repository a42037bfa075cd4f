#include "bnlandscape/record/schema_names.h"
#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;
constexpr auto I = Dtype::Int64;
constexpr auto F = Dtype::Float64;
constexpr auto S = Dtype::String;
constexpr auto SA = Dtype::StringArray;

Item attr(const char* name, Dtype t, const char* meaning, const char* on = "") {
  return {name, t, "", "", meaning, "", on};
}

Group activation_batch() {
  Group g;
  g.path = kActivations;
  g.rows = "stored once, with --activations-every";
  g.arrays = {{kBatchIndices, I, "[128]", "1",
               "indices into the training set of the fixed batch every activation snapshot uses", "", ""}};
  return g;
}

Group activation_site() {
  Group g;
  g.path = std::string(kActivations) + "/<layer>/<site>";
  g.rows = "one row per snapshot: step 0 and every --activations-every steps, before the step's update, on the "
           "fixed batch";
  g.columns = {
      {kStep, I, "[n]", "1", "update index of the snapshot (taken before its update)", "", ""},
      {kHist, I, "[n, bins]", "count", "values per bin (edges in bin_edges)", "", ""},
      {kUnderflow, I, "[n]", "count", "values below the first edge", "", ""},
      {kOverflow, I, "[n]", "count", "values above the last edge (NaN included)", "", ""},
      {kMean, F, "[n]", "activation", "mean of all values", "", ""},
      {kStd, F, "[n]", "activation", "population standard deviation of all values", "", ""},
      {kQuantiles, F, "[n, 7]", "activation", "quantiles 1, 5, 25, 50, 75, 95, 99 % (linear interpolation)", "", ""},
      {kZeroFraction, F, "[n]", "1", "fraction of values exactly zero", "", ""},
  };
  g.arrays = {{kBinEdges, F, "[bins + 1]", "activation", "histogram bin edges, fixed for the run", "", ""}};
  g.attributes = {attr("module", S, "the module whose output this is"),
                  {"levels", SA, "[7]", "", "the quantile levels", "", kQuantiles}};
  return g;
}

Group ics() {
  Group g;
  g.path = kIcs;
  g.rows = "one row at step 0 and every --ics-every steps, on the step's batch before its update";
  g.columns = {
      {kStep, I, "[n]", "1", "update index the shift was measured at (before its update)", "", ""},
      {kL2, F, "[n, L]", "loss/param",
       "||G - G'||_2 per layer: G its gradient, G' the same after the earlier layers' update of this step", "", ""},
      {kCos, F, "[n, L]", "1", "cosine between G and G' per layer", "", ""},
  };
  g.attributes = {
      {kLayers, SA, "[L]", "", "the L layer names", "", ""},
      attr("definition", S, "Santurkar et al. 2018, Definition 2.1"),
      {kLayers, SA, "[L]", "", "the L layer names", "", kL2},
      {kLayers, SA, "[L]", "", "the L layer names", "", kCos},
  };
  return g;
}

Group surface() {
  Group g;
  g.path = kSurface;
  g.rows = "fixed arrays of a surface file; loss and acc rewritten in place after every row of cells";
  const std::string dirs = std::string("directions/");
  g.arrays = {
      {kAlpha, F, "[a]", "1", "coefficient of direction x (grid rows)", "", ""},
      {kBeta, F, "[b]", "1", "coefficient of direction y (grid columns)", "", ""},
      {kLoss, F, "[a, b]", "nats",
       "mean cross-entropy at theta + alpha x (+ beta y); NaN = not computed yet (or not finite)", "", ""},
      {kAcc, F, "[a, b]", "1", "accuracy at theta + alpha x (+ beta y); NaN = not computed yet", "", ""},
      {kDirectionNorms, F, "[D]", "1", "||d||_2 of each direction over all parameters (x, then y)", "", ""},
      {kEigenvalues, F, "[D]", "1", "Hessian eigenvalues (Ritz values) of the directions, descending", "", ""},
      {dirs + kAxisX + "/<dotted name>", Dtype::Tensor, "parameter shape", "", "direction x, one dataset per parameter",
       "", ""},
      {dirs + kAxisY + "/<dotted name>", Dtype::Tensor, "parameter shape", "", "direction y (2-D only)", "", ""},
  };
  g.attributes = {
      attr(kDirections, S, "filter-random, eigen or gradient"),
      attr("directions_from", S, "the file the directions came from, \"\" if made here"),
      attr("dims", I, "1 or 2"),
      attr("include_bn_bias", I, "0/1"),
      attr("probe_bn_mode", S, "BN mode of the evaluation"),
      attr("surface_set", S, "train or test"),
      attr("surface_size", I, "examples used"),
      attr("surface_batch", I, "examples per forward pass"),
      attr("num_params", I, "parameters"),
      {"parameter_names", SA, "[P]", "", "parameter names, model order", "", ""},
      attr(kWorldSize, I, "processes that split the cells"),
      attr("seconds", F, "wall time of the grid evaluation of the last session"),
      attr("examples_per_second", F, "examples evaluated per second in it"),
      attr("eigen_converged", I, "eigen directions: 1 if Lanczos converged"),
      attr("hvp_count", I, "eigen directions: Hessian-vector products"),
      attr("gradient_norm", F, "gradient direction: ||g||"),
  };
  return g;
}

}  // namespace

std::vector<Group> analysis_groups() { return {activation_batch(), activation_site(), ics(), surface()}; }

}  // namespace bnl::record::schema::detail
