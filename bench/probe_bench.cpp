// Benchmark of the Hessian probes on the study's Fashion-MNIST MLP
// (784 -> 512 -> 256 -> 128 -> 10, BatchNorm after each hidden Linear or
// none), batch of 128 random inputs with random labels, CPU:
//   (1) the time of one Hessian-vector product relative to one gradient;
//   (2) the HVPs implicitly restarted Lanczos (several ncv) and PyHessian's
//       power iteration need to bring the top-1 and top-5 eigenvalues within
//       1e-3 relative of reference values (Lanczos, tol 1e-10), from a cold
//       start and warm-started from the previous weights' top eigenvector
//       after one SGD step.
// It picks LanczosOptions' default ncv (see default_ncv in src/probes/spectrum.cpp).
//
// Usage: probe_bench [--quick]   (--quick: fewer ncv values and repeats)

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <Spectra/SymEigsSolver.h>
#include <torch/autograd.h>
#include <torch/nn/functional.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/spectrum.h"

namespace {

using bnl::probes::HessianOperator;
using bnl::probes::LossFn;
using Clock = std::chrono::steady_clock;

constexpr double kTarget = 1e-3;  // relative accuracy the HVP counts are measured to

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// The study's MLP written out with functional Linear layers and our BatchNorm
/// (training mode, running statistics frozen), PyTorch-default initialisation.
struct Mlp {
  std::vector<torch::Tensor> weights, biases;
  std::vector<bnl::models::BatchNorm> norms;
  torch::Tensor x, labels;

  std::vector<torch::Tensor> params() const {
    std::vector<torch::Tensor> ps;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      ps.push_back(weights[i]);
      ps.push_back(biases[i]);
      if (i < norms.size()) {
        ps.push_back(norms[i]->gamma);
        ps.push_back(norms[i]->beta);
      }
    }
    return ps;
  }

  LossFn loss() const {
    Mlp self = *this;
    return [self]() mutable {
      torch::Tensor h = self.x;
      for (std::size_t i = 0; i < self.weights.size(); ++i) {
        h = torch::nn::functional::linear(h, self.weights[i], self.biases[i]);
        if (i + 1 == self.weights.size()) break;
        if (!self.norms.empty()) h = self.norms[i]->forward(h);
        h = torch::relu(h);
      }
      return torch::nn::functional::cross_entropy(h, self.labels);
    };
  }
};

Mlp make_mlp(bool bn, torch::Dtype dtype, std::uint64_t seed) {
  torch::manual_seed(seed);
  const std::vector<std::int64_t> dims{784, 512, 256, 128, 10};
  Mlp m;
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(dims[i]));
    m.weights.push_back(torch::empty({dims[i + 1], dims[i]}, dtype).uniform_(-bound, bound).requires_grad_(true));
    m.biases.push_back(torch::empty({dims[i + 1]}, dtype).uniform_(-bound, bound).requires_grad_(true));
    if (bn && i + 2 < dims.size()) {
      auto norm = bnl::models::BatchNorm(bnl::models::BatchNormOptions(dims[i + 1]));
      norm->to(dtype);
      norm->train();
      norm->set_update_running_stats(false);
      m.norms.push_back(norm);
    }
  }
  // Pixel-like inputs in [0, 1] and random labels.
  m.x = torch::rand({128, 784}, dtype);
  m.labels = torch::randint(0, 10, {128}, torch::kLong);
  return m;
}

torch::Tensor flat_gradient(const std::vector<torch::Tensor>& params, const LossFn& loss) {
  auto grads = torch::autograd::grad({loss()}, params, {}, false, false, true);
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = torch::zeros_like(params[i]);
  return bnl::probes::flatten(grads).detach();
}

