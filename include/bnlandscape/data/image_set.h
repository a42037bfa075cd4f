#pragma once
/// \file
/// An in-memory image classification set: raw uint8 pixels, kept as read so that
/// normalisation happens per batch as it is drawn (Fashion-MNIST: 47 MB instead of 188 MB),
/// or float32 values for data stored as floats (a tensor dataset, docs/usage.md).
/// libtorch-free, so the readers can be fuzzed in a small sanitizer build.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/core/error.h"

namespace bnl::data {

/// Bad input data (missing, truncated, corrupt or inconsistent file). The message is one
/// line naming the file, what was expected and what was found; `main` maps it to exit code 2.
using DataError = bnl::DataError;

/// Images [n, channels, height, width] in row-major (channel-major per image) order, either
/// as uint8 `pixels` (scaled by 1/255 when drawn, as torchvision's ToTensor) or as float32
/// `values` (used as stored); exactly one of the two holds the n images. Labels [n] in
/// 0..num_classes-1. Feature rows [n, D] are held as [n, D, 1, 1].
struct ImageSet {
  std::vector<std::uint8_t> pixels;  ///< n * channels * height * width values, or empty
  std::vector<float> values;         ///< the same as float32 when the data is stored so, or empty
  std::vector<std::int64_t> labels;  ///< n values
  std::int64_t n = 0;
  std::int64_t channels = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;

  /// Values per image: channels * height * width.
  std::int64_t image_size() const { return channels * height * width; }
  /// Whether the images are float32 `values` rather than uint8 `pixels`.
  bool is_float() const { return !values.empty(); }
};

/// Per-channel normalisation x -> (x / 255 - mean[c]) / std[c] of uint8 pixels, and
/// x -> (x - mean[c]) / std[c] of float32 values; then, with `pad_to` = P > 0, zero padding of
/// each normalised H x W image to P x P, centred: (P - H) / 2 rows above (rounded down), the
/// rest below, likewise columns (torch.nn.functional.pad(x, (2, 2, 2, 2)) for 28 -> 32).
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;
  std::int64_t pad_to = 0;  ///< P: side of the padded images (0 = no padding; else >= H, W)
};

/// Height of the images a model sees: norm.pad_to when padding, else set.height.
inline std::int64_t model_height(const ImageSet& set, const Normalization& norm) {
  return norm.pad_to > 0 ? norm.pad_to : set.height;
}

/// Width of the images a model sees: norm.pad_to when padding, else set.width.
inline std::int64_t model_width(const ImageSet& set, const Normalization& norm) {
  return norm.pad_to > 0 ? norm.pad_to : set.width;
}

}  // namespace bnl::data
