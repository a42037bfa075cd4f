#include "bnlandscape/models/norm_spec.h"

#include <stdexcept>

#include <torch/nn/modules/batchnorm.h>

namespace bnl::models {

NormKind parse_norm_kind(const std::string& s) {
  if (s == "none") return NormKind::None;
  if (s == "custom") return NormKind::Custom;
  if (s == "torch") return NormKind::Torch;
  throw std::invalid_argument("bn: expected none, custom or torch, got \"" + s + "\"");
}

BnBackward parse_bn_backward(const std::string& s) {
  if (s == "exact") return BnBackward::Exact;
  if (s == "original") return BnBackward::Original;
  throw std::invalid_argument("bn-backward: expected exact or original, got \"" + s + "\"");
}

BnEvalStats parse_bn_eval(const std::string& s) {
  if (s == "running") return BnEvalStats::Running;
  if (s == "batch") return BnEvalStats::Batch;
  throw std::invalid_argument("bn-eval: expected running or batch, got \"" + s + "\"");
}

torch::nn::AnyModule NormSpec::make(std::int64_t features, bool spatial) const {
  switch (kind) {
    case NormKind::Custom:
      return torch::nn::AnyModule(BatchNorm(BatchNormOptions(features)
                                                .eps(eps)
                                                .momentum(momentum)
                                                .spatial(spatial)
                                                .backward(backward)
                                                .eval_stats(eval_stats)));
    case NormKind::Torch:
      if (spatial)
        return torch::nn::AnyModule(torch::nn::BatchNorm2d(
            torch::nn::BatchNorm2dOptions(features).eps(eps).momentum(momentum)));
      return torch::nn::AnyModule(torch::nn::BatchNorm1d(
          torch::nn::BatchNorm1dOptions(features).eps(eps).momentum(momentum)));
    case NormKind::None:
      break;
  }
  throw std::logic_error("NormSpec::make called with kind none");
}

}  // namespace bnl::models
