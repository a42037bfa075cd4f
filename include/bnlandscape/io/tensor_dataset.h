#pragma once
/// \file
/// The reader of a tensor dataset file (`--dataset tensors --data-file FILE.h5`; layout in
/// docs/usage.md, "Your own data"): /train/x and /test/x (uint8 or float32, [N, C, H, W] or
/// [N, D]), /train/y and /test/y (integer labels 0..K-1, [N]), optional root attributes
/// `mean` and `std` (per channel) and `num_classes`. Every shape, dtype, label, size and float
/// is checked; anything else is a DataError naming the file, the dataset and what was found.
/// Only the standard library and the HDF5 C API (no libtorch), so that it is fuzzed cheaply
/// (fuzz/tensor_dataset_fuzz.cpp).

#include <cstdint>
#include <string>
#include <vector>

namespace bnl::io {

/// One split (train or test) of a tensor dataset file, as checked.
struct TensorSplit {
  std::vector<std::int64_t> shape;   ///< x's shape: {N, C, H, W} or {N, D}
  std::vector<std::uint8_t> u8;      ///< x when stored as uint8 (prod(shape) values), else empty
  std::vector<float> f32;            ///< x when stored as float32 (all finite), else empty
  std::vector<std::int64_t> labels;  ///< y: N labels in 0..num_classes-1
};

/// The contents of a tensor dataset file.
struct TensorDatasetFile {
  std::string path;
  bool uint8 = true;         ///< x is uint8 in both splits (else float32 in both)
  TensorSplit train, test;   ///< equal shapes but N
  std::int64_t num_classes = 0;  ///< the root attribute num_classes, else 1 + the largest label
  std::vector<float> mean;   ///< per channel (C, or D for [N, D]); empty when the file has none
  std::vector<float> std;    ///< per channel, all > 0; empty exactly when mean is
};

/// Largest x a file may declare, in values per split (2^34: 16 GiB of uint8): a bound on
/// what is allocated before any value is read.
inline constexpr std::int64_t kMaxTensorValues = std::int64_t{1} << 34;

/// Reads and checks the tensor dataset file `path`. Throws bnl::DataError ("PATH: /train/x:
/// expected ..., got ...") for a file that is missing, is not HDF5, lacks a dataset, has a
/// wrong rank, dtype or size (N of x and y, test shape vs train shape), a label outside
/// 0..K-1, a non-finite float, or bad mean/std/num_classes attributes; a chunk that cannot
/// be read (damaged or an unavailable filter) is a DataError too. mean/std of length 1 are
/// broadcast to every channel.
TensorDatasetFile read_tensor_dataset(const std::string& path);

}  // namespace bnl::io
