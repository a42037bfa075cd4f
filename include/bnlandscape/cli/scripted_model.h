#pragma once
/// \file
/// The load-time checks of `--arch torchscript --model FILE.pt` (models/torchscript_model.h),
/// run before any output file exists so that a bad module costs an error message (exit 2) and
/// nothing else: forward maps a batch of the data's input shape to [N, num_classes] logits,
/// and, for the commands that compute Hessian-vector products, one double backward succeeds.

#include <cstdint>

#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// Throws ConfigError "--model = FILE: expected forward to map a batch [2, ...] of DATASET's
/// inputs to [2, K] logits (K = the data's classes), got ..." when `run.model` is a scripted
/// module whose output is not that (evaluation mode, so no running statistic moves); does
/// nothing for other architectures.
void check_scripted_output(const train::TrainConfig& cfg, const PreparedRun& run);

/// Throws ConfigError "--model = FILE: expected operations with second derivatives
/// (Hessian-vector products ...), got: <the first failed double backward's error>" when one
/// Hessian-vector product of a scripted `run.model` on the first `n` training examples fails
/// (models::second_order_failure); does nothing for other architectures.
void check_scripted_second_order(const train::TrainConfig& cfg, const PreparedRun& run, std::int64_t n = 8);

}  // namespace bnl::cli
