#pragma once
// Test problems with independently known Hessians, shared by the probes tests.

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/QR>
#include <torch/nn/functional.h>
#include <torch/types.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/hessian_operator.h"
#include "bnlandscape/probes/loss_fn.h"

namespace bnl::probes::testing {

/// The dense matrix of a matrix-free operator with Spectra's interface (rows(),
/// perform_op(x_in, y_out)): column j is op(e_j).
template <class Op>
Eigen::MatrixXd dense_matrix(const Op& op) {
  const Eigen::Index p = op.rows();
  Eigen::MatrixXd h(p, p);
  Eigen::VectorXd e = Eigen::VectorXd::Zero(p);
  for (Eigen::Index j = 0; j < p; ++j) {
    e[j] = 1.0;
    op.perform_op(e.data(), h.col(j).data());
    e[j] = 0.0;
  }
  return h;
}

/// dense_matrix, symmetrised: (H + H^T) / 2, for the eigensolvers of the references.
template <class Op>
Eigen::MatrixXd dense_symmetric(const Op& op) {
  const Eigen::MatrixXd h = dense_matrix(op);
  return 0.5 * (h + h.transpose());
}

/// The small MLPs of the probe tests: one channel of `input_size` x `input_size` inputs, hidden
/// layers `hidden_dims`, `num_classes` outputs and normalisation `kind` (with NormSpec's default
/// backward; callers set another).
inline bnl::models::ModelSpec small_mlp_spec(std::int64_t input_size, std::vector<std::int64_t> hidden_dims,
                                             bnl::models::NormKind kind, std::int64_t num_classes = 10) {
  bnl::models::ModelSpec s;
  s.arch = "mlp";
  s.in_channels = 1;
  s.input_size = input_size;
  s.hidden_dims = std::move(hidden_dims);
  s.num_classes = num_classes;
  s.norm.kind = kind;
  return s;
}

inline Eigen::MatrixXd eigen_normal(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = normal(engine);
  return m;
}

inline torch::Tensor to_tensor(const Eigen::MatrixXd& m) {
  // Eigen is column-major; the transpose of the row-major view is the matrix itself.
  auto t = torch::empty({m.rows(), m.cols()}, torch::kDouble);
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.data_ptr<double>(), m.rows(),
                                                                                     m.cols()) = m;
  return t;
}

inline Eigen::MatrixXd to_matrix(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kDouble).contiguous();
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.data_ptr<double>(), c.size(0), c.size(1));
}

/// L(w) = 1/2 w^T A w with A = Q diag(lambda) Q^T, Q a random orthogonal matrix.
/// The weights are split over two tensors ([3, 5] and [P - 15]) so that the
/// flattening order is exercised.
struct Quadratic {
  Eigen::VectorXd lambda;
  Eigen::MatrixXd a;
  torch::Tensor a_t;
  std::vector<torch::Tensor> params;

  torch::Tensor w_flat() const { return flatten(params); }
  Eigen::VectorXd w() const { return to_eigen(flatten(params)); }
  LossFn loss() const {
    auto a_tensor = a_t;
    auto ps = params;
    return [a_tensor, ps] {
      const auto w = flatten(ps);
      return 0.5 * torch::dot(w, a_tensor.mv(w));
    };
  }
};

inline Quadratic make_quadratic(const Eigen::VectorXd& lambda, std::uint64_t seed) {
  const Eigen::Index p = lambda.size();
  Quadratic q;
  q.lambda = lambda;
  const Eigen::MatrixXd qm = Eigen::HouseholderQR<Eigen::MatrixXd>(eigen_normal(p, p, seed)).householderQ();
  q.a = qm * lambda.asDiagonal() * qm.transpose();
  q.a = 0.5 * (q.a + q.a.transpose());
  q.a_t = to_tensor(q.a);
  const auto w = from_eigen(eigen_normal(p, 1, seed + 1).col(0), torch::kDouble);
  q.params = {w.narrow(0, 0, 15).reshape({3, 5}).clone().requires_grad_(true),
              w.narrow(0, 15, p - 15).clone().requires_grad_(true)};
  return q;
}

/// Softmax linear classifier without bias: logits = X W^T, W [K, D], mean
/// cross entropy over N inputs with random labels.
struct SoftmaxProblem {
  torch::Tensor x;       // [N, D]
  torch::Tensor labels;  // [N]
  torch::Tensor w;       // [K, D], requires grad
  LossFn loss() const {
    auto xx = x;
    auto yy = labels;
    auto ww = w;
    return [xx, yy, ww] { return torch::nn::functional::cross_entropy(xx.mm(ww.t()), yy); };
  }
};

