#pragma once
/// \file
/// A probe set divided among processes. Each rank evaluates the mean loss over its own
/// micro-batches; since every rank holds the same number of them, the mean over ranks of
/// those means is the single-process mean of micro-batch means, and so are its gradient and
/// Hessian-vector products (issue: distributed probes, c10d Gloo).

#include <functional>

#include <torch/types.h>

namespace bnl::probes {

/// Replaces a tensor, in place, by its mean over all ranks (one all-reduce). Every rank must
/// call it the same number of times with the same shapes; empty = a single process.
using TensorAverage = std::function<void(torch::Tensor&)>;

/// This process's share of a probe set.
struct ProbeShard {
  int rank = 0;           ///< 0 .. world_size-1
  int world_size = 1;     ///< ranks sharing the set
  TensorAverage average;  ///< the all-reduce mean; empty when world_size == 1
};

}  // namespace bnl::probes
