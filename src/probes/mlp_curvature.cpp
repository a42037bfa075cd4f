#include "bnlandscape/probes/mlp_curvature.h"

#include <stdexcept>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/mlp_layout.h"
#include "bn_r_kernels.h"
#include "mlp_curvature_point.h"

namespace bnl::probes {
using detail::batch_statistics;
using detail::col_mean;
using detail::ptr;

MlpCurvature::~MlpCurvature() = default;

std::string MlpCurvature::unsupported_reason(models::Classifier& model, const std::vector<torch::Tensor>& params) {
  const auto layout = models::match_mlp_layout(model);
  if (!layout.ok()) return layout.reason;
  std::vector<torch::Tensor> expected;
  for (const auto& layer : layout.layers) {
    expected.push_back(layer.linear->weight);
    expected.push_back(layer.linear->bias);
    if (layer.bn) {
      expected.push_back(layer.bn->gamma);
      expected.push_back(layer.bn->beta);
    }
  }
  if (expected.size() != params.size()) return "the parameters are not the MLP's parameters";
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].is_same(expected[i])) return "parameter " + std::to_string(i) + " is not the MLP's, in order";
    if (params[i].scalar_type() != torch::kFloat32 && params[i].scalar_type() != torch::kFloat64)
      return "parameter " + std::to_string(i) + " is not float32 or float64";
    if (params[i].device() != params[0].device() || params[i].scalar_type() != params[0].scalar_type())
      return "the parameters do not share one dtype and device";
  }
  return "";
}

MlpCurvature::MlpCurvature(models::Classifier& model, const std::vector<torch::Tensor>& params, const torch::Tensor& x,
                           const torch::Tensor& y, std::int64_t microbatch, bool fused_cpu, Product product)
    : model_(&model), fused_cpu_(fused_cpu), product_(product) {
  const std::string why = unsupported_reason(model, params);
  if (!why.empty()) throw std::invalid_argument("MlpCurvature: " + why);
  num_params_ = params.size();
  std::int64_t index = 0;
  for (const auto& layer : models::match_mlp_layout(model).layers) {
    layers_.push_back({layer.linear->weight, layer.linear->bias, layer.bn, index, layer.bn ? index + 2 : -1});
    index += layer.bn ? 4 : 2;
  }
  const std::int64_t n = x.size(0), in0 = layers_.front().weight.size(1);
  TORCH_CHECK(n > 0 && x.numel() == n * in0, "MlpCurvature: expected images of ", in0, " values each, got ", x.sizes());
  TORCH_CHECK(y.dim() == 1 && y.size(0) == n && y.scalar_type() == torch::kInt64, "MlpCurvature: expected int64 labels [",
              n, "], got ", y.scalar_type(), " ", y.sizes());
  const std::int64_t m = microbatch > 0 ? std::min(microbatch, n) : n;
  const auto opts = params.front().options();
  const auto xf = x.reshape({n, in0}).to(opts.device(), opts.dtype().toScalarType()).contiguous();
  const auto yd = y.to(opts.device());
  for (std::int64_t b = 0; b < n; b += m) {
    xs_.push_back(xf.slice(0, b, std::min(n, b + m)));
    ys_.push_back(yd.slice(0, b, std::min(n, b + m)));
  }
}

