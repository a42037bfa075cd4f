#pragma once
/// \file
/// Mini-batches: a seeded permutation per epoch (a pure function of its inputs, so a resumed
/// run draws the same order), contiguous batches with the partial last batch kept, and
/// per-batch normalisation of the uint8 (or float32) images into a float tensor [B, C, H, W].

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "bnlandscape/data/image_set.h"

namespace bnl::data {

/// Permutation of 0..n-1 for `epoch` exactly as PyTorch's DataLoader(shuffle=True) draws it
/// when the global generator was in state `start` before the first epoch and nothing else drew
/// from it since: each epoch's iterator takes two int64 `random_()` draws (the workers' base
/// seed, then the RandomSampler's seed) and the order is `randperm(n)` from a fresh generator
/// seeded with the second. `start` itself is not advanced. With `start` the global generator
/// right after `torch.manual_seed(s)` and the model's construction, the order is the original
/// study's for seed s.
std::vector<std::int64_t> loader_permutation(std::int64_t n, const at::Generator& start, std::int64_t epoch);

/// Permutation of 0..n-1 for `epoch`, drawn with std::mt19937_64 and an explicit
/// Fisher-Yates shuffle (std::shuffle's algorithm is implementation-defined), seeded from
/// (seed, epoch) only. The training order of runs written before loader_permutation (their
/// checkpoints lack its generator state) and the fixed activation batch.
std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

/// [begin, end) bounds of consecutive batches over n examples: ceil(n / batch_size) batches,
/// the last one partial. With `drop_singleton`, a last batch of exactly one example is
/// dropped (batch statistics of one example are undefined).
std::vector<std::pair<std::int64_t, std::int64_t>> batch_bounds(std::int64_t n,
                                                                std::int64_t batch_size,
                                                                bool drop_singleton);

/// Normalised images of the examples idx[0..count): [count, C, H, W] of `dtype`,
/// (x / 255 - mean[c]) / std[c] for uint8 pixels, (x - mean[c]) / std[c] for float32 values;
/// with norm.pad_to = P > 0, [count, C, P, P], the normalised image centred in zeros.
torch::Tensor gather_images(const ImageSet& set, const Normalization& norm,
                            const std::int64_t* idx, std::int64_t count,
                            torch::Dtype dtype = torch::kFloat32);

/// Labels of the examples idx[0..count): int64 [count].
torch::Tensor gather_labels(const ImageSet& set, const std::int64_t* idx, std::int64_t count);

/// Returns the first `limit` examples of `set` (all when limit <= 0 or limit >= n).
ImageSet take_first(const ImageSet& set, std::int64_t limit);

}  // namespace bnl::data
