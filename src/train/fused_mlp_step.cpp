#include "bnlandscape/train/fused_mlp_step.h"

#include <climits>
#include <cmath>
#include <stdexcept>

#include <torch/nn/modules/linear.h>

#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/mlp_layout.h"
#include "bnlandscape/train/blas.h"

namespace bnl::train {
namespace {

bool float_cpu_contiguous(const torch::Tensor& t) {
  return t.defined() && t.scalar_type() == torch::kFloat32 && t.device().is_cpu() && t.is_contiguous();
}

}  // namespace

std::string FusedMlpStep::unsupported_reason(models::Classifier& model) {
  const auto layout = models::match_mlp_layout(model);
  if (!layout.ok()) return layout.reason;
  if (!cblas().sgemm) return "the loaded BLAS has no cblas_sgemm";
  auto check_params = [](const std::string& name, std::initializer_list<const torch::Tensor*> ps) -> std::string {
    for (const auto* p : ps) {
      if (!float_cpu_contiguous(*p)) return name + " has a parameter that is not float32, contiguous, on the CPU";
      if (!p->requires_grad()) return name + " has a parameter that does not require grad";
    }
    return "";
  };
  for (const auto& layer : layout.layers) {
    const auto* lin = layer.linear;
    if (auto why = check_params(layer.linear_name, {&lin->weight, &lin->bias}); !why.empty()) return why;
    if (lin->weight.size(0) >= INT_MAX || lin->weight.size(1) >= INT_MAX) return layer.linear_name + " is too wide for BLAS";
    if (const auto* bn = layer.bn) {
      if (auto why = check_params(layer.bn_name, {&bn->gamma, &bn->beta}); !why.empty()) return why;
      if (!float_cpu_contiguous(bn->running_mean) || !float_cpu_contiguous(bn->running_var))
        return layer.bn_name + " has running statistics that are not float32, contiguous, on the CPU";
    }
  }
  return "";
}

FusedMlpStep::FusedMlpStep(models::Classifier& model) {
  const std::string why = unsupported_reason(model);
  if (!why.empty()) throw std::invalid_argument("fused MLP step: " + why);
  model_ = &model;
  for (const auto& layer : models::match_mlp_layout(model).layers) {
    const auto& w = layer.linear->weight;
    layers_.push_back({w, layer.linear->bias, layer.bn, w.size(1), w.size(0)});
  }
  for (std::size_t l = 1; l < layers_.size(); ++l)
    TORCH_CHECK(layers_[l].in == layers_[l - 1].out, "fused MLP step: expected layer ", l, " to take ",
                layers_[l - 1].out, " inputs, got ", layers_[l].in);
  for (const auto& layer : layers_) {
    mean_.emplace_back(layer.bn ? static_cast<std::size_t>(layer.out) : 0);
    var_.emplace_back(layer.bn ? static_cast<std::size_t>(layer.out) : 0);
  }
}

void FusedMlpStep::reserve(std::int64_t batch) {
  if (batch <= capacity_) return;
  pre_.clear();
  act_.clear();
  dact_.clear();
  for (const auto& layer : layers_) {
    pre_.push_back(layer.bn ? torch::empty({batch, layer.out}, torch::kFloat32) : torch::Tensor());
    act_.push_back(torch::empty({batch, layer.out}, torch::kFloat32));
    dact_.push_back(torch::empty({batch, layer.out}, torch::kFloat32));
  }
  capacity_ = batch;
}

float* FusedMlpStep::grad_buffer(torch::Tensor& param) {
  auto& g = param.mutable_grad();
  if (!float_cpu_contiguous(g) || g.sizes() != param.sizes()) g = torch::empty_like(param, torch::MemoryFormat::Contiguous);
  return g.data_ptr<float>();
}

double FusedMlpStep::forward_backward(const torch::Tensor& x, const torch::Tensor& y) {
  const std::int64_t in0 = layers_.front().in, k = layers_.back().out;
  TORCH_CHECK(!model_->bn_noise(), "fused MLP step: expected no BN noise, got noise turned on after the step was built");
  TORCH_CHECK(x.dim() >= 2 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu(),
              "fused MLP step: expected float32 CPU images [B, ...], got ", x.scalar_type(), " ", x.sizes());
  const std::int64_t b = x.size(0);
  TORCH_CHECK(b > 0 && b < INT_MAX && x.numel() == b * in0, "fused MLP step: expected images of ", in0,
              " values each, got ", x.sizes());
  TORCH_CHECK(y.dim() == 1 && y.size(0) == b && y.scalar_type() == torch::kInt64,
              "fused MLP step: expected int64 labels [", b, "], got ", y.scalar_type(), " ", y.sizes());
  const auto xc = x.contiguous();
  const auto yc = y.contiguous();
  const std::int64_t* labels = yc.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < b; ++i)
    TORCH_CHECK(labels[i] >= 0 && labels[i] < k, "fused MLP step: expected labels in [0, ", k, "), got ", labels[i]);
  reserve(b);
  batch_ = b;
  const auto& blas = cblas();
  const int B = static_cast<int>(b);
  const std::size_t n_layers = layers_.size();

