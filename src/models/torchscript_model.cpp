#include "bnlandscape/models/torchscript_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include <torch/autograd.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/python_print.h>
#include <torch/nn/functional/loss.h>

namespace bnl::models {
namespace {

/// An empty module standing for one submodule of the jit module, so that the Python name
/// "layer1.0.conv1.weight" is the path of registered modules "layer1" -> "0" -> "conv1" and a
/// parameter "weight" (torch::nn::Module refuses dots in a registered name).
class ScriptedSubmodule : public torch::nn::Module {
 public:
  explicit ScriptedSubmodule(const std::string& type_name) : torch::nn::Module(type_name) {}
};

/// The first line of a libtorch error message (the rest is a C++ backtrace or source excerpt).
std::string first_line(const std::string& s) {
  const auto end = s.find('\n');
  return s.substr(0, end);
}

[[noreturn]] void bad_model(const std::string& path, const std::string& expected, const std::string& got) {
  throw std::invalid_argument("model = " + path + ": expected " + expected + ", got " + got);
}

torch::jit::Module load_archive(const std::string& path) {
  constexpr const char* kArchive = "a TorchScript archive (torch.jit.save of a torch.jit.script or torch.jit.trace module)";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) bad_model(path, kArchive, "no such file");
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    // A torch.save of a state_dict or of an eager module is a zip archive too, but without
    // the code/ and constants a TorchScript module needs.
    bad_model(path, kArchive, "a file torch::jit::load cannot read (" + first_line(e.what()) + ")");
  }
}

/// Registers the own parameters and buffers of `src` on `dst`, then mirrors each child. A
/// tensor met before (a submodule or weight shared under two names) is registered under its
/// first name only, as Python's named_parameters() lists it: twice, SGD would step it twice and
/// the Hessian would count it as two coordinates.
void mirror(const torch::jit::Module& src, torch::nn::Module& dst, std::unordered_set<const void*>& seen) {
  for (const auto& p : src.named_parameters(/*recurse=*/false))
    if (seen.insert(p.value.unsafeGetTensorImpl()).second) dst.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& b : src.named_buffers(/*recurse=*/false))
    if (seen.insert(b.value.unsafeGetTensorImpl()).second) dst.register_buffer(b.name, b.value);
  for (const auto& c : src.named_children()) {
    auto child = std::make_shared<ScriptedSubmodule>(c.value.type()->name() ? c.value.type()->name()->qualifiedName()
                                                                            : std::string("ScriptedSubmodule"));
    mirror(c.value, *child, seen);
    dst.register_module(c.name, child);
  }
}

/// A fixed vector of t's shape with entries sin(0.7 k + 1) in [-1, 1], none zero in practice:
/// as good as a random one for seeing a double backward through, and it draws nothing from
/// libtorch's generator (the run's random numbers stay those of a run without the check).
torch::Tensor probe_vector(const torch::Tensor& t) {
  return torch::sin(torch::arange(t.numel(), t.options()) * 0.7 + 1.0).view_as(t);
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

}  // namespace