std::shared_ptr<const MlpCurvature::Point> MlpCurvature::evaluate(double* loss, std::vector<torch::Tensor>* grads,
                                                                  bool keep) const {
  torch::NoGradGuard no_grad;
  auto point = std::make_shared<Point>();
  const double inv_chunks = 1.0 / static_cast<double>(xs_.size());
  std::vector<torch::Tensor> g(num_params_);
  torch::Tensor loss_sum;
  for (std::size_t k = 0; k < xs_.size(); ++k) {
    std::vector<Point::Layer> cache(layers_.size());
    torch::Tensor a = xs_[k];
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto& L = layers_[l];
      auto& c = cache[l];
      c.input = a;
      torch::Tensor yv = torch::addmm(L.bias.detach(), a, L.weight.detach().t());
      if (L.bn) {
        const double eps = L.bn->options.eps();
        if (batch_statistics(*L.bn)) {
          auto d = yv - col_mean(yv);
          c.s = torch::rsqrt(col_mean(d * d) + eps);
          c.u = d * c.s;
        } else {
          c.s = torch::rsqrt(L.bn->running_var.detach().to(yv.dtype()) + eps);
          c.u = (yv - L.bn->running_mean.detach().to(yv.dtype())) * c.s;
        }
        yv = torch::addcmul(L.bn->beta.detach(), c.u, L.bn->gamma.detach());
      }
      a = l + 1 < layers_.size() ? torch::relu(yv) : yv;
    }
    // a holds the logits [m, K].
    const auto& y = ys_[k];
    const double m = static_cast<double>(a.size(0));
    const auto lse = torch::logsumexp(a, 1);
    const auto l_k = (lse - a.gather(1, y.unsqueeze(1)).squeeze(1)).mean();
    loss_sum = loss_sum.defined() ? loss_sum + l_k : l_k;
    auto probs = torch::softmax(a, 1);
    auto gy = probs.clone();
    gy.scatter_add_(1, y.unsqueeze(1), torch::full({a.size(0), 1}, -1.0, gy.options()));
    gy.div_(m);
    for (std::size_t l = layers_.size(); l-- > 0;) {
      const auto& L = layers_[l];
      auto& c = cache[l];
      c.gy = gy;
      torch::Tensor gz = gy;
      if (L.bn) {
        const auto gi = static_cast<std::size_t>(L.gamma_index);
        auto dgamma = (gy * c.u).sum(0), dbeta = gy.sum(0);
        g[gi] = g[gi].defined() ? g[gi] + dgamma : dgamma;
        g[gi + 1] = g[gi + 1].defined() ? g[gi + 1] + dbeta : dbeta;
        c.gu = gy * L.bn->gamma.detach();
        if (batch_statistics(*L.bn)) {
          c.c = col_mean(c.gu * c.u);
          gz = c.s * (c.gu - col_mean(c.gu) - c.u * c.c);
        } else {
          gz = c.s * c.gu;
        }
      }
      c.gz = gz;
      const auto wi = static_cast<std::size_t>(L.weight_index);
      auto dw = gz.t().mm(c.input), db = gz.sum(0);
      g[wi] = g[wi].defined() ? g[wi] + dw : dw;
      g[wi + 1] = g[wi + 1].defined() ? g[wi + 1] + db : db;
      // ReLU passes the gradient where its output is positive (autograd's rule).
      if (l > 0) gy = gz.mm(L.weight.detach()) * (c.input > 0);
    }
    if (keep) {
      point->chunks.push_back(std::move(cache));
      point->probs.push_back(std::move(probs));
    }
  }
  if (loss) *loss = (loss_sum * inv_chunks).item<double>();
  if (grads) {
    grads->resize(num_params_);
    for (std::size_t i = 0; i < num_params_; ++i) (*grads)[i] = xs_.size() > 1 ? g[i] * inv_chunks : g[i];
  }
  return point;
}

torch::Tensor MlpCurvature::r_preactivation(const Layer& layer, const torch::Tensor& input, const torch::Tensor& r_input,
                                            const std::vector<torch::Tensor>& dir, torch::Tensor* kept_r_input) {
  *kept_r_input = r_input;
  // R Z = dB + A dW^T + (R A) W^T; R A is undefined (zero) for the data.
  const auto wi = static_cast<std::size_t>(layer.weight_index);
  torch::Tensor rz = torch::addmm(dir[wi + 1], input, dir[wi].t());
  if (r_input.defined()) rz.addmm_(r_input, layer.weight.detach().t());
  return rz;
}

std::vector<torch::Tensor> MlpCurvature::directions(const Point& point, const std::vector<torch::Tensor>& v,
                                                    const char* who) const {
  TORCH_CHECK(v.size() == num_params_, who, ": expected ", num_params_, " direction tensors, got ", v.size());
  TORCH_CHECK(point.chunks.size() == xs_.size(), who, ": expected a point kept by evaluate(keep=true)");
  const auto dtype = layers_.front().weight.scalar_type();
  std::vector<torch::Tensor> dir(num_params_);
  for (std::size_t i = 0; i < num_params_; ++i) dir[i] = v[i].to(dtype).contiguous();
  return dir;
}

bool MlpCurvature::fused() const { return fused_cpu_ && layers_.front().weight.device().is_cpu(); }

torch::Tensor MlpCurvature::r_forward(const Point& point, std::size_t k, const std::vector<torch::Tensor>& dir,
                                      RForward* r) const {
  const auto& cache = point.chunks[k];
  const std::size_t nl = layers_.size();
  r->r_in.assign(nl, torch::Tensor());
  r->r_u.assign(nl, torch::Tensor());
  r->r_k.assign(nl, torch::Tensor());
  torch::Tensor r_a;  // undefined = 0
  for (std::size_t l = 0; l < nl; ++l) {
    const auto& L = layers_[l];
    const auto& c = cache[l];
    torch::Tensor rz = r_preactivation(L, c.input, r_a, dir, &r->r_in[l]);
    torch::Tensor ry = rz;
    if (L.bn) {
      const auto gi = static_cast<std::size_t>(L.gamma_index);
      if (batch_statistics(*L.bn)) {
        r->r_k[l] = col_mean(c.u * rz);
        r->r_u[l] = c.s * (rz - col_mean(rz) - c.u * r->r_k[l]);
      } else {
        r->r_u[l] = c.s * rz;
      }
      ry = r->r_u[l] * L.bn->gamma.detach() + c.u * dir[gi] + dir[gi + 1];
    }
    // ReLU's mask is constant under the R-operator.
    r_a = l + 1 < nl ? ry * (cache[l + 1].input > 0) : ry;
  }
  return r_a;
}

