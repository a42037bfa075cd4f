#include "bnlandscape/record/legacy_tensor_names.h"

#include <algorithm>
#include <set>

#include "bnlandscape/io/checkpoint.h"

namespace bnl::record {

namespace {

/// Whether `name` is "P.leaf"; then P into `prefix`.
bool split_leaf(const std::string& name, const std::string& leaf, std::string& prefix) {
  const std::string tail = "." + leaf;
  if (name.size() <= tail.size() || name.compare(name.size() - tail.size(), tail.size(), tail) != 0) return false;
  prefix = name.substr(0, name.size() - tail.size());
  return true;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> with_torch_bn_names(
    std::vector<std::pair<std::string, torch::Tensor>> tensors) {
  std::set<std::string> present;
  for (const auto& item : tensors) present.insert(item.first);
  std::vector<std::pair<std::string, torch::Tensor>> added;
  for (const auto& [name, t] : tensors) {
    std::string p;
    if (!split_leaf(name, "gamma", p) || !present.count(p + ".running_var")) continue;
    // An old BatchNorm layer P: its shift, and the counter torch keeps and we did not.
    const auto beta = std::find_if(tensors.begin(), tensors.end(), [&](const auto& e) { return e.first == p + ".beta"; });
    if (!present.count(p + ".weight")) added.emplace_back(p + ".weight", t);
    if (beta != tensors.end() && !present.count(p + ".bias")) added.emplace_back(p + ".bias", beta->second);
    if (!present.count(p + ".num_batches_tracked"))
      added.emplace_back(p + ".num_batches_tracked", torch::zeros({}, torch::kLong));
  }
  tensors.insert(tensors.end(), added.begin(), added.end());
  return tensors;
}

std::vector<std::pair<std::string, torch::Tensor>> read_model_tensors(const std::string& path,
                                                                      const std::string& group) {
  return with_torch_bn_names(io::read_tensor_group(path, group));
}

}  // namespace bnl::record
