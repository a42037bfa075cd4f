#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;

Group activation_batch() {
  Group g = group_at(kActivations, "stored once, with --activations-every");
  g.arrays = {dataset(kBatchIndices, I, "[128]", "1",
                      "indices into the training set of the fixed batch every activation snapshot uses")};
  return g;
}

Group activation_site() {
  Group g = group_at(std::string(kActivations) + "/<layer>/<site>",
                     "one row per snapshot: step 0 and every --activations-every steps, before the step's update, on "
                     "the fixed batch");
  g.columns = {
      step_column("[n]", "update index of the snapshot (taken before its update)"),
      dataset(kHist, I, "[n, bins]", "count", "values per bin (edges in bin_edges)"),
      dataset(kUnderflow, I, "[n]", "count", "values below the first edge"),
      dataset(kOverflow, I, "[n]", "count", "values above the last edge (NaN included)"),
      dataset(kMean, F, "[n]", "activation", "mean of all values"),
      dataset(kStd, F, "[n]", "activation", "population standard deviation of all values"),
      dataset(kQuantiles, F, "[n, 7]", "activation", "quantiles 1, 5, 25, 50, 75, 95, 99 % (linear interpolation)"),
      dataset(kZeroFraction, F, "[n]", "1", "fraction of values exactly zero"),
  };
  g.arrays = {dataset(kBinEdges, F, "[bins + 1]", "activation", "histogram bin edges, fixed for the run")};
  g.attributes = {attribute("module", S, "the module whose output this is"),
                  names_attribute("levels", "[7]", "the quantile levels", kQuantiles)};
  return g;
}

Group ics() {
  Group g = group_at(kIcs, "one row at step 0 and every --ics-every steps, on the step's batch before its update");
  g.columns = {
      step_column("[n]", "update index the shift was measured at (before its update)"),
      dataset(kL2, F, "[n, L]", "loss/param",
              "||G - G'||_2 per layer: G its gradient, G' the same after the earlier layers' update of this step"),
      dataset(kCos, F, "[n, L]", "1", "cosine between G and G' per layer"),
  };
  // The layer names stand on the group and on each of its [n, L] columns.
  const auto layer_names = [](const char* on) { return names_attribute(kLayers, "[L]", "the L layer names", on); };
  g.attributes = {
      layer_names(""),
      attribute("definition", S, "Santurkar et al. 2018, Definition 2.1"),
      layer_names(kL2),
      layer_names(kCos),
  };
  return g;
}

Group surface() {
  Group g = group_at(kSurface, "fixed arrays of a surface file; loss and acc rewritten in place after every row of cells");
  const std::string dirs = std::string("directions/");
  const std::string path = std::string(kTrajectory) + "/";
  g.arrays = {
      dataset(kAlpha, F, "[a]", "1", "coefficient of direction x (grid rows)"),
      dataset(kBeta, F, "[b]", "1", "coefficient of direction y (grid columns)"),
      dataset(kLoss, F, "[a, b]", "nats",
              "mean cross-entropy at theta + alpha x (+ beta y); NaN = not computed yet (or not finite)"),
      dataset(kAcc, F, "[a, b]", "1", "accuracy at theta + alpha x (+ beta y); NaN = not computed yet"),
      dataset(kDirectionNorms, F, "[D]", "1", "||d||_2 of each direction over all parameters (x, then y)"),
      dataset(kEigenvalues, F, "[D]", "1", "Hessian eigenvalues (Ritz values) of the directions, descending"),
      dataset(dirs + kAxisX + "/<dotted name>", Dtype::Tensor, "parameter shape", "",
              "direction x, one dataset per parameter"),
      dataset(dirs + kAxisY + "/<dotted name>", Dtype::Tensor, "parameter shape", "", "direction y (2-D only)"),
      dataset(kExplainedVariance, F, "[2]", "1",
              "pca: sigma_j^2 / ||D||_F^2 of x and y, D = [w_i - w_c] over the trajectory's checkpoints (uncentred)"),
      dataset(path + kStep, I, "[m]", "1", "pca: training step of each of the m checkpoints of the trajectory"),
      dataset(path + kAlpha, F, "[m]", "1", "pca: x . (w_i - w_c), the checkpoint's coordinate along x"),
      dataset(path + kBeta, F, "[m]", "1", "pca: y . (w_i - w_c), the checkpoint's coordinate along y"),
      dataset(path + kLoss, F, "[m]", "nats",
              "pca: mean cross-entropy at the checkpoint's own parameters w_i, evaluated as a grid cell; NaN = not yet"),
      dataset(path + kAcc, F, "[m]", "1", "pca: accuracy at w_i, evaluated as a grid cell; NaN = not yet"),
  };
  g.attributes = {
      attribute(kDirections, S, "filter-random, eigen, gradient or pca"),
      attribute("directions_from", S, "the file the directions came from, \"\" if made here"),
      attribute("dims", I, "1 or 2"),
      attribute("include_bn_bias", I, "0/1"),
      attribute("probe_bn_mode", S, "BN mode of the evaluation"),
      attribute("surface_set", S, "train or test"),
      attribute("surface_size", I, "examples used"),
      attribute("surface_batch", I, "examples per forward pass"),
      attribute("num_params", I, "parameters"),
      names_attribute("parameter_names", "[P]", "parameter names, model order"),
      attribute(kWorldSize, I, "processes that split the cells"),
      attribute("seconds", F, "wall time of the grid evaluation of the last session"),
      attribute("examples_per_second", F, "examples evaluated per second in it"),
      attribute("eigen_converged", I, "eigen directions: 1 if Lanczos converged"),
      attribute("hvp_count", I, "eigen directions: Hessian-vector products"),
      attribute("gradient_norm", F, "gradient direction: ||g||"),
      attribute(kTrajectoryFile, S, "pca: the run file whose checkpoints make the trajectory"),
      names_attribute(kTrajectoryCheckpoints, "[m]", "pca: the trajectory's checkpoint groups, in step order"),
  };
  return g;
}

}  // namespace

std::vector<Group> analysis_groups() { return {activation_batch(), activation_site(), ics(), surface()}; }

}  // namespace bnl::record::schema::detail
