#include "bnlandscape/probes/ics.h"

#include <cmath>
#include <limits>
#include <utility>

#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/flat_params.h"
#include "state_guard.h"

namespace bnl::probes {

IcsRecord internal_covariate_shift(models::Classifier& model, const std::vector<std::string>& layers,
                                   const torch::Tensor& x, const torch::Tensor& y,
                                   const std::vector<torch::Tensor>& updated) {
  const auto named = model.named_parameters();
  std::vector<torch::Tensor> params;
  std::vector<std::string> names;
  for (const auto& item : named) {
    params.push_back(item.value());
    names.push_back(item.key());
  }
  TORCH_CHECK(updated.size() == params.size(), "internal_covariate_shift: expected ", params.size(),
              " updated parameters, got ", updated.size());

  // Per layer: indices of its own parameters ("<layer>.<leaf>"), and the first of them, which
  // splits "earlier" from "this and later" in registration (= forward) order.
  std::vector<std::vector<std::size_t>> own(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& layer = layers[l];
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto& n = names[i];
      if (n.size() > layer.size() && n.compare(0, layer.size(), layer) == 0 && n[layer.size()] == '.' &&
          n.find('.', layer.size() + 1) == std::string::npos)
        own[l].push_back(i);
    }
    TORCH_CHECK(!own[l].empty(), "internal_covariate_shift: expected parameters of layer ", layer, ", got none");
  }

  const auto saved_params = snapshot(params);
  std::vector<torch::Tensor> saved_grads;
  for (auto& p : params) saved_grads.push_back(p.grad());
  detail::TrainingStateGuard guard(model);

  // Gradient of the batch loss w.r.t. params[idx], replaying the same noise draws and leaving
  // running statistics and .grad untouched.
  auto gradient = [&](const std::vector<std::size_t>& idx) {
    guard.rewind();
    const auto loss = torch::nn::functional::cross_entropy(model.forward(x), y);
    std::vector<torch::Tensor> wrt;
    for (auto i : idx) wrt.push_back(params[i]);
    auto g = torch::autograd::grad({loss}, wrt);
    std::vector<torch::Tensor> flat;
    for (auto& t : g) flat.push_back(t.detach().reshape(-1).to(torch::kFloat64));
    return torch::cat(flat);
  };

  IcsRecord r;
  std::vector<std::size_t> all;
  for (const auto& o : own) all.insert(all.end(), o.begin(), o.end());
  const auto g_all = gradient(all);
  std::int64_t offset = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::int64_t len = 0;
    for (auto i : own[l]) len += params[i].numel();
    const auto g = g_all.slice(0, offset, offset + len);
    offset += len;

    const std::size_t first = own[l].front();
    std::vector<torch::Tensor> earlier(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(first));
    std::vector<torch::Tensor> moved(updated.begin(), updated.begin() + static_cast<std::ptrdiff_t>(first));
    restore(earlier, moved);
    const auto gp = gradient(own[l]);
    restore(params, saved_params);

    const double diff = (g - gp).norm().item<double>();
    const double ng = g.norm().item<double>(), ngp = gp.norm().item<double>();
    r.l2.push_back(diff);
    r.cos.push_back(ng > 0 && ngp > 0 ? g.dot(gp).item<double>() / (ng * ngp)
                                      : std::numeric_limits<double>::quiet_NaN());
  }

  for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = saved_grads[i];
  return r;
}

}  // namespace bnl::probes
