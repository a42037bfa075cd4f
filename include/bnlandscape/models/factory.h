#pragma once
/// \file
/// Builds the model a run asks for from plain settings (no CLI or HDF5 types).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bnlandscape/models/bn_modes.h"
#include "bnlandscape/models/norm_spec.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bnl::models {

class BatchNormImpl;
class Classifier;

/// Everything that decides a model's architecture.
struct ModelSpec {
  std::string arch = "mlp";  ///< "mlp" | "cnn" | "vgg" | "torchscript"
  std::int64_t in_channels = 1;
  std::int64_t input_size = 28;  ///< square images
  std::int64_t num_classes = 10;
  std::vector<std::int64_t> hidden_dims{512, 256, 128};
  std::vector<std::int64_t> conv_channels{32, 64};
  NormSpec norm;
  BnPlacement placement = BnPlacement::Head;
  std::string vgg_config = "11";  ///< vgg: parse_vgg_config's "11" | "13" | "16" | "19" | list with M
  double width_mult = 1.0;        ///< vgg: scales every convolution's width (vgg_width)
  std::string model_file;         ///< torchscript: the TorchScript archive (--model)
  bool flat_input = false;        ///< torchscript: feature rows [N, D] (held as [N, D, 1, 1]) go in as [N, D]
};

/// Builds the model with PyTorch-default initialisation drawn from libtorch's global
/// generator (seed it first with torch::manual_seed); torchscript: loads an independent copy
/// of spec.model_file with the weights saved in it (models/torchscript_model.h). Throws
/// std::invalid_argument with a message naming the bad setting.
std::shared_ptr<Classifier> make_model(const ModelSpec& spec);

/// Calls f on every BatchNorm (ours) in the model.
void for_each_batch_norm(torch::nn::Module& model, const std::function<void(BatchNormImpl&)>& f);

/// Parses "512,256,128" into {512, 256, 128}; throws std::invalid_argument naming `what`.
std::vector<std::int64_t> parse_int_list(const std::string& s, const std::string& what);

}  // namespace bnl::models