inline SoftmaxProblem make_softmax(std::int64_t n, std::int64_t d, std::int64_t k, std::uint64_t seed) {
  SoftmaxProblem s;
  // Correlated, non-centred inputs so that S has a spread spectrum.
  Eigen::MatrixXd mix = eigen_normal(d, d, seed);
  Eigen::MatrixXd x = eigen_normal(n, d, seed + 1) * mix;
  x.array() += 0.5;
  s.x = to_tensor(x);
  std::mt19937_64 engine(seed + 2);
  std::uniform_int_distribution<std::int64_t> label(0, k - 1);
  s.labels = torch::empty({n}, torch::kLong);
  for (std::int64_t i = 0; i < n; ++i) s.labels[i] = label(engine);
  s.w = torch::zeros({k, d}, torch::kDouble).requires_grad_(true);
  return s;
}

/// The input moment matrix S = X^T X / N of a softmax problem, [D, D].
inline Eigen::MatrixXd input_moments(const SoftmaxProblem& s) {
  const Eigen::MatrixXd x = to_matrix(s.x);
  return x.transpose() * x / static_cast<double>(x.rows());
}

/// 6 -> 5 -> BatchNorm (ours, training mode, running statistics frozen) ->
/// ReLU -> 3, float64, batch 8, mean cross entropy with random labels.
struct TinyMlp {
  torch::Tensor x, labels, w1, b1, w2, b2;
  bnl::models::BatchNorm bn{nullptr};
  std::vector<torch::Tensor> params;
  LossFn loss() const {
    auto self = *this;
    return [self]() mutable {
      auto h = torch::nn::functional::linear(self.x, self.w1, self.b1);
      h = torch::relu(self.bn->forward(h));
      return torch::nn::functional::cross_entropy(torch::nn::functional::linear(h, self.w2, self.b2), self.labels);
    };
  }
};

inline TinyMlp make_tiny_mlp(std::uint64_t seed) {
  TinyMlp m;
  auto t = [&](Eigen::Index r, Eigen::Index c, double scale) {
    return (scale * to_tensor(eigen_normal(r, c, seed++)));
  };
  m.x = t(8, 6, 1.0);
  m.w1 = t(5, 6, 0.5).requires_grad_(true);
  m.b1 = t(5, 1, 0.1).view({5}).clone().requires_grad_(true);
  m.w2 = t(3, 5, 0.5).requires_grad_(true);
  m.b2 = t(3, 1, 0.1).view({3}).clone().requires_grad_(true);
  m.labels = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 1, 0, 2, 2, 1}, torch::kLong);
  m.bn = bnl::models::BatchNorm(bnl::models::BatchNormOptions(5));
  m.bn->to(torch::kDouble);
  m.bn->train();
  m.bn->set_update_running_stats(false);
  {
    // Non-trivial gamma/beta so that their Hessian blocks are generic.
    torch::NoGradGuard no_grad;
    m.bn->gamma.copy_(1.0 + 0.3 * t(5, 1, 1.0).view({5}));
    m.bn->beta.copy_(0.2 * t(5, 1, 1.0).view({5}));
  }
  m.params = {m.w1, m.b1, m.bn->gamma, m.bn->beta, m.w2, m.b2};
  return m;
}

/// make_tiny_mlp(seed) with the Hessian operator of its loss at its parameters.
struct TinyMlpHessian {
  explicit TinyMlpHessian(std::uint64_t seed) : m(make_tiny_mlp(seed)), op(m.params, m.loss()) {}
  const TinyMlp m;
  HessianOperator op;
};

/// Flat gradient [P] of `loss` at the current parameters, detached.
inline torch::Tensor flat_gradient(const std::vector<torch::Tensor>& params, const LossFn& loss) {
  auto grads = torch::autograd::grad({loss()}, params, {}, false, false, true);
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = torch::zeros_like(params[i]);
  return flatten(grads).detach();
}

/// True when the tensors hold identical bits (NaN-safe, unlike torch::equal).
inline bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() &&
         torch::equal(a.detach().contiguous().view(torch::kByte), b.detach().contiguous().view(torch::kByte));
}

}  // namespace bnl::probes::testing