  // Forward. The bias is added in the same pass as the ReLU rather than by prefilling the
  // output for beta = 1: OpenBLAS clears C for beta = 0 anyway, so this costs no extra pass.
  const float* input = xc.data_ptr<float>();
  for (std::size_t l = 0; l < n_layers; ++l) {
    const auto& layer = layers_[l];
    const int in = static_cast<int>(layer.in), out = static_cast<int>(layer.out);
    float* a = act_[l].data_ptr<float>();
    float* z = layer.bn ? pre_[l].data_ptr<float>() : a;
    blas.sgemm(Cblas::kRowMajor, Cblas::kNoTrans, Cblas::kTrans, B, out, in, 1.0f, input, in,
               layer.weight.data_ptr<float>(), in, 0.0f, z, out);
    const float* bias = layer.bias.data_ptr<float>();
    const bool last = l + 1 == n_layers;
    if (layer.bn) {
      for (std::int64_t i = 0; i < b; ++i) {
        float* row = z + i * out;
        for (int j = 0; j < out; ++j) row[j] += bias[j];
      }
      auto& bn = *layer.bn;
      TORCH_CHECK(bn.is_training(), "fused MLP step: expected BatchNorm layers in training mode, got eval mode");
      TORCH_CHECK(b > 1, "fused MLP step: expected more than 1 example per batch for batch statistics, got ", b);
      double* mean = mean_[l].data();
      double* var = var_[l].data();
      models::batch_norm_rows_forward(z, b, layer.out, bn.gamma.data_ptr<float>(), bn.beta.data_ptr<float>(),
                                      bn.options.eps(), mean, var, a);
      if (bn.update_running_stats()) {
        // As BatchNormImpl::forward: the running variance tracks the unbiased batch variance.
        const double m = bn.options.momentum();
        const double unbias = static_cast<double>(b) / static_cast<double>(b - 1);
        float* rm = bn.running_mean.data_ptr<float>();
        float* rv = bn.running_var.data_ptr<float>();
        for (int j = 0; j < out; ++j) {
          rm[j] = static_cast<float>((1.0 - m) * rm[j] + m * static_cast<float>(mean[j]));
          rv[j] = static_cast<float>((1.0 - m) * rv[j] + m * unbias * static_cast<float>(var[j]));
        }
        bn.num_batches_tracked.add_(1);
      }
      // `v < 0` is false for NaN: a NaN passes, as in torch.relu.
      const std::int64_t n = b * layer.out;
      for (std::int64_t i = 0; i < n; ++i) a[i] = a[i] < 0.0f ? 0.0f : a[i];
    } else {
      for (std::int64_t i = 0; i < b; ++i) {
        float* row = z + i * out;
        if (last) {
          for (int j = 0; j < out; ++j) row[j] += bias[j];
        } else {
          for (int j = 0; j < out; ++j) {
            const float v = row[j] + bias[j];
            row[j] = v < 0.0f ? 0.0f : v;
          }
        }
      }
    }
    input = a;
  }

  // Mean cross-entropy and its gradient with respect to the logits, row by row in double.
  const float* logits = act_.back().data_ptr<float>();
  float* g_last = dact_.back().data_ptr<float>();
  const double inv_b = 1.0 / static_cast<double>(b);
  double loss = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    const float* z = logits + i * k;
    float* g = g_last + i * k;
    double m = z[0];
    for (std::int64_t j = 1; j < k; ++j) m = z[j] > m ? z[j] : m;
    double s = 0;
    for (std::int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(z[j]) - m);
    const double lse = m + std::log(s);
    loss += lse - static_cast<double>(z[labels[i]]);
    for (std::int64_t j = 0; j < k; ++j) g[j] = static_cast<float>(std::exp(static_cast<double>(z[j]) - lse) * inv_b);
    g[labels[i]] = static_cast<float>((std::exp(static_cast<double>(z[labels[i]]) - lse) - 1.0) * inv_b);
  }
  loss *= inv_b;

  // Backward, last layer first. The first layer's input needs no gradient, as in autograd.
  std::vector<double> colsum;
  for (std::size_t l = n_layers; l-- > 0;) {
    auto& layer = layers_[l];
    const int in = static_cast<int>(layer.in), out = static_cast<int>(layer.out);
    const float* g = dact_[l].data_ptr<float>();
    const float* a_prev = l == 0 ? xc.data_ptr<float>() : act_[l - 1].data_ptr<float>();
    blas.sgemm(Cblas::kRowMajor, Cblas::kTrans, Cblas::kNoTrans, out, in, B, 1.0f, g, out, a_prev, in, 0.0f,
               grad_buffer(layer.weight), in);
    colsum.assign(static_cast<std::size_t>(out), 0.0);
    for (std::int64_t i = 0; i < b; ++i) {
      const float* row = g + i * out;
      for (int j = 0; j < out; ++j) colsum[j] += row[j];
    }
    float* db = grad_buffer(layer.bias);
    for (int j = 0; j < out; ++j) db[j] = static_cast<float>(colsum[j]);
    if (l == 0) break;
    float* g_prev = dact_[l - 1].data_ptr<float>();
    blas.sgemm(Cblas::kRowMajor, Cblas::kNoTrans, Cblas::kNoTrans, B, in, out, 1.0f, g, out,
               layer.weight.data_ptr<float>(), in, 0.0f, g_prev, in);
    const float* a = act_[l - 1].data_ptr<float>();
    // Autograd's threshold_backward zeroes where the ReLU output is <= 0; a NaN output passes.
    const std::int64_t n = b * in;
    for (std::int64_t i = 0; i < n; ++i) g_prev[i] = a[i] <= 0.0f ? 0.0f : g_prev[i];
    if (auto* bn = layers_[l - 1].bn) {
      models::batch_norm_rows_backward(pre_[l - 1].data_ptr<float>(), g_prev, b, layers_[l - 1].out,
                                       bn->gamma.data_ptr<float>(), mean_[l - 1].data(), var_[l - 1].data(),
                                       bn->options.eps(), g_prev, grad_buffer(bn->gamma), grad_buffer(bn->beta));
    }
  }
  return loss;
}

torch::Tensor FusedMlpStep::logits() const {
  TORCH_CHECK(batch_ > 0, "fused MLP step: expected a forward_backward before logits()");
  return act_.back().narrow(0, 0, batch_);
}

}  // namespace bnl::train
