#include "bnlandscape/probes/probe_state.h"

#include <c10/util/Exception.h>
#include <torch/nn/module.h>

namespace bnl::probes {

void copy_state(const torch::nn::Module& from, torch::nn::Module& to) {
  copy_state(from.named_parameters(), from.named_buffers(), to);
}

void copy_state(const torch::OrderedDict<std::string, torch::Tensor>& params,
                const torch::OrderedDict<std::string, torch::Tensor>& buffers, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  for (auto& item : to.named_parameters()) {
    const auto* s = params.find(item.key());
    TORCH_CHECK(s, "copy_state: expected parameter ", item.key(), " in the source model, got none");
    item.value().copy_(*s);
  }
  for (auto& item : to.named_buffers()) {
    const auto* s = buffers.find(item.key());
    TORCH_CHECK(s, "copy_state: expected buffer ", item.key(), " in the source model, got none");
    item.value().copy_(*s);
  }
}

}  // namespace bnl::probes
