#include "bnlandscape/models/vgg.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include "bnlandscape/core/parse.h"
#include "list_items.h"

namespace bnl::models {
namespace {

[[noreturn]] void bad_config(const std::string& s) {
  throw std::invalid_argument("vgg-config: expected 11 | 13 | 16 | 19 or a comma-separated list of channel counts > 0 "
                              "and M (2x2 max-pool) with at least one convolution, got \"" + s + "\"");
}

}  // namespace

std::vector<std::int64_t> parse_vgg_config(const std::string& s) {
  // torchvision.models.vgg cfgs "A", "B", "D", "E".
  if (s == "11") return parse_vgg_config("64,M,128,M,256,256,M,512,512,M,512,512,M");
  if (s == "13") return parse_vgg_config("64,64,M,128,128,M,256,256,M,512,512,M,512,512,M");
  if (s == "16") return parse_vgg_config("64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M");
  if (s == "19")
    return parse_vgg_config("64,64,M,128,128,M,256,256,256,256,M,512,512,512,512,M,512,512,512,512,M");
  std::vector<std::int64_t> out;
  bool any_conv = false;
  for (const auto& tok : list_items(s)) {
    if (tok.empty()) bad_config(s);
    if (tok == "M" || tok == "m") {
      out.push_back(kVggPool);
      continue;
    }
    const auto v = core::parse_int(tok);
    if (!v || *v <= 0) bad_config(s);
    out.push_back(*v);
    any_conv = true;
  }
  if (!any_conv) bad_config(s);
  return out;
}

std::int64_t vgg_width(std::int64_t channels, double width_mult) {
  if (!(width_mult > 0) || !std::isfinite(width_mult))
    throw std::invalid_argument("width-mult: expected a finite value > 0, got " + std::to_string(width_mult));
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(channels) * width_mult));
}

VGGImpl::VGGImpl(const VGGOptions& options_) : options(options_) { reset(); }

void VGGImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0)
    throw std::invalid_argument("arch vgg: expected in_channels > 0, got " + std::to_string(o.in_channels()));
  std::int64_t pools = 0;
  bool any_conv = false;
  for (std::int64_t v : o.config()) {
    if (v == kVggPool) {
      ++pools;
    } else if (v > 0) {
      any_conv = true;
    } else {
      throw std::invalid_argument("vgg-config: expected channel counts > 0 or pools, got " + std::to_string(v));
    }
  }
  if (!any_conv) throw std::invalid_argument("vgg-config: expected at least one convolution, got none");
  if (pools >= 31) throw std::invalid_argument("vgg-config: expected fewer than 31 pools, got " + std::to_string(pools));
  const std::int64_t factor = std::int64_t(1) << pools;
  if (o.input_size() <= 0 || o.input_size() % factor != 0)
    throw std::invalid_argument("arch vgg: input size " + std::to_string(o.input_size()) + " is not divisible by 2^" +
                                std::to_string(pools) + " = " + std::to_string(factor) +
                                " (one 2x2 max-pool per M of --vgg-config)");

  features = torch::nn::Sequential();
  std::int64_t ch = o.in_channels();
  for (std::int64_t v : o.config()) {
    if (v == kVggPool) {
      features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    const std::int64_t c = vgg_width(v, o.width_mult());
    features->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch, c, 3).padding(1)));
    if (o.norm().enabled()) features->push_back(o.norm().make(c, /*spatial=*/true));
    features->push_back(torch::nn::ReLU());
    ch = c;
  }
  const std::int64_t side = o.input_size() / factor;
  classifier = torch::nn::Linear(ch * side * side, o.num_classes());
  features = register_module("features", features);
  classifier = register_module("classifier", classifier);
}

torch::Tensor VGGImpl::forward(const torch::Tensor& x) {
  return classifier->forward(run(features, "features", x, nullptr).flatten(1));
}

torch::Tensor VGGImpl::forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) {
  auto out = classifier->forward(run(features, "features", x, &record).flatten(1));
  if (record) record("classifier", out);
  return out;
}

}  // namespace bnl::models
