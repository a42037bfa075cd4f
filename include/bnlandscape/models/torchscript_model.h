#pragma once
/// \file
/// A user's own network as a Classifier (`--arch torchscript --model FILE.pt`): a TorchScript
/// module (torch.jit.script or torch.jit.trace, saved with torch.jit.save) loaded by
/// torch::jit::load, whose parameters and buffers are registered under their Python names
/// ("layer1.0.conv1.weight", "bn.running_mean") through a mirror of its submodule hierarchy, so
/// that checkpoints load back with load_state_dict and every instrument (autograd on
/// parameters()) sees the tensors the scripted forward reads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>

#include "bnlandscape/models/classifier.h"

namespace bnl::models {

/// A loaded TorchScript module behind the Classifier interface. The registered tensors are
/// the jit module's own (same TensorImpl): an in-place update through parameters() (SGD,
/// copy_ of a checkpoint, set_data of Module::to) is what the next scripted forward reads.
class TorchScriptModelImpl : public Classifier {
 public:
  /// Loads `path` on the CPU (Module::to moves it later); `flat_input`: the data are feature
  /// rows held as [N, D, 1, 1] and forward passes x.flatten(1) = [N, D]. Throws
  /// std::invalid_argument "model = PATH: expected a TorchScript archive ..., got ..." when
  /// the file is missing or not a TorchScript archive, and "... expected a module with
  /// parameters, got none" when it holds no parameter.
  TorchScriptModelImpl(const std::string& path, bool flat_input);

  /// Logits of the scripted forward for images [N, C, H, W] ([N, D] for feature rows); the
  /// shape is the module's (check_output says whether it is [N, K]).
  torch::Tensor forward(const torch::Tensor& x) override;
  /// forward: a scripted module reports no intermediate outputs (activation statistics and
  /// ICS refuse torchscript models at configuration time).
  torch::Tensor forward_recorded(const torch::Tensor& x, const ForwardRecorder& record) override;
  /// Sets training mode here, on the mirror and on every submodule of the jit module (its
  /// `training` attribute, which a scripted BatchNorm reads to choose batch or running
  /// statistics).
  void train(bool on = true) override;

  /// The file it was loaded from.
  const std::string& path() const { return path_; }
  /// The loaded module (its parameters are this Classifier's).
  torch::jit::Module& module() { return module_; }
  /// The module's code as torch.jit exposes it (Python's `module.code` for every class the
  /// module uses, as torch.jit.save writes them under code/): "# <python module>\n" and its
  /// source for each module ("__torch__", "__torch__.torch.nn.modules.linear", ...) in name
  /// order.
  std::string code() const;

 private:
  std::string path_;
  bool flat_input_ = false;
  torch::jit::Module module_;
};
TORCH_MODULE(TorchScriptModel);

/// The Python class of `m` when it stands for a submodule of a scripted model (the last part
/// of its TorchScript type name: "Linear", "Conv2d", "BatchNorm1d", ...), "" for any other
/// module.
std::string scripted_class(const torch::nn::Module& m);

/// Turns the TorchScript graph executor's optimisations (profiling, DifferentiableGraphs built
/// by its autodiff) on or off, for the whole process: the one place that sets this switch.
/// bnlandscape keeps it off (see the .cpp for why); a benchmark may turn it on to compare.
void set_torchscript_optimization(bool on);

/// "" when `model` maps a batch of `input` ([N, ...] as forward takes it) to [N, num_classes]
/// logits; otherwise what came back ("a tensor of shape [4, 3]", "a tuple", or the error
/// forward raised).
std::string check_output(TorchScriptModelImpl& model, const torch::Tensor& input, std::int64_t num_classes);

/// "" when one Hessian-vector product of the cross-entropy of `model` on (x [N, ...], y [N]
/// int64) with a fixed pseudo-random vector (a double backward through every parameter) succeeds and is
/// finite; otherwise the error of the first failed double backward (it names the operation),
/// or "the gradient of parameter NAME does not depend on the parameters (an operation without a
/// second derivative)" when the graph ends in operations autograd cannot differentiate twice.
/// Runs in training mode and restores the model's mode and parameters' gradients.
std::string second_order_failure(TorchScriptModelImpl& model, const torch::Tensor& x, const torch::Tensor& y);

}  // namespace bnl::models
