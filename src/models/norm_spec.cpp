#include "bnlandscape/models/norm_spec.h"

#include <limits>
#include <stdexcept>

#include <torch/nn/modules/batchnorm.h>

#include "bnlandscape/models/lp_norm.h"

namespace bnl::models {

NormKind parse_norm_kind(const std::string& s) {
  if (s == "none") return NormKind::None;
  if (s == "custom") return NormKind::Custom;
  if (s == "torch") return NormKind::Torch;
  if (s == "lp1") return NormKind::Lp1;
  if (s == "lp2") return NormKind::Lp2;
  if (s == "lpinf") return NormKind::LpInf;
  throw std::invalid_argument("bn: expected none, custom, torch, lp1, lp2 or lpinf, got \"" + s + "\"");
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
    case NormKind::Lp1:
    case NormKind::Lp2:
    case NormKind::LpInf: {
      const double p = kind == NormKind::Lp1   ? 1.0
                       : kind == NormKind::Lp2 ? 2.0
                                               : std::numeric_limits<double>::infinity();
      return torch::nn::AnyModule(
          LpNorm(LpNormOptions(features, p).eps(eps).momentum(momentum).spatial(spatial).eval_stats(eval_stats)));
    }
    case NormKind::None:
      break;
  }
  throw std::logic_error("NormSpec::make called with kind none");
}

bool is_norm_layer(const torch::nn::Module& m) {
  return m.as<BatchNormImpl>() || m.as<LpNormImpl>() || m.as<torch::nn::BatchNorm1dImpl>() ||
         m.as<torch::nn::BatchNorm2dImpl>();
}

void set_running_stats_updates(torch::nn::Module& model, bool on) {
  for (const auto& m : model.modules(/*include_self=*/true)) {
    if (auto* bn = m->as<BatchNormImpl>()) bn->set_update_running_stats(on);
    if (auto* lp = m->as<LpNormImpl>()) lp->set_update_running_stats(on);
  }
}

}  // namespace bnl::models
