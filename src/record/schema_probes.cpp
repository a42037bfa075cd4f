#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;

Group probes() {
  Group g = group_at(kProbes,
                     "one row per probe: online at step 0, every --step-interval steps and the last step, before the "
                     "step's update; offline (--checkpoint) once");
  g.columns = {
      step_column("[n]", "training step probed (updates done before it)"),
      dataset(kLoss, F, "[n]", "nats", "L(w) on the probe set"),
      dataset(kGradNorm, F, "[n]", "1", "||grad L(w)||_2 on the probe set"),
      dataset(kLossPath, F, "[n, S]", "nats", "L(w - s g) for each step size s (dims step,step_size)"),
      dataset(kGradPred, F, "[n, S]", "1", "gradient predictiveness ||grad L(w) - grad L(w - s g)||_2 per step size"),
      dataset(kBetaSmoothness, F, "[n]", "1",
              "effective beta-smoothness max_s ||grad L(w) - grad L(w - s g)|| / ||s g||"),
      dataset(kGradCurvature, F, "[n]", "1", "curvature along the gradient g^T H g / ||g||^2"),
      dataset(kEigvals, F, "[n, k]", "1",
              "top-k Hessian eigenvalues (largest algebraic, descending; NaN = not converged)", "hessian_k"),
      dataset(kEigvalsBottom, F, "[n, k']", "1",
              "bottom-k Hessian eigenvalues (smallest algebraic, ascending; NaN = not converged)", "hessian_k'"),
      hvp_count_column(kHvpCount, "[n]", "Hessian-vector products of the eigenvalue solves"),
      dataset(kConverged, I, "[n]", "1", "1 if every requested eigenvalue converged, else 0"),
      dataset(kGradEigCosine, F, "[n]", "1", "cosine between the gradient and the top eigenvector"),
      dataset(kEosThreshold, F, "[n]", "1", "edge-of-stability threshold: 2/lr (SGD), (2 + 2 momentum)/lr, NaN for Adam"),
      dataset(kTrace, F, "[n]", "1", "Hutchinson estimate of the Hessian trace (NaN = off)"),
      dataset(kTraceStderr, F, "[n]", "1", "standard error of the trace estimate"),
      seconds_column("[n]", "wall time of the probe"),
      dataset(kAllreduceSeconds, F, "[n]", "s",
              "of which in all-reduces across processes (rank 0's clock; 0 for one process)"),
      dataset(kLayerEigvals, F, "[n, L, K]", "1",
              "top-k eigenvalues of each parameter block's diagonal Hessian block H_bb, descending (dims step,block,k; "
              "NaN = not converged)",
              "hessian_K"),
      hvp_count_column(kLayerHvpCount, "[n]", "Hessian-vector products of the per-block eigenvalues", "hessian_K"),
      dataset(kLayerConverged, I, "[n]", "1", "1 if every per-block eigenvalue converged, else 0", "hessian_K"),
      dataset(kTopEigenvector, F, "[n, P]", "1", "unit top eigenvector, parameters flattened in named_parameters order",
              "save_eigenvectors"),
      dataset(kGradTopkShare, F, "[n, k]", "1",
              "||P_j g||^2 / ||g||^2 for j = 1..k, P_j the projector on the top-j Hessian Ritz vectors (NaN = a Ritz "
              "vector not converged)",
              "hessian_k"),
      dataset(kEigvalsLayer, F, "[n, k]", "1",
              "top-k eigenvalues of D H D, D = ||w_b|| on each scale-invariant block, 1 elsewhere (--sharpness-scaling "
              "layer)",
              "hessian_layer"),
      dataset(kEigvalsAdaptive, F, "[n, k]", "1",
              "top-k eigenvalues of D H D, D = diag(|w|) (--sharpness-scaling adaptive)", "hessian_adaptive"),
      hvp_count_column(kScaledHvpCount, "[n]", "Hessian-vector products of the scaled eigenvalue solves",
                       "hessian_scaled"),
      dataset(kScaledConverged, I, "[n]", "1", "1 if every scaled Hessian eigenvalue converged, else 0",
              "hessian_scaled"),
      dataset(kGgnEigvals, F, "[n, k]", "1",
              "top-k Gauss-Newton eigenvalues (largest algebraic, descending; NaN = not converged)", "ggn_k"),
      dataset(kGgnEigvalsBottom, F, "[n, k']", "1",
              "bottom-k Gauss-Newton eigenvalues (smallest algebraic, ascending; NaN = not converged)", "ggn_k'"),
      hvp_count_column(kGgnHvpCount, "[n]", "Gauss-Newton-vector products of the eigenvalue solves", "ggn"),
      dataset(kGgnConverged, I, "[n]", "1", "1 if every requested Gauss-Newton eigenvalue converged, else 0", "ggn"),
      dataset(kGgnTrace, F, "[n]", "1", "Hutchinson estimate of the Gauss-Newton trace (NaN = off)", "ggn"),
      dataset(kGgnTraceStderr, F, "[n]", "1", "standard error of the Gauss-Newton trace estimate", "ggn"),
      dataset(kGgnLayerEigvals, F, "[n, L, K]", "1",
              "top-k eigenvalues of each parameter block's diagonal Gauss-Newton block G_bb, descending (dims "
              "step,block,k; NaN = not converged)",
              "ggn_K"),
      hvp_count_column(kGgnLayerHvpCount, "[n]", "Gauss-Newton-vector products of the per-block eigenvalues", "ggn_K"),
      dataset(kGgnLayerConverged, I, "[n]", "1", "1 if every per-block Gauss-Newton eigenvalue converged, else 0",
              "ggn_K"),
      dataset(kGgnGradTopkShare, F, "[n, k]", "1",
              "||P_j g||^2 / ||g||^2 for j = 1..k, P_j the projector on the top-j Gauss-Newton Ritz vectors", "ggn_k"),
      dataset(kGgnEigvalsLayer, F, "[n, k]", "1", "top-k eigenvalues of D G D, D as eigvals_layer's", "ggn_layer"),
      dataset(kGgnEigvalsAdaptive, F, "[n, k]", "1", "top-k eigenvalues of D G D, D = diag(|w|)", "ggn_adaptive"),
      hvp_count_column(kGgnScaledHvpCount, "[n]", "Gauss-Newton-vector products of the scaled eigenvalue solves",
                       "ggn_scaled"),
      dataset(kGgnScaledConverged, I, "[n]", "1", "1 if every scaled Gauss-Newton eigenvalue converged, else 0",
              "ggn_scaled"),
      dataset(kEffectiveLr, F, "[n, B]", "1",
              "effective learning rate lr / ||w_b||^2 of each scale-invariant block b (attribute "
              "scale_invariant_blocks)",
              "B"),
  };
  g.arrays = {dataset(kStepSizes, F, "[S]", "1", "absolute step sizes s of the gradient path")};
  g.attributes = {
      attribute("probe_batch", S, "fixed or current"),
      attribute("probe_size", I, "probe set size, -1 for the current batch"),
      attribute("probe_microbatch", I, "examples per probe batch (0 = one batch)"),
      attribute("probe_dtype", S, "precision of the probes"),
      attribute("probe_bn_mode", S, "BN mode of the probes"),
      attribute("hvp_engine", S, "mlp-r-operator or autograd"),
      attribute("overlap", I, "1: probes ran on a second thread beside training"),
      attribute("tol", F, "Lanczos relative tolerance"),
      attribute("ncv", I, "Lanczos basis size"),
      attribute("top_k", I, "k"),
      attribute("bottom_k", I, "k'"),
      attribute("trace_samples", I, "Hutchinson samples"),
      attribute("step_interval", I, "probe every K steps"),
      attribute("num_params", I, "P"),
      attribute(kWorldSize, I, "processes that shared the probe set"),
      attribute("layer_top_k", I, "K of layer_eigvals", "", "K"),
      names_attribute("blocks", "[L]", "the L parameter blocks' module names", kLayerEigvals, "hessian_K"),
      names_attribute("block_kinds", "[L]", "linear, conv, norm or other per block", kLayerEigvals, "hessian_K"),
      attribute(kDims, S, "\"step,block,k\"", kLayerEigvals, "hessian_K"),
      names_attribute("blocks", "[L]", "the L parameter blocks' module names", kGgnLayerEigvals, "ggn_K"),
      names_attribute("block_kinds", "[L]", "linear, conv, norm or other per block", kGgnLayerEigvals, "ggn_K"),
      attribute(kDims, S, "\"step,block,k\"", kGgnLayerEigvals, "ggn_K"),
      attribute("curvature", S, "the --curvature operators: hessian, ggn or hessian,ggn"),
      attribute("sharpness_scaling", S, "the --sharpness-scaling list: none, layer, adaptive or layer,adaptive"),
      attribute("ggn_engine", S, "what computed Gauss-Newton products: mlp-r-operator (the MLP's hand-written passes) | autograd (R-operator by double backward)", "",
                "ggn"),
      attribute(kOperator, S, "\"ggn\": the column is measured on the Gauss-Newton matrix", kGgnEigvals, "ggn_k"),
      names_attribute(kScaleInvariantBlocks, "[B]",
                      "module names of the B scale-invariant blocks (a Linear/Conv layer followed by a norm layer), "
                      "the columns of effective_lr and the blocks of the layer scaling",
                      "", "B"),
      attribute("blocks_scale_invariant", I,
                "1: the probes' BN used batch statistics, so the blocks were scale invariant; 0: running statistics "
                "(--probe-bn-mode eval), so they were not",
                "", "B"),
  };
  return g;
}

