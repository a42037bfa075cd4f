#pragma once
/// \file
/// Reading checkpoints back from a run file (or from any HDF5 file holding one group of
/// dotted-name datasets, e.g. one written by a Python user with h5py). Writing is
/// RunFile::write_checkpoint.

#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/io/run_file.h"

namespace bnl::io {

/// Reads every dataset directly in `group` of `path` (skipping subgroups such as _state) as a
/// CPU tensor of its stored dtype and shape, keyed by dataset name. Order: creation order
/// where the group tracks it (checkpoints written by RunFile do), else by name. Supported
/// dtypes: float32, float64, int8/16/32/64, uint8 and h5py's bool enum; a scalar dataspace
/// gives a 0-dim tensor. Errors (missing file or group, unsupported dtype) are IoError naming
/// file and group. The file is opened read-only; while another process writes it, HDF5's file
/// lock refuses the open unless the reader sets HDF5_USE_FILE_LOCKING=FALSE.
std::vector<std::pair<std::string, torch::Tensor>> read_tensor_group(const std::string& path,
                                                                     const std::string& group);

/// Names of the checkpoint groups in a run file, sorted by step ("/checkpoints/step_0000050",
/// ...). Empty when the file has no /checkpoints group; a missing file is an IoError.
std::vector<std::string> list_checkpoints(const std::string& path);

/// Group path of the checkpoint at `step`: "/checkpoints/step_" + 7-digit zero-padded step.
std::string checkpoint_group(std::int64_t step);

}  // namespace bnl::io