template <typename T>
torch::Tensor MlpCurvature::r_forward_fused(const Point& point, std::size_t k, const std::vector<torch::Tensor>& dir,
                                            RForward* r) const {
  // r_forward with BN's and ReLU's element-wise terms fused (bn_r_forward, relu_mask_).
  const auto& cache = point.chunks[k];
  const auto opts = layers_.front().weight.options();
  const std::int64_t m = xs_[k].size(0);
  const std::size_t nl = layers_.size();
  r->r_in.assign(nl, torch::Tensor());
  r->r_u.assign(nl, torch::Tensor());
  r->r_k.assign(nl, torch::Tensor());
  torch::Tensor r_a;  // undefined = 0
  for (std::size_t l = 0; l < nl; ++l) {
    const auto& L = layers_[l];
    const auto& c = cache[l];
    torch::Tensor rz = r_preactivation(L, c.input, r_a, dir, &r->r_in[l]);
    if (L.bn) {
      const auto gi = static_cast<std::size_t>(L.gamma_index);
      const std::int64_t width = rz.size(1);
      const auto gamma = L.bn->gamma.detach().contiguous();
      const detail::BnTerms<T> b{m,           width,           batch_statistics(*L.bn), ptr<T>(c.s),
                                 ptr<T>(gamma), ptr<T>(dir[gi]), ptr<T>(dir[gi + 1]),    ptr<T>(c.u)};
      r->r_u[l] = torch::empty_like(rz);
      r->r_k[l] = torch::zeros({width}, opts);
      auto next = torch::empty_like(rz);
      // A BN layer is always followed by a ReLU, whose output is the next layer's input.
      detail::bn_r_forward(b, ptr<T>(rz), ptr<T>(cache[l + 1].input), ptr<T>(r->r_u[l]), ptr<T>(next),
                           ptr<T>(r->r_k[l]));
      r_a = next;
    } else {
      if (l + 1 < nl) detail::relu_mask_(ptr<T>(rz), ptr<T>(cache[l + 1].input), rz.numel());
      r_a = rz;
    }
  }
  return r_a;
}

template torch::Tensor MlpCurvature::r_forward_fused<float>(const Point&, std::size_t, const std::vector<torch::Tensor>&,
                                                            RForward*) const;
template torch::Tensor MlpCurvature::r_forward_fused<double>(const Point&, std::size_t,
                                                             const std::vector<torch::Tensor>&, RForward*) const;

std::vector<torch::Tensor> MlpCurvature::hvp(const Point& point, const std::vector<torch::Tensor>& v) const {
  if (product_ == Product::GaussNewton) return gvp(point, v);
  torch::NoGradGuard no_grad;
  const auto dir = directions(point, v, "MlpCurvature::hvp");
  const auto dtype = layers_.front().weight.scalar_type();
  if (fused() && dtype == torch::kFloat32) return hvp_fused<float>(point, dir);
  if (fused()) return hvp_fused<double>(point, dir);
  const double inv_chunks = 1.0 / static_cast<double>(xs_.size());
  std::vector<torch::Tensor> out(num_params_);
  auto add = [&](std::size_t i, const torch::Tensor& t) { out[i] = out[i].defined() ? out[i] + t : t; };

  RForward rf;
  for (std::size_t k = 0; k < xs_.size(); ++k) {
    const auto& cache = point.chunks[k];
    const std::size_t nl = layers_.size();
    // R-forward: R A_{l-1} (input of layer l; zero for the data), R U and k = mean(U R Z) of BN layers.
    const torch::Tensor r_z = r_forward(point, k, dir, &rf);
    const auto& r_in = rf.r_in;
    const auto& r_u = rf.r_u;
    const auto& r_k = rf.r_k;
    // R of the logits' gradient (softmax - onehot) / m.
    torch::Tensor r_gy = detail::output_hessian_product(point.probs[k], r_z);
    for (std::size_t l = nl; l-- > 0;) {
      const auto& L = layers_[l];
      const auto& c = cache[l];
      torch::Tensor r_gz = r_gy;
      if (L.bn) {
        const auto gi = static_cast<std::size_t>(L.gamma_index);
        const auto gamma = L.bn->gamma.detach();
        add(gi, (r_gy * c.u + c.gy * r_u[l]).sum(0));
        add(gi + 1, r_gy.sum(0));
        const auto r_gu = r_gy * gamma + c.gy * dir[gi];
        if (batch_statistics(*L.bn)) {
          const auto r_c = col_mean(r_gu * c.u + c.gu * r_u[l]);
          r_gz = (-c.s * r_k[l]) * c.gz + c.s * (r_gu - col_mean(r_gu) - r_u[l] * c.c - c.u * r_c);
        } else {
          r_gz = c.s * r_gu;
        }
      }
      const auto wi = static_cast<std::size_t>(L.weight_index);
      torch::Tensor r_dw = r_gz.t().mm(c.input);
      if (r_in[l].defined()) r_dw.addmm_(c.gz.t(), r_in[l]);
      add(wi, r_dw);
      add(wi + 1, r_gz.sum(0));
      if (l > 0) {
        auto r_ga = r_gz.mm(L.weight.detach());
        r_ga.addmm_(c.gz, dir[wi]);
        r_gy = r_ga * (c.input > 0);
      }
    }
  }
  if (xs_.size() > 1)
    for (auto& t : out) t.mul_(inv_chunks);
  return out;
}

