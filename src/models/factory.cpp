#include "bnlandscape/models/factory.h"

#include <stdexcept>

#include "bnlandscape/core/parse.h"
#include "bnlandscape/models/batch_norm.h"
#include "bnlandscape/models/conv_mlp.h"
#include "bnlandscape/models/mlp.h"
#include "bnlandscape/models/torchscript_model.h"
#include "bnlandscape/models/vgg.h"
#include "list_items.h"

namespace bnl::models {

std::shared_ptr<Classifier> make_model(const ModelSpec& spec) {
  if (spec.arch == "mlp") {
    return MLP(MLPOptions(spec.in_channels * spec.input_size * spec.input_size)
                   .hidden_dims(spec.hidden_dims)
                   .num_classes(spec.num_classes)
                   .norm(spec.norm))
        .ptr();
  }
  if (spec.arch == "cnn") {
    return ConvMLP(ConvMLPOptions(spec.in_channels, spec.input_size)
                       .conv_channels(spec.conv_channels)
                       .hidden_dims(spec.hidden_dims)
                       .num_classes(spec.num_classes)
                       .norm(spec.norm)
                       .placement(spec.placement))
        .ptr();
  }
  if (spec.arch == "vgg") {
    // BN after every convolution (vgg*_bn); the head is one Linear, so --bn-placement has
    // nothing to choose.
    return VGG(VGGOptions(spec.in_channels, spec.input_size)
                   .config(parse_vgg_config(spec.vgg_config))
                   .width_mult(spec.width_mult)
                   .num_classes(spec.num_classes)
                   .norm(spec.norm))
        .ptr();
  }
  if (spec.arch == "torchscript") return TorchScriptModel(spec.model_file, spec.flat_input).ptr();
  throw std::invalid_argument("arch: expected mlp, cnn, vgg or torchscript, got \"" + spec.arch + "\"");
}

void for_each_batch_norm(torch::nn::Module& model, const std::function<void(BatchNormImpl&)>& f) {
  for (const auto& m : model.modules(/*include_self=*/true)) {
    if (auto* bn = m->as<BatchNormImpl>()) f(*bn);
  }
}

std::vector<std::int64_t> parse_int_list(const std::string& s, const std::string& what) {
  std::vector<std::int64_t> out;
  for (const auto& item : list_items(s)) {
    const auto v = core::parse_int(item);
    if (item.empty() || !v || *v <= 0)
      throw std::invalid_argument(what + ": expected a comma-separated list of positive integers, got \"" + s + "\"");
    out.push_back(*v);
  }
  if (out.empty()) throw std::invalid_argument(what + ": expected at least one value, got \"" + s + "\"");
  return out;
}

}  // namespace bnl::models
