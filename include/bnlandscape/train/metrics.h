#pragma once
/// \file
/// Per-step metrics computed from the step's tensors on the host.

#include <torch/types.h>

namespace bnl::train {

/// Batch accuracy: the fraction of rows of logits [B, K] whose largest entry (the first one on
/// ties, a NaN counting as largest) is at the label y [B] (int64 or any integer type). Equals
/// logits.argmax(1).eq(y).mean() without the five tensor operations that costs per step.
/// An empty batch gives 0.
double batch_accuracy(const torch::Tensor& logits, const torch::Tensor& y);

}  // namespace bnl::train