template <typename T>
std::vector<torch::Tensor> MlpCurvature::hvp_fused(const Point& point, const std::vector<torch::Tensor>& dir) const {
  // The same products as the tensor path above, with BN's and ReLU's element-wise terms fused
  // (bn_r_forward, bn_r_backward, relu_mask_) and the matrix products accumulated in place into
  // one output per parameter.
  const auto opts = layers_.front().weight.options();
  std::vector<torch::Tensor> out(num_params_);
  for (std::size_t i = 0; i < num_params_; ++i) out[i] = torch::zeros_like(dir[i]);
  const std::size_t nl = layers_.size();
  RForward rf;
  for (std::size_t k = 0; k < xs_.size(); ++k) {
    const auto& cache = point.chunks[k];
    const std::int64_t m = xs_[k].size(0);
    const torch::Tensor r_z = r_forward_fused<T>(point, k, dir, &rf);
    const auto& r_in = rf.r_in;
    const auto& r_u = rf.r_u;
    const auto& r_k = rf.r_k;
    torch::Tensor r_gy = detail::output_hessian_product(point.probs[k], r_z);
    for (std::size_t l = nl; l-- > 0;) {
      const auto& L = layers_[l];
      const auto& c = cache[l];
      const auto wi = static_cast<std::size_t>(L.weight_index);
      torch::Tensor r_gz = r_gy;
      if (L.bn) {
        const auto gi = static_cast<std::size_t>(L.gamma_index);
        const std::int64_t width = r_gy.size(1);
        const auto gamma = L.bn->gamma.detach().contiguous();
        const bool batch = batch_statistics(*L.bn);
        const detail::BnTerms<T> b{m, width, batch, ptr<T>(c.s), ptr<T>(gamma), ptr<T>(dir[gi]), ptr<T>(dir[gi + 1]),
                                   ptr<T>(c.u)};
        r_gz = torch::empty_like(r_gy);
        auto sums = torch::empty({3, width}, opts);
        detail::bn_r_backward(b, ptr<T>(r_gy), ptr<T>(c.gy), batch ? ptr<T>(c.gu) : nullptr,
                              batch ? ptr<T>(c.gz) : nullptr, batch ? ptr<T>(c.c) : nullptr,
                              batch ? ptr<T>(r_k[l]) : nullptr, ptr<T>(r_u[l]), ptr<T>(r_gz), ptr<T>(sums[0]),
                              ptr<T>(sums[1]), ptr<T>(sums[2]));
        out[gi].add_(sums[0]);
        out[gi + 1].add_(sums[1]);
        out[wi + 1].add_(sums[2]);
      } else {
        out[wi + 1].add_(r_gz.sum(0));
      }
      out[wi].addmm_(r_gz.t(), c.input);
      if (r_in[l].defined()) out[wi].addmm_(c.gz.t(), r_in[l]);
      if (l > 0) {
        auto r_ga = r_gz.mm(L.weight.detach());
        r_ga.addmm_(c.gz, dir[wi]);
        detail::relu_mask_(ptr<T>(r_ga), ptr<T>(c.input), r_ga.numel());
        r_gy = r_ga;
      }
    }
  }
  if (xs_.size() > 1)
    for (auto& t : out) t.mul_(1.0 / static_cast<double>(xs_.size()));
  return out;
}

}  // namespace bnl::probes