std::string scripted_class(const torch::nn::Module& m) {
  if (!dynamic_cast<const ScriptedSubmodule*>(&m)) return "";
  // "__torch__.torch.nn.modules.linear.___torch_mangle_0.Linear" -> "Linear"
  const std::string& name = m.name();
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

void set_torchscript_optimization(bool on) {
  // Off in bnlandscape, for two reasons. Speed: on the CPU the optimising (profiling)
  // executor fuses nothing (libtorch 1.13's fusers are for the GPU) and its profiling and
  // guards cost time: SGD steps measured 0.65-0.9x the plain interpreter's (docs/usage.md,
  // "Your own model"). Second derivatives: it replaces differentiable subgraphs by
  // DifferentiableGraph nodes whose backward comes from its own autodiff formulas, so a
  // Hessian-vector product would depend on those formulas' own derivatives; the plain
  // interpreter records every operation with eager autograd, whose double backward the
  // tests check against dense Hessians. (On the modules measured, HVPs agreed both ways to
  // 1.3e-15.)
  torch::jit::setGraphExecutorOptimize(on);
}

TorchScriptModelImpl::TorchScriptModelImpl(const std::string& path, bool flat_input)
    : Classifier(), path_(path), flat_input_(flat_input), module_(load_archive(path)) {
  set_torchscript_optimization(false);
  if (module_.named_parameters(/*recurse=*/true).size() == 0)
    bad_model(path, "a module with parameters (trainable weights)", "none");
  std::unordered_set<const void*> seen;
  mirror(module_, *this, seen);
  // The mode follows this Classifier's, which starts in training like every torch module.
  module_.train(is_training());
}

torch::Tensor TorchScriptModelImpl::forward(const torch::Tensor& x) {
  auto out = module_.forward({flat_input_ ? x.flatten(1) : x});
  if (!out.isTensor())
    throw std::invalid_argument("model = " + path_ + ": expected forward to return a logits tensor, got " +
                                out.tagKind());
  return out.toTensor();
}

torch::Tensor TorchScriptModelImpl::forward_recorded(const torch::Tensor& x, const ForwardRecorder&) {
  return forward(x);
}

void TorchScriptModelImpl::train(bool on) {
  torch::nn::Module::train(on);
  module_.train(on);
}

std::string TorchScriptModelImpl::code() const {
  torch::jit::ExtraFilesMap files;
  std::vector<c10::IValue> constants;
  torch::jit::jitModuleToPythonCodeAndConstants(module_, &files, &constants);
  const std::map<std::string, std::string> sorted(files.begin(), files.end());
  std::string text;
  for (const auto& [name, source] : sorted) text += "# " + name + "\n" + source + (source.empty() || source.back() == '\n' ? "" : "\n");
  return text;
}

std::string check_output(TorchScriptModelImpl& model, const torch::Tensor& input, std::int64_t num_classes) {
  const std::int64_t n = input.size(0);
  c10::IValue out;
  try {
    torch::NoGradGuard no_grad;
    out = model.module().forward({input});
  } catch (const std::exception& e) {
    return "an error from forward on a batch of shape " + shape_text(input) + ": " + first_line(e.what());
  }
  if (!out.isTensor()) return "a " + std::string(out.tagKind()) + " instead of a tensor";
  const auto t = out.toTensor();
  if (t.dim() != 2 || t.size(0) != n || t.size(1) != num_classes)
    return "a tensor of shape " + shape_text(t) + " for an input of shape " + shape_text(input);
  if (!t.is_floating_point()) return "a tensor of " + std::string(c10::toString(t.scalar_type())) + " values";
  return "";
}

std::string second_order_failure(TorchScriptModelImpl& model, const torch::Tensor& x, const torch::Tensor& y) {
  const bool was_training = model.is_training();
  model.train(true);
  const auto named = model.named_parameters();
  std::vector<torch::Tensor> params;
  std::vector<std::string> names;
  for (const auto& p : named) {
    if (!p.value().requires_grad()) continue;
    params.push_back(p.value());
    names.push_back(p.key());
  }
  // Running statistics are buffers a training-mode forward updates: keep them as they were.
  std::vector<torch::Tensor> buffers, saved;
  for (auto& b : model.buffers()) {
    buffers.push_back(b);
    saved.push_back(b.detach().clone());
  }
  std::string why;
  try {
    const auto loss = torch::nn::functional::cross_entropy(model.forward(x), y);
    const auto grads = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/true, /*create_graph=*/true,
                                             /*allow_unused=*/true);
    torch::Tensor dot;
    for (std::size_t i = 0; i < grads.size() && why.empty(); ++i) {
      if (!grads[i].defined()) continue;  // unused by forward: no curvature to compute
      if (!grads[i].requires_grad())
        why = "the gradient of parameter " + names[i] +
              " does not depend on the parameters (an operation between it and the loss has no second "
              "derivative: its gradient is constant or none, as torch.round's)";
      else
        dot = (dot.defined() ? dot : torch::zeros({}, grads[i].options())) +
              (grads[i] * probe_vector(grads[i])).sum();
    }
    if (why.empty() && !dot.defined()) why = "no parameter gradient that depends on the parameters";
    if (why.empty()) {
      const auto hv = torch::autograd::grad({dot}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                            /*allow_unused=*/true);
      for (std::size_t i = 0; i < hv.size() && why.empty(); ++i)
        if (hv[i].defined() && !torch::isfinite(hv[i]).all().item<bool>())
          why = "a non-finite Hessian-vector product for parameter " + names[i];
    }
  } catch (const std::exception& e) {
    why = first_line(e.what());
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  model.train(was_training);
  return why;
}

}  // namespace bnl::models
