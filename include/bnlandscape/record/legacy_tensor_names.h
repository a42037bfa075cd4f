#pragma once
/// \file
/// Checkpoints written before our BatchNorm took torch.nn's names (2026-12): their BN layers'
/// tensors are named P.gamma, P.beta, P.running_mean, P.running_var with no P.num_batches_tracked;
/// read with torch's names added, so that they still load, probe, resume and give surfaces.

#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace bnl::record {

/// The tensors of one checkpoint group (name, tensor) with torch.nn's names added for each old
/// BatchNorm layer P, recognised by P.gamma beside P.running_var (LpNorm, whose gamma and beta
/// keep their names, has running_scale instead): P.weight = P.gamma, P.bias = P.beta (the same
/// tensors, added only where the new name is absent) and P.num_batches_tracked = 0 (int64 [],
/// the count was not kept). The old names stay, so a reader looking up either finds it; a
/// group in the new names is returned unchanged.
std::vector<std::pair<std::string, torch::Tensor>> with_torch_bn_names(
    std::vector<std::pair<std::string, torch::Tensor>> tensors);

/// io::read_tensor_group(path, group) through with_torch_bn_names: the reader of every group
/// whose tensors are a model's (checkpoints, surface directions).
std::vector<std::pair<std::string, torch::Tensor>> read_model_tensors(const std::string& path,
                                                                      const std::string& group);

}  // namespace bnl::record
