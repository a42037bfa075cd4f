#pragma once
/// \file
/// VGG (Simonyan & Zisserman 2015) for CIFAR-sized inputs, the network of Santurkar et al.
/// 2018 (Figures 1, 4): `features` = torchvision's make_layers, [Conv3x3 pad 1 -> BN? -> ReLU]
/// per channel count and a 2x2 max-pool per "M"; flatten; `classifier` = one Linear to the
/// classes, the common CIFAR-10 VGG head (kuangliu/pytorch-cifar, MadryLab's robustness
/// library): after five pools a 32x32 image is 512 x 1 x 1, and torchvision's 4096-wide head
/// (built for 224x224 ImageNet inputs, with dropout, which this project has not) would add
/// 119M parameters to a 9M network. State-dict keys are torchvision's vgg11_bn / vgg11 keys for
/// the features (features.0.weight, features.1.weight, features.1.running_mean, ...,
/// features.1.num_batches_tracked with BN) and classifier.weight / classifier.bias, so
///   m = torchvision.models.vgg11_bn(); m.avgpool = nn.Identity(); m.classifier = nn.Linear(512, 10)
/// loads the weights of `--arch vgg --vgg-config 11` (see README, "VGG").

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/norm_spec.h"

namespace bnl::models {

/// The entry of a VGG configuration that stands for a 2x2 max-pool ("M").
constexpr std::int64_t kVggPool = -1;

/// Parses --vgg-config: "11" | "13" | "16" | "19" (torchvision's configurations A, B, D, E) or
/// a comma-separated list of channel counts and "M" for max-pools, e.g.
/// "64,M,128,M,256,256,M,512,512,M,512,512,M" (= "11"). Pools become kVggPool. Throws
/// std::invalid_argument naming vgg-config unless the list holds at least one convolution.
std::vector<std::int64_t> parse_vgg_config(const std::string& s);

/// A convolution width scaled by --width-mult: max(1, round(channels * width_mult)).
std::int64_t vgg_width(std::int64_t channels, double width_mult);

/// VGG settings. CIFAR-10 (3, 32), configuration 11, width 1: 9,225,610 parameters without BN,
/// 9,231,114 with (torchvision's vgg11 / vgg11_bn features plus Linear(512, 10)).
struct VGGOptions {
  VGGOptions(std::int64_t in_channels, std::int64_t input_size)
      : in_channels_(in_channels), input_size_(input_size) {}
  TORCH_ARG(std::int64_t, in_channels);
  /// Side S of the square input; must be divisible by 2^(number of pools).
  TORCH_ARG(std::int64_t, input_size);
  /// Channel counts and kVggPool entries, as parse_vgg_config returns them.
  TORCH_ARG(std::vector<std::int64_t>, config) = parse_vgg_config("11");
  /// Scales every convolution's width (vgg_width); 0.25 gives a CPU-sized VGG.
  TORCH_ARG(double, width_mult) = 1.0;
  TORCH_ARG(std::int64_t, num_classes) = 10;
  /// The normalisation after every convolution (none: vgg11, otherwise vgg11_bn's layout).
  /// BatchNorm (custom) and libtorch's BatchNorm2d (torch) both carry torchvision's names
  /// weight / bias / running_mean / running_var / num_batches_tracked; LpNorm keeps gamma / beta.
  TORCH_ARG(NormSpec, norm) = {};
};

/// VGG [N, C, S, S] -> [N, num_classes]. Initialisation is PyTorch's default for Conv2d and
/// Linear (as the CIFAR VGGs above; torchvision's vgg* applies its own kaiming_normal_ /
/// normal_(0, 0.01) init instead), so the same seed gives the same weights as the Python net
/// built in the same order.
class VGGImpl : public Classifier {
 public:
  explicit VGGImpl(const VGGOptions& options);
  /// Registers `features` (Sequential) and `classifier` (Linear).
  void reset();
  torch::Tensor forward(const torch::Tensor& x) override;
  /// Records features.i for every module of `features`, then "classifier".
  torch::Tensor forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) override;

  VGGOptions options;
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(VGG);

}  // namespace bnl::models
