#include "bnlandscape/probes/surface.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>
#include <c10/util/Exception.h>
#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/spectrum.h"
#include "random.h"

namespace bnl::probes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// The authors' guard against an all-zero random filter (net_plotter.normalize_direction).
constexpr double kFilterEps = 1e-10;

void check_matches(const Direction& d, const std::vector<torch::Tensor>& params, const char* who) {
  TORCH_CHECK(d.size() == params.size(), who, ": expected a direction of ", params.size(), " tensors, got ", d.size());
  for (std::size_t i = 0; i < d.size(); ++i) {
    TORCH_CHECK(d[i].defined() && d[i].sizes() == params[i].sizes(), who, ": expected direction tensor ", i,
                " of shape ", params[i].sizes(), ", got ", d[i].defined() ? d[i].sizes() : torch::IntArrayRef{});
  }
}

// Batches of evaluate_batched and batched_loss: a lone last example joins the batch before.
std::vector<std::pair<std::int64_t, std::int64_t>> bounds(std::int64_t n, std::int64_t batch) {
  TORCH_CHECK(n >= 1, "surface evaluation: expected at least one example, got ", n);
  TORCH_CHECK(batch >= 1, "surface evaluation: expected a batch size >= 1, got ", batch);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (std::int64_t b = 0; b < n; b += batch) out.emplace_back(b, std::min(n, b + batch));
  if (out.size() > 1 && out.back().second - out.back().first == 1) {
    out[out.size() - 2].second = n;
    out.pop_back();
  }
  return out;
}

torch::Dtype model_dtype(models::Classifier& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::kFloat32 : params.front().scalar_type();
}

// Spectra stops converging on NaN silently and would restart until max_iter.
struct NonFinite {};

class GuardedHessian {
 public:
  using Scalar = double;
  explicit GuardedHessian(const HessianOperator& op) : op_(op) {}
  Eigen::Index rows() const { return op_.rows(); }
  Eigen::Index cols() const { return op_.cols(); }
  void perform_op(const Scalar* x_in, Scalar* y_out) const {
    op_.perform_op(x_in, y_out);
    if (!Eigen::Map<const Eigen::VectorXd>(y_out, op_.rows()).allFinite()) throw NonFinite{};
  }

 private:
  const HessianOperator& op_;
};

// Spectra's eigenvectors() returns converged vectors only; the surface wants the Ritz
// vectors whatever the outcome. Its Ritz coefficients are private, so they are recomputed
// from the (protected) final Lanczos factorisation A V = V H + f e^T: the Ritz pairs are the
// eigenpairs (theta, V y) of the tridiagonal H, the largest algebraic ones first.
class RitzVectors : public Spectra::SymEigsSolver<GuardedHessian> {
 public:
  using Spectra::SymEigsSolver<GuardedHessian>::SymEigsSolver;
  void largest(int count, Eigen::VectorXd& values, Eigen::MatrixXd& vectors) const {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(this->m_fac.matrix_H());
    const Eigen::Index m = es.eigenvalues().size();
    values.resize(count);
    Eigen::MatrixXd y(m, count);
    for (int k = 0; k < count; ++k) {
      values[k] = es.eigenvalues()[m - 1 - k];
      y.col(k) = es.eigenvectors().col(m - 1 - k);
    }
    vectors = this->m_fac.matrix_V() * y;
  }
};

}  // namespace

torch::Tensor filter_norms(const torch::Tensor& t) {
  TORCH_CHECK(t.defined(), "filter_norms: expected a defined tensor");
  const auto d = t.detach().to(torch::kDouble);
  if (d.dim() == 0) return d.abs().reshape({1});
  if (d.dim() == 1) return d.abs();
  return d.reshape({d.size(0), -1}).norm(2, {1});
}

Direction normal_direction(const std::vector<torch::Tensor>& params, std::uint64_t seed) {
  detail::SeededRandom rng(seed);
  Direction d;
  d.reserve(params.size());
  for (const auto& p : params) {
    const Eigen::VectorXd v = rng.normal_vector(p.numel());
    d.push_back(from_eigen(v, p.options()).reshape(p.sizes()));
  }
  return d;
}

