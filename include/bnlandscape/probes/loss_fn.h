#pragma once
/// \file
/// The loss closure every probe evaluates.

#include <functional>

#include <torch/types.h>

namespace bnl::probes {

/// Computes the mean loss (a scalar tensor) at the CURRENT values of the
/// parameters the probe was given, with the autograd graph built so that it is
/// differentiable with respect to them. Probes call it repeatedly after
/// changing the parameters in place, so it must read them afresh on each call
/// (a fixed batch; no data shuffling, no dropout). Side effects such as
/// BatchNorm running-statistic updates are the caller's concern: the probes
/// snapshot and restore only the parameters they were given.
using LossFn = std::function<torch::Tensor()>;

}  // namespace bnl::probes
