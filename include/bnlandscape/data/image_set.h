#pragma once
/// \file
/// An in-memory image classification set: raw uint8 pixels, kept as read so that
/// normalisation happens per batch as it is drawn (Fashion-MNIST: 47 MB instead of 188 MB).
/// libtorch-free, so the readers can be fuzzed in a small sanitizer build.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/core/error.h"

namespace bnl::data {

/// Bad input data (missing, truncated, corrupt or inconsistent file). The message is one
/// line naming the file, what was expected and what was found; `main` maps it to exit code 2.
using DataError = bnl::DataError;

/// Images [n, channels, height, width] as uint8 in row-major (channel-major per image) order,
/// labels [n] in 0..num_classes-1.
struct ImageSet {
  std::vector<std::uint8_t> pixels;  ///< n * channels * height * width values
  std::vector<std::uint8_t> labels;  ///< n values
  std::int64_t n = 0;
  std::int64_t channels = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;

  /// Values per image: channels * height * width.
  std::int64_t image_size() const { return channels * height * width; }
};

/// Per-channel normalisation x -> (x / 255 - mean[c]) / std[c].
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;
};

}  // namespace bnl::data