void filter_normalize(Direction& d, const std::vector<torch::Tensor>& weights, bool include_bn_bias) {
  check_matches(d, weights, "filter_normalize");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const auto w = weights[i].detach();
    if (w.dim() <= 1) {
      if (include_bn_bias)
        d[i] = w.to(d[i].scalar_type()).clone();
      else
        d[i] = torch::zeros_like(d[i]);
      continue;
    }
    // In float64, so that the stored filter norms equal the weights' to rounding of the dtype.
    const auto dd = d[i].to(torch::kDouble).reshape({d[i].size(0), -1});
    const auto scale = filter_norms(w) / (dd.norm(2, {1}) + kFilterEps);
    d[i] = (dd * scale.unsqueeze(1)).reshape(d[i].sizes()).to(d[i].scalar_type());
  }
}

double direction_norm(const Direction& d) {
  double sq = 0;
  for (const auto& t : d) sq += t.detach().to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

std::vector<double> grid_axis(double lo, double hi, std::int64_t n) {
  TORCH_CHECK(n >= 1, "grid_axis: expected at least one point, got ", n);
  TORCH_CHECK(std::isfinite(lo) && std::isfinite(hi), "grid_axis: expected finite ends, got ", lo, ", ", hi);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] = n == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  // The last point is hi itself, not lo + (hi - lo) rounded.
  if (n > 1) out.back() = hi;
  return out;
}

LossAcc evaluate_batched(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y,
                         std::int64_t batch) {
  torch::NoGradGuard no_grad;
  const std::int64_t n = x.size(0);
  TORCH_CHECK(y.dim() == 1 && y.size(0) == n, "evaluate_batched: expected labels [", n, "], got ", y.sizes());
  const auto dtype = model_dtype(model);
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (const auto& [b, e] : bounds(n, batch)) {
    const auto logits = model.forward(x.slice(0, b, e).to(dtype));
    const auto yb = y.slice(0, b, e);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, yb, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(yb).sum().item<std::int64_t>();
  }
  LossAcc r;
  const double loss = loss_sum / static_cast<double>(n);
  r.loss = std::isfinite(loss) ? loss : kNaN;
  r.acc = static_cast<double>(correct) / static_cast<double>(n);
  return r;
}

LossFn batched_loss(models::Classifier& model, const torch::Tensor& x, const torch::Tensor& y, std::int64_t batch,
                    torch::Dtype dtype) {
  const std::int64_t n = x.size(0);
  TORCH_CHECK(y.dim() == 1 && y.size(0) == n, "batched_loss: expected labels [", n, "], got ", y.sizes());
  auto parts = bounds(n, batch);
  auto xs = x.to(dtype);
  auto* m = &model;
  return [m, xs, y, n, parts]() {
    torch::Tensor total;
    for (const auto& [b, e] : parts) {
      auto l = torch::nn::functional::cross_entropy(m->forward(xs.slice(0, b, e)), y.slice(0, b, e)) *
               (static_cast<double>(e - b) / static_cast<double>(n));
      total = total.defined() ? total + l : l;
    }
    return total;
  };
}