// /density (the Hessian's) or /density_ggn (the Gauss-Newton matrix's): the same layout.
Group density(const char* path, const char* rows, const char* products) {
  Group g = group_at(path, rows);
  g.columns = {
      step_column("[n]", "training step probed (as /probes/step)"),
      dataset(kNodes, F, "[n, K*M]", "1",
              "SLQ quadrature nodes: Ritz values of each run's Lanczos tridiagonal, run-major (run r at [r M, (r+1) "
              "M)), ascending; NaN past an early stop"),
      dataset(kWeights, F, "[n, K*M]", "1",
              "SLQ quadrature weights: squared first eigenvector components, summing to 1 per run (0 past an early "
              "stop)"),
      hvp_count_column(kHvpCount, "[n]", products),
      seconds_column("[n]", "wall time of the density"),
  };
  g.attributes = {
      attribute("runs", I, "K"),
      attribute("steps", I, "M"),
      attribute("num_params", I, "P"),
      attribute("method", S, "how the density was computed"),
      attribute(kOperator, S, "the operator whose density this is: hessian or ggn"),
      attribute(kDims, S, "\"step,run*steps+i\"", kNodes),
      attribute(kDims, S, "\"step,run*steps+i\"", kWeights),
  };
  return g;
}

}  // namespace

std::vector<Group> probe_groups() {
  return {probes(),
          density(kDensity, "one row per probe with --density-runs K --density-steps M, at the steps of /probes",
                  "Hessian-vector products of the density"),
          density(kDensityGgn,
                  "one row per probe with --curvature ggn and --density-runs K --density-steps M, at the steps of "
                  "/probes: the density of the Gauss-Newton matrix",
                  "Gauss-Newton-vector products of the density")};
}

}  // namespace bnl::record::schema::detail
