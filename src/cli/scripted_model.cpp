#include "bnlandscape/cli/scripted_model.h"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <vector>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/models/torchscript_model.h"

namespace bnl::cli {
namespace {

/// The first `n` training examples as the model takes them ([n, C, H, W]; the model flattens
/// feature rows itself) and their labels.
std::pair<torch::Tensor, torch::Tensor> first_examples(const data::Dataset& data, std::int64_t n) {
  n = std::min(n, data.train.n);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  return {data::gather_images(data.train, data.norm, idx.data(), n), data::gather_labels(data.train, idx.data(), n)};
}

models::TorchScriptModelImpl* scripted(const train::TrainConfig& cfg, const PreparedRun& run) {
  if (train::arch_kind(cfg) != train::Arch::torchscript) return nullptr;
  return dynamic_cast<models::TorchScriptModelImpl*>(run.model.get());
}

}  // namespace

void check_scripted_output(const train::TrainConfig& cfg, const PreparedRun& run) {
  auto* model = scripted(cfg, run);
  if (!model) return;
  // Two examples: a BatchNorm in training mode needs more than one, and the batch dimension
  // must be the first.
  auto [x, y] = first_examples(run.data, 2);
  const bool was_training = model->is_training();
  model->eval();
  auto flat = run.spec.flat_input ? x.flatten(1) : x;
  const std::string got = models::check_output(*model, flat, run.data.num_classes);
  model->train(was_training);
  if (!got.empty()) {
    std::ostringstream shape;
    shape << flat.sizes();
    throw ConfigError("--model = " + cfg.model + ": expected forward to map a batch " + shape.str() + " of " +
                      cfg.dataset + "'s inputs to [" + std::to_string(flat.size(0)) + ", " +
                      std::to_string(run.data.num_classes) + "] logits (" + std::to_string(run.data.num_classes) +
                      " = the data's classes), got " + got);
  }
}

void check_scripted_second_order(const train::TrainConfig& cfg, const PreparedRun& run, std::int64_t n) {
  auto* model = scripted(cfg, run);
  if (!model) return;
  auto [x, y] = first_examples(run.data, n);
  const std::string why = models::second_order_failure(*model, x.to(model->parameters().front().device()),
                                                       y.to(model->parameters().front().device()));
  if (!why.empty())
    throw ConfigError("--model = " + cfg.model +
                      ": expected operations with second derivatives (the probe's Hessian-vector products "
                      "differentiate the gradient again), got: " + why);
}

}  // namespace bnl::cli