Direction gradient_direction(const std::vector<torch::Tensor>& params, const LossFn& loss, double* grad_norm) {
  TORCH_CHECK(!params.empty(), "gradient_direction: expected at least one parameter tensor, got none");
  torch::AutoGradMode grad_mode(true);
  const auto l = loss();
  TORCH_CHECK(l.defined() && l.numel() == 1 && l.requires_grad(),
              "gradient_direction: expected a scalar loss that depends on the parameters");
  auto grads = torch::autograd::grad({l.reshape({})}, params, {}, false, false, /*allow_unused=*/true);
  Direction d(params.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    d[i] = grads[i].defined() ? grads[i].detach() : torch::zeros_like(params[i]);
  const double gn = direction_norm(d);
  TORCH_CHECK(std::isfinite(gn) && gn > 0, "gradient_direction: expected a finite nonzero gradient, got norm ", gn);
  for (auto& t : d) t = t.to(torch::kDouble).div(-gn).to(t.scalar_type());
  if (grad_norm) *grad_norm = gn;
  return d;
}

EigenDirections hessian_eigen_directions(const std::vector<torch::Tensor>& params, const LossFn& loss, int count,
                                         double tol, std::uint64_t seed) {
  HessianOperator op(params, loss);
  const std::int64_t p = op.rows();
  TORCH_CHECK(count >= 1 && count < p, "hessian_eigen_directions: expected 1 <= count < ", p, " parameters, got ",
              count);
  TORCH_CHECK(op.finite(), "hessian_eigen_directions: expected a finite loss and gradient at the weights, got loss ",
              op.loss());
  LanczosOptions opt;
  opt.k = count;
  opt.tol = tol;
  opt.seed = seed;
  const Eigen::VectorXd start = lanczos_start_vector(opt, p);
  GuardedHessian guarded(op);
  RitzVectors solver(guarded, count, default_ncv(count, p));
  EigenDirections out;
  try {
    solver.init(start.data());
    solver.compute(Spectra::SortRule::LargestAlge, opt.max_iter, tol, Spectra::SortRule::LargestAlge);
  } catch (const NonFinite&) {
    TORCH_CHECK(false, "hessian_eigen_directions: expected finite Hessian-vector products, got a non-finite one");
  }
  out.converged = solver.info() == Spectra::CompInfo::Successful;
  out.hvp_count = op.hvp_count();
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  solver.largest(count, values, vectors);
  TORCH_CHECK(vectors.allFinite(), "hessian_eigen_directions: expected finite Ritz vectors, got non-finite ones");
  for (int k = 0; k < count; ++k) {
    out.eigenvalues.push_back(values[k]);
    const Eigen::VectorXd v = vectors.col(k).normalized();
    const auto flat = from_eigen(v, op.options());
    Direction d;
    for (const auto& part : unflatten(flat, params)) d.push_back(part.clone());
    out.directions.push_back(std::move(d));
  }
  return out;
}

void evaluate_cells(const std::vector<torch::Tensor>& params, const SurfacePlane& plane,
                    const std::vector<std::int64_t>& cells, const std::function<LossAcc()>& eval,
                    const std::function<void(std::int64_t, const LossAcc&)>& on_cell) {
  TORCH_CHECK(!plane.alpha.empty(), "evaluate_cells: expected at least one alpha");
  check_matches(plane.x, params, "evaluate_cells (x)");
  const bool two_d = !plane.beta.empty();
  if (two_d) check_matches(plane.y, params, "evaluate_cells (y)");
  const std::int64_t nb = two_d ? static_cast<std::int64_t>(plane.beta.size()) : 1;
  for (const auto c : cells)
    TORCH_CHECK(c >= 0 && c < plane.cells(), "evaluate_cells: expected cells in [0, ", plane.cells(), "), got ", c);

  const auto theta = snapshot(params);
  struct Restore {
    const std::vector<torch::Tensor>& params;
    const std::vector<torch::Tensor>& saved;
    ~Restore() { restore(params, saved); }
  } restore_on_exit{params, theta};
  for (const auto c : cells) {
    const double a = plane.alpha[static_cast<std::size_t>(c / nb)];
    const double b = two_d ? plane.beta[static_cast<std::size_t>(c % nb)] : 0.0;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < params.size(); ++i) {
        auto w = torch::add(theta[i], plane.x[i].to(theta[i].scalar_type()), a);
        if (two_d) w.add_(plane.y[i].to(theta[i].scalar_type()), b);
        // Version-counter-free, as assign_flat: no graph is invalidated by the move.
        params[i].data().copy_(w);
      }
    }
    on_cell(c, eval());
  }
}

LossAcc evaluate_at(const std::vector<torch::Tensor>& params, const Direction& weights,
                    const std::function<LossAcc()>& eval) {
  check_matches(weights, params, "evaluate_at");
  const auto theta = snapshot(params);
  struct Restore {
    const std::vector<torch::Tensor>& params;
    const std::vector<torch::Tensor>& saved;
    ~Restore() { restore(params, saved); }
  } restore_on_exit{params, theta};
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].data().copy_(weights[i]);
  }
  return eval();
}

std::vector<std::int64_t> rank_share(const std::vector<std::int64_t>& cells, int rank, int world_size) {
  TORCH_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank_share: expected 0 <= rank < world_size, got ",
              rank, " of ", world_size);
  std::vector<std::int64_t> out;
  for (std::size_t k = static_cast<std::size_t>(rank); k < cells.size(); k += static_cast<std::size_t>(world_size))
    out.push_back(cells[k]);
  return out;
}

}  // namespace bnl::probes
