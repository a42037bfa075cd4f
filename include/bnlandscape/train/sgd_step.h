#pragma once
/// \file
/// The vector work of a training step outside the matrix products: gradient norms and the
/// plain SGD update. Both are memory-bound passes over every parameter (535k floats for the
/// Fashion-MNIST MLP). They go through BLAS level 1 (sdot, saxpy) when the loaded BLAS has
/// them, because OpenBLAS splits long vectors over its own threads, which sit idle between
/// the step's matrix products, while libtorch's elementwise kernels run on its single
/// intra-op thread (configure_threads). Against at::dot and Tensor::add_ this takes about
/// 0.45 ms off each Fashion-MNIST MLP step (bench/RESULTS.md).

#include <vector>

#include <torch/types.h>

#include "bnlandscape/train/config.h"

namespace bnl::train {

/// Squared L2 norm sum_i t_i^2 of a tensor of any shape. Float32 contiguous tensors use BLAS
/// sdot (a float32 dot, as at::dot); other dtypes or layouts use at::dot on a flattened copy.
/// An undefined or empty tensor gives 0.
double squared_norm(const torch::Tensor& t);

/// The plain SGD update p <- p - lr * grad(p), in place, for every tensor of `params` that has
/// a gradient (those without one are left alone). This is torch::optim::SGD's step with
/// momentum 0 and weight decay 0. Float32 contiguous parameters and gradients use BLAS
/// saxpy; others use Tensor::add_. Runs without recording autograd history.
void plain_sgd_update(const std::vector<torch::Tensor>& params, double lr);

/// Whether a configuration's optimizer step is the plain SGD update above: optimizer "sgd",
/// momentum 0 and weight decay 0 (the original study's optimizer).
bool is_plain_sgd(const TrainConfig& config);

}  // namespace bnl::train