void sgd_steps(const Mlp& m, int steps, double lr) {
  const auto params = m.params();
  for (int s = 0; s < steps; ++s) {
    const auto g = flat_gradient(params, m.loss());
    bnl::probes::assign_flat(params, bnl::probes::flatten(params).detach() - lr * g);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Exposes the Ritz values Spectra keeps protected, converged or not, so
/// that the accuracy after m restarts can be read.
class RitzProbe : public Spectra::SymEigsSolver<HessianOperator> {
 public:
  using Spectra::SymEigsSolver<HessianOperator>::SymEigsSolver;
  Eigen::VectorXd ritz_values() const { return this->m_ritz_val.head(this->m_nev); }
};

double max_rel_error(const std::vector<double>& got, const std::vector<double>& truth, int k) {
  double e = 0.0;
  for (int i = 0; i < k; ++i) {
    const double d = std::abs(got[static_cast<std::size_t>(i)] - truth[static_cast<std::size_t>(i)]) /
                     std::abs(truth[static_cast<std::size_t>(i)]);
    e = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(e, d);
  }
  return e;
}

/// Ritz values after `restarts` implicit restarts of Spectra's Lanczos from
/// `start` (an unreachable tolerance keeps it from stopping early); returns
/// their max relative error against `truth` and the HVPs used.
double lanczos_error_after(HessianOperator& op, int k, int ncv, const Eigen::VectorXd& start,
                           const std::vector<double>& truth, int restarts, std::int64_t* hvps) {
  RitzProbe solver(op, k, ncv);
  const std::int64_t before = op.hvp_count();
  solver.init(start.data());
  solver.compute(Spectra::SortRule::LargestAlge, restarts, 1e-300, Spectra::SortRule::LargestAlge);
  *hvps = op.hvp_count() - before;
  const Eigen::VectorXd ritz = solver.ritz_values();
  return max_rel_error(std::vector<double>(ritz.data(), ritz.data() + k), truth, k);
}

/// Fewest HVPs after which all k Ritz values are within kTarget of the truth,
/// searching the number of restarts by doubling then bisection (the runs are
/// deterministic from the same start; the error is taken to fall with the
/// restarts). -1 if more than `max_restarts` are needed.
std::int64_t lanczos_oracle_hvps(HessianOperator& op, int k, int ncv, const Eigen::VectorXd& start,
                                 const std::vector<double>& truth, int max_restarts) {
  std::int64_t hvps = 0;
  if (lanczos_error_after(op, k, ncv, start, truth, 0, &hvps) < kTarget) return hvps;
  int bad = 0, good = 1;
  while (lanczos_error_after(op, k, ncv, start, truth, good, &hvps) >= kTarget) {
    bad = good;
    good *= 2;
    if (good > max_restarts) return -1;
  }
  std::int64_t good_hvps = hvps;
  while (good - bad > 1) {
    const int mid = (bad + good) / 2;
    if (lanczos_error_after(op, k, ncv, start, truth, mid, &hvps) < kTarget) {
      good = mid;
      good_hvps = hvps;
    } else {
      bad = mid;
    }
  }
  return good_hvps;
}

struct Row {
  std::string model, method, start;
  int k = 0, ncv = 0;
  std::int64_t oracle = -1;
  std::int64_t hvps = 0;
  double err = 0.0;
  bool converged = false;
};

void print_row(const Row& r) {
  std::printf("%-6s %2d  %-22s %4s  %-5s  %7s  %7lld  %9.2e  %s\n", r.model.c_str(), r.k, r.method.c_str(),
              r.ncv > 0 ? std::to_string(r.ncv).c_str() : "-", r.start.c_str(),
              r.oracle >= 0 ? std::to_string(r.oracle).c_str() : "-", static_cast<long long>(r.hvps), r.err,
              r.converged ? "yes" : "NO");
  std::fflush(stdout);
}

void time_products(const char* name, const Mlp& m, int repeats) {
  const auto params = m.params();
  const auto loss = m.loss();
  std::vector<double> grad_t, build_t, hvp_t;
  for (int r = 0; r < repeats + 1; ++r) {
    auto t0 = Clock::now();
    flat_gradient(params, loss);
    if (r > 0) grad_t.push_back(seconds_since(t0));
  }
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    HessianOperator op(params, loss);
    build_t.push_back(seconds_since(t0));
  }
  HessianOperator op(params, loss);
  const auto v = torch::randn({op.rows()}, op.options());
  for (int r = 0; r < repeats + 1; ++r) {
    auto t0 = Clock::now();
    op.hvp(v);
    if (r > 0) hvp_t.push_back(seconds_since(t0));
  }
  const double tg = median(grad_t), tb = median(build_t), th = median(hvp_t);
  std::printf("%-12s P=%-7lld grad %7.2f ms   operator build (grad, create_graph) %7.2f ms   HVP %7.2f ms   HVP/grad %.2f\n",
              name, static_cast<long long>(op.rows()), 1e3 * tg, 1e3 * tb, 1e3 * th, th / tg);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int repeats = quick ? 5 : 15;
  std::printf("threads: %d\n\n(1) cost of one product (median of %d)\n", torch::get_num_threads(), repeats);
  for (const bool bn : {false, true}) {
    for (const auto dtype : {torch::kFloat, torch::kDouble}) {
      const auto m = make_mlp(bn, dtype, 1);
      sgd_steps(m, 20, 0.05);
      const std::string name = std::string(bn ? "bn" : "plain") + (dtype == torch::kFloat ? " f32" : " f64");
      time_products(name.c_str(), m, repeats);
    }
  }

  const std::vector<int> ncv1 = quick ? std::vector<int>{4, 10, 20} : std::vector<int>{3, 4, 6, 10, 15, 20, 30, 40};
  const std::vector<int> ncv5 = quick ? std::vector<int>{11, 20} : std::vector<int>{7, 8, 11, 15, 20, 30, 40};
  std::printf("\n(2) HVPs to top-k within %.0e relative (float64; truth: Lanczos k=5, ncv=40, tol 1e-10)\n", kTarget);
  std::printf("    oracle = fewest HVPs whose Ritz values are within %.0e (Lanczos rerun with m restarts, m searched);\n"
              "    hvps/err/conv = one run at the practical tolerance (Lanczos tol 1e-3; power iteration as labelled)\n",
              kTarget);
  std::printf("    warm = previous weights' top eigenvector, one SGD step (lr 0.05) earlier\n\n");
  std::printf("%-6s %2s  %-22s %4s  %-5s  %7s  %7s  %9s  %s\n", "model", "k", "method", "ncv", "start", "oracle", "hvps",
              "max_err", "conv");

  for (const bool bn : {false, true}) {
    const std::string model = bn ? "bn" : "plain";
    const auto m = make_mlp(bn, torch::kDouble, 1);
    sgd_steps(m, 20, 0.05);
    const auto params = m.params();

    // Weights w0, their top eigenvector (for the warm start), then w1 = one SGD step on.
    bnl::probes::LanczosOptions truth_opt;
    truth_opt.k = 5;
    truth_opt.ncv = 40;
    truth_opt.tol = 1e-10;
    truth_opt.max_iter = 10000;
    Eigen::VectorXd previous;
    {
      HessianOperator op0(params, m.loss());
      auto t0 = Clock::now();
      const auto truth0 = bnl::probes::lanczos_eigs(op0, truth_opt);
      std::printf("# %s w0 truth (%lld HVPs, %.1f s, converged %d):", model.c_str(),
                  static_cast<long long>(truth0.hvp_count), seconds_since(t0), truth0.converged);
      for (double e : truth0.eigenvalues) std::printf(" %.6g", e);
      std::printf("\n");
      previous = truth0.top_eigenvector;
    }
    sgd_steps(m, 1, 0.05);
    HessianOperator op(params, m.loss());
    auto t0 = Clock::now();
    const auto truth = bnl::probes::lanczos_eigs(op, truth_opt);
    std::printf("# %s w1 truth (%lld HVPs, %.1f s, converged %d):", model.c_str(),
                static_cast<long long>(truth.hvp_count), seconds_since(t0), truth.converged);
    for (double e : truth.eigenvalues) std::printf(" %.6g", e);
    std::printf("\n# |<v_top(w0), v_top(w1)>| = %.6f\n", std::abs(previous.dot(truth.top_eigenvector)));
    if (!truth.converged) return 1;

    for (const int k : {1, 5}) {
      for (const bool warm : {false, true}) {
        const Eigen::VectorXd ws = warm ? previous : Eigen::VectorXd();
        for (const int ncv : (k == 1 ? ncv1 : ncv5)) {
          Row r;
          r.model = model;
          r.k = k;
          r.method = "lanczos";
          r.ncv = ncv;
          r.start = warm ? "warm" : "cold";
          bnl::probes::LanczosOptions opt;
          opt.k = k;
          opt.ncv = ncv;
          opt.tol = 1e-3;
          opt.seed = 7;
          opt.warm_start = ws;
          r.oracle = lanczos_oracle_hvps(op, k, ncv, bnl::probes::lanczos_start_vector(opt, op.rows()),
                                         truth.eigenvalues, 1000);
          const auto res = bnl::probes::lanczos_eigs(op, opt);
          r.hvps = res.hvp_count;
          r.err = max_rel_error(res.eigenvalues, truth.eigenvalues, k);
          r.converged = res.converged;
          print_row(r);
        }
        for (const double tol : {1e-3, 1e-4}) {
          bnl::probes::PowerIterationOptions popt;
          popt.k = k;
          popt.tol = tol;
          popt.max_iter = 1000;
          popt.seed = 7;
          popt.warm_start = ws;
          const auto res = bnl::probes::power_iteration_eigs(op, popt);
          Row r;
          r.model = model;
          r.k = k;
          char label[64];
          std::snprintf(label, sizeof label, "power tol %.0e", tol);
          r.method = label;
          r.start = warm ? "warm" : "cold";
          r.hvps = res.hvp_count;
          r.err = max_rel_error(res.eigenvalues, truth.eigenvalues, k);
          r.converged = res.converged;
          print_row(r);
        }
      }
    }

    // The same weights in float32, the dtype training uses: the default
    // options' accuracy against the float64 truth.
    {
      auto m32 = make_mlp(bn, torch::kFloat, 1);
      m32.x = m.x.to(torch::kFloat);
      m32.labels = m.labels;
      const auto p32 = m32.params();
      for (std::size_t i = 0; i < p32.size(); ++i) {
        torch::NoGradGuard no_grad;
        p32[i].copy_(params[i]);
      }
      HessianOperator op32(p32, m32.loss());
      for (const int k : {1, 5}) {
        bnl::probes::LanczosOptions opt;
        opt.k = k;
        const auto res = bnl::probes::lanczos_eigs(op32, opt);
        Row r;
        r.model = model + "32";
        r.k = k;
        r.method = "lanczos defaults f32";
        r.ncv = bnl::probes::default_ncv(k, op32.rows());
        r.start = "cold";
        r.hvps = res.hvp_count;
        r.err = max_rel_error(res.eigenvalues, truth.eigenvalues, k);
        r.converged = res.converged;
        print_row(r);
      }
    }
  }
  return 0;
}
