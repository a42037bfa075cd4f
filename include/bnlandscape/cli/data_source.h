#pragma once
/// \file
/// The data of a run by --dataset: fashion-mnist and cifar10 from their readers in data/
/// (data/dataset.h), tensors from the HDF5 file --data-file through io/ (io/tensor_dataset.h),
/// both as the data::Dataset the trainer and probes use; and the check that a model's input
/// shape fits the data.

#include <string>

#include "bnlandscape/data/dataset.h"
#include "bnlandscape/io/tensor_dataset.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// The dataset `cfg` names, with its files' SHA-256 digests, before any subset is taken, its
/// normalisation padding to cfg.pad_to (checked by check_input_fits). Throws DataError for a
/// missing or bad file.
data::Dataset load_run_data(const train::TrainConfig& cfg);

/// A checked tensor dataset file as a data::Dataset named "tensors": uint8 x as pixels, float32
/// x as values, [N, D] as [N, D, 1, 1] (feature_rows), mean/std as given or, when the file has
/// none, mean 0 and std 1 (no normalisation beyond uint8's /255); files = {path, sha256}.
data::Dataset to_dataset(io::TensorDatasetFile&& file, const std::string& sha256);

/// Throws ConfigError when `cfg.arch` cannot take the data's inputs: cnn and vgg need images
/// [N, C, H, W], not feature rows; the mlp takes either; --pad-to needs images no larger than it. (Square sizes, and sizes the
/// pooling divides, are checked by prepare_run and the model.)
void check_input_fits(const train::TrainConfig& cfg, const data::Dataset& data);

}  // namespace bnl::cli
