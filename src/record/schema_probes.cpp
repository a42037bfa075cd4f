#include "bnlandscape/record/schema_names.h"
#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;
constexpr auto I = Dtype::Int64;
constexpr auto F = Dtype::Float64;
constexpr auto S = Dtype::String;
constexpr auto SA = Dtype::StringArray;

Item attr(const char* name, Dtype t, const char* meaning, const char* only_if = "", const char* on = "") {
  return {name, t, SA == t ? "[L]" : "", "", meaning, only_if, on};
}

Group probes() {
  Group g;
  g.path = kProbes;
  g.rows = "one row per probe: online at step 0, every --step-interval steps and the last step, before the "
           "step's update; offline (--checkpoint) once";
  g.columns = {
      {kStep, I, "[n]", "1", "training step probed (updates done before it)", "", ""},
      {kLoss, F, "[n]", "nats", "L(w) on the probe set", "", ""},
      {kGradNorm, F, "[n]", "1", "||grad L(w)||_2 on the probe set", "", ""},
      {kLossPath, F, "[n, S]", "nats", "L(w - s g) for each step size s (dims step,step_size)", "", ""},
      {kGradPred, F, "[n, S]", "1", "gradient predictiveness ||grad L(w) - grad L(w - s g)||_2 per step size", "", ""},
      {kBetaSmoothness, F, "[n]", "1",
       "effective beta-smoothness max_s ||grad L(w) - grad L(w - s g)|| / ||s g||", "", ""},
      {kGradCurvature, F, "[n]", "1", "curvature along the gradient g^T H g / ||g||^2", "", ""},
      {kEigvals, F, "[n, k]", "1", "top-k Hessian eigenvalues (largest algebraic, descending; NaN = not converged)",
       "k", ""},
      {kEigvalsBottom, F, "[n, k']", "1",
       "bottom-k Hessian eigenvalues (smallest algebraic, ascending; NaN = not converged)", "k'", ""},
      {kHvpCount, I, "[n]", "1", "Hessian-vector products of the eigenvalue solves", "", ""},
      {kConverged, I, "[n]", "1", "1 if every requested eigenvalue converged, else 0", "", ""},
      {kGradEigCosine, F, "[n]", "1", "cosine between the gradient and the top eigenvector", "", ""},
      {kEosThreshold, F, "[n]", "1", "edge-of-stability threshold: 2/lr (SGD), (2 + 2 momentum)/lr, NaN for Adam", "",
       ""},
      {kTrace, F, "[n]", "1", "Hutchinson estimate of the Hessian trace (NaN = off)", "", ""},
      {kTraceStderr, F, "[n]", "1", "standard error of the trace estimate", "", ""},
      {kSeconds, F, "[n]", "s", "wall time of the probe", "", ""},
      {kAllreduceSeconds, F, "[n]", "s", "of which in all-reduces across processes (rank 0's clock; 0 for one process)",
       "", ""},
      {kLayerEigvals, F, "[n, L, K]", "1",
       "top-k eigenvalues of each parameter block's diagonal Hessian block H_bb, descending (dims step,block,k; NaN = "
       "not converged)",
       "K", ""},
      {kLayerHvpCount, I, "[n]", "1", "Hessian-vector products of the per-block eigenvalues", "K", ""},
      {kLayerConverged, I, "[n]", "1", "1 if every per-block eigenvalue converged, else 0", "K", ""},
      {kTopEigenvector, F, "[n, P]", "1", "unit top eigenvector, parameters flattened in named_parameters order",
       "save_eigenvectors", ""},
  };
  g.arrays = {{kStepSizes, F, "[S]", "1", "absolute step sizes s of the gradient path", "", ""}};
  g.attributes = {
      attr("probe_batch", S, "fixed or current"),
      attr("probe_size", I, "probe set size, -1 for the current batch"),
      attr("probe_microbatch", I, "examples per probe batch (0 = one batch)"),
      attr("probe_dtype", S, "precision of the probes"),
      attr("probe_bn_mode", S, "BN mode of the probes"),
      attr("hvp_engine", S, "mlp-r-operator or autograd"),
      attr("overlap", I, "1: probes ran on a second thread beside training"),
      attr("tol", F, "Lanczos relative tolerance"),
      attr("ncv", I, "Lanczos basis size"),
      attr("top_k", I, "k"),
      attr("bottom_k", I, "k'"),
      attr("trace_samples", I, "Hutchinson samples"),
      attr("step_interval", I, "probe every K steps"),
      attr("num_params", I, "P"),
      attr(kWorldSize, I, "processes that shared the probe set"),
      attr("layer_top_k", I, "K of layer_eigvals", "K"),
      attr("blocks", SA, "the L parameter blocks' module names", "K", kLayerEigvals),
      attr("block_kinds", SA, "linear, conv, norm or other per block", "K", kLayerEigvals),
      attr(kDims, S, "\"step,block,k\"", "K", kLayerEigvals),
  };
  return g;
}

Group density() {
  Group g;
  g.path = kDensity;
  g.rows = "one row per probe with --density-runs K --density-steps M, at the steps of /probes";
  g.columns = {
      {kStep, I, "[n]", "1", "training step probed (as /probes/step)", "", ""},
      {kNodes, F, "[n, K*M]", "1",
       "SLQ quadrature nodes: Ritz values of each run's Lanczos tridiagonal, run-major (run r at [r M, (r+1) M)), "
       "ascending; NaN past an early stop",
       "", ""},
      {kWeights, F, "[n, K*M]", "1",
       "SLQ quadrature weights: squared first eigenvector components, summing to 1 per run (0 past an early stop)",
       "", ""},
      {kHvpCount, I, "[n]", "1", "Hessian-vector products of the density", "", ""},
      {kSeconds, F, "[n]", "s", "wall time of the density", "", ""},
  };
  g.attributes = {
      attr("runs", I, "K"),
      attr("steps", I, "M"),
      attr("num_params", I, "P"),
      attr("method", S, "how the density was computed"),
      attr(kDims, S, "\"step,run*steps+i\"", "", kNodes),
      attr(kDims, S, "\"step,run*steps+i\"", "", kWeights),
  };
  return g;
}

}  // namespace

std::vector<Group> probe_groups() { return {probes(), density()}; }

}  // namespace bnl::record::schema::detail
