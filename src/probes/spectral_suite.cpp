#include "bnlandscape/probes/spectral_suite.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "bnlandscape/probes/density.h"
#include "bnlandscape/probes/layer_hessian.h"
#include "bnlandscape/probes/scaled_operator.h"
#include "bnlandscape/probes/spectrum.h"
#include "bnlandscape/probes/topk_share.h"
#include "bnlandscape/probes/trace.h"

namespace bnl::probes {
namespace {

LanczosOptions lanczos_options(int k, const SpectralPlan& plan, std::uint64_t seed, bool largest) {
  LanczosOptions o;
  o.k = k;
  o.ncv = plan.ncv;
  o.tol = plan.tol;
  o.seed = seed;
  o.largest = largest;
  return o;
}

// Top-k of D A D for one scaling d, into `eigvals`; adds its products and convergence to `r`.
template <class Op>
void scaled_top(const Op& op, const Eigen::VectorXd& d, const SpectralPlan& plan, std::uint64_t seed,
                std::vector<double>& eigvals, SpectralRecord& r) {
  // ncv 0: the measured default for k (the raw solve's ncv may be tied to bottom-k too).
  auto o = lanczos_options(plan.top_k, plan, seed, /*largest=*/true);
  o.ncv = 0;
  const auto e = lanczos_eigs(ScaledOperator<Op>(op, d), o);
  eigvals = e.eigenvalues;
  r.scaled_hvp_count += e.hvp_count;
  r.scaled_converged = r.scaled_converged && e.converged;
}

template <class Op>
SpectralOutcome measure_on(const Op& op, const SpectralPlan& plan) {
  SpectralOutcome out;
  SpectralRecord& r = out.record;
  const std::int64_t before = op.hvp_count();
  if (plan.top_k > 0) {
    auto o = lanczos_options(plan.top_k, plan, plan.seed, /*largest=*/true);
    o.warm_start = plan.warm_start;
    o.ritz_vectors = plan.gradient.size() > 0;
    auto e = lanczos_eigs(op, o);
    r.eigvals = e.eigenvalues;
    r.converged = r.converged && e.converged;
    out.top_eigenvector = std::move(e.top_eigenvector);
    if (o.ritz_vectors) {
      r.grad_topk_share.assign(static_cast<std::size_t>(plan.top_k), std::numeric_limits<double>::quiet_NaN());
      if (e.ritz_vectors.cols() == plan.top_k) r.grad_topk_share = topk_gradient_share(e.ritz_vectors, plan.gradient);
    }
  }
  if (plan.bottom_k > 0) {
    const auto e = lanczos_eigs(op, lanczos_options(plan.bottom_k, plan, plan.seed + 1, /*largest=*/false));
    r.eigvals_bottom = e.eigenvalues;
    r.converged = r.converged && e.converged;
  }
  r.hvp_count = op.hvp_count() - before;
  if (plan.trace_samples > 0) {
    const auto t = hutchinson_trace(op, plan.trace_samples, plan.seed + 2);
    r.trace = t.trace;
    r.trace_stderr = t.stderr_;
  }
  if (plan.density_runs > 0) {
    const auto td = std::chrono::steady_clock::now();
    DensityOptions o;
    o.runs = plan.density_runs;
    o.steps = plan.density_steps;
    o.seed = plan.seed ^ plan.density_salt;
    auto d = slq_density(op, o);
    r.density_nodes = std::move(d.nodes);
    r.density_weights = std::move(d.weights);
    r.density_hvp_count = d.hvp_count;
    r.density_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - td).count();
  }
  if (plan.layer_top_k > 0) {
    LanczosOptions o;
    o.k = plan.layer_top_k;
    o.tol = plan.tol;
    o.seed = plan.seed + 4;
    const auto l = layer_top_eigs(op, plan.blocks, o);
    for (const auto& e : l.eigenvalues) r.layer_eigvals.insert(r.layer_eigvals.end(), e.begin(), e.end());
    r.layer_hvp_count = l.hvp_count;
    r.layer_converged = l.converged;
  }
  if (plan.top_k > 0 && plan.layer_scaling.size() > 0) {
    if (plan.layer_is_identity)
      r.eigvals_layer = r.eigvals;  // D = I: D A D = A, the raw solve's numbers
    else
      scaled_top(op, plan.layer_scaling, plan, plan.seed + 5, r.eigvals_layer, r);
  }
  if (plan.top_k > 0 && plan.adaptive_scaling.size() > 0)
    scaled_top(op, plan.adaptive_scaling, plan, plan.seed + 6, r.eigvals_adaptive, r);
  return out;
}

}  // namespace

SpectralOutcome measure_spectrum(const HessianOperator& op, const SpectralPlan& plan) { return measure_on(op, plan); }

SpectralOutcome measure_spectrum(const GgnOperator& op, const SpectralPlan& plan) { return measure_on(op, plan); }

}  // namespace bnl::probes
