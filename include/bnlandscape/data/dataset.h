#pragma once
/// \file
/// Dataset lookup by name: finds the files in a directory, reads train and test sets, and
/// records which files were read (with SHA-256) so a run file can say exactly what it used.

#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/data/image_set.h"

namespace bnl::data {

/// A file that was read, and its SHA-256 in lowercase hex.
struct FileDigest {
  std::string path;
  std::string sha256;
};

/// Train and test sets of one dataset plus the normalisation the original study used (or the
/// one a tensor dataset file names).
struct Dataset {
  std::string name;  ///< "fashion-mnist", "cifar10" or "tensors"
  ImageSet train;
  ImageSet test;
  Normalization norm;
  std::vector<FileDigest> files;
  std::int64_t num_classes = 10;  ///< K: labels are 0..K-1, the model has K outputs
  bool feature_rows = false;      ///< the data are feature rows [N, D], held as [N, D, 1, 1]
};

/// Default data directory of a dataset: Debian's /usr/share/datasets/fashion-mnist for
/// fashion-mnist, ./data/cifar10 for cifar10 (see data/download_cifar10.sh).
std::string default_data_dir(const std::string& name);

/// Loads `name` ("fashion-mnist" | "cifar10") from `dir` (empty = default_data_dir).
/// Fashion-MNIST: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], normalised
/// (x/255 - 0.2860)/0.3530. CIFAR-10: dir/cifar-10-batches-bin/ (data_batch_1..5.bin,
/// test_batch.bin) or dir/cifar-10-batches-py/ (data_batch_1..5, test_batch), or those files
/// directly in dir; normalised per channel with mean (0.4914, 0.4822, 0.4465) and std
/// (0.2023, 0.1994, 0.2010). A missing directory or file is a DataError that names the path
/// and the files expected there.
Dataset load_dataset(const std::string& name, const std::string& dir);

/// SHA-256 of a file's bytes, lowercase hex.
std::string sha256_file(const std::string& path);

/// SHA-256 of a byte buffer, lowercase hex.
std::string sha256_hex(const unsigned char* data, std::size_t size);

}  // namespace bnl::data
