#pragma once
/// \file
/// Provenance: the root attributes every bnlandscape output file carries (schema: root group
/// of record/schema.h), written by one function for train, probe and surface files.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/data/dataset.h"

namespace bnl::io {
class RunFile;
}
namespace bnl::models {
class Classifier;
}

namespace bnl::record {

/// Which output a file is; it decides which root attributes are written.
enum class ProvenanceKind {
  Training,         ///< train / online probe: every attribute, status and diverged_at_step
  CheckpointProbe,  ///< probe --checkpoint: the training attributes but status, diverged_at_step
                    ///< and step_engine, and the checkpoint
  Surface,          ///< surface: as CheckpointProbe
};

/// Provenance written as root attributes of an output file.
struct RunProvenance {
  ProvenanceKind kind = ProvenanceKind::Training;
  std::string config_toml;
  std::uint64_t seed = 0;
  int intra_op_threads = 1;
  int blas_threads = 1;
  std::vector<data::FileDigest> data_files;
  std::int64_t num_classes = 0;     ///< the data's K (0: not written)
  std::string input_shape;          ///< one input, "1x28x28" or "784" (feature rows)
  std::string input_normalization;  ///< what the inputs went through, e.g. "x/255, then (x - mean[c]) / std[c] ..."
  std::string step_engine;   ///< Training: Trainer::step_engine()
  std::string device;        ///< the resolved device, e.g. "cpu" (empty: not written, other than Training)
  std::string device_name;   ///< train::device_name of it
  std::string checkpoint_file;   ///< CheckpointProbe and Surface: the checkpoint's file
  std::string checkpoint_group;  ///< CheckpointProbe and Surface: its group
  std::string checkpoint_sha256;  ///< CheckpointProbe and Surface: SHA-256 of its file (empty: computed when the file exists)
  std::string model_sha256;  ///< --arch torchscript: SHA-256 of the --model file (empty: not written)
  std::string model_code;    ///< --arch torchscript: the module's code (models::TorchScriptModelImpl::code)
};

/// Fills model_sha256 and model_code when `model` is a scripted module
/// (models/torchscript_model.h); leaves them empty for the built-in architectures.
void describe_model(RunProvenance& prov, const models::Classifier& model);

/// Fills the data part of `prov` from the data a run read: data_files (path and SHA-256 of each
/// file), num_classes, input_shape ("CxHxW", or "D" for feature rows) and input_normalization
/// (uint8: "x/255, then (x - mean[c]) / std[c] with mean = (...), std = (...)"; float32 the
/// same without x/255; "none" beyond uint8's x/255 when mean is 0 and std 1 everywhere).
void describe_data(RunProvenance& prov, const data::Dataset& data);

/// "2026-11-27T15:29:23Z": the current time, ISO 8601 UTC, as start_time and end_time hold it.
std::string iso8601_utc_now();

/// Writes the root attributes of `prov.kind` to `f`, status "running" included: for Training
/// status, diverged_at_step (-1), config_toml, bnlandscape_version, git_revision,
/// torch_version, blas, intra_op_threads, blas_threads, step_engine, device, device_name,
/// torch_build, host, seed, start_time, end_time (""), data_files (and num_classes,
/// input_shape, input_normalization when prov.num_classes > 0). CheckpointProbe and Surface
/// write the same but diverged_at_step and step_engine (device and device_name where given),
/// and add checkpoint_file, checkpoint_group and checkpoint_sha256. Every kind writes
/// model_sha256 and model_code when prov.model_sha256 is set.
void write_provenance(io::RunFile& f, const RunProvenance& prov);

}  // namespace bnl::record
