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

namespace bnl::record {

/// Which output a file is; it decides which root attributes are written.
enum class ProvenanceKind {
  Training,         ///< train / online probe: every attribute, status and diverged_at_step
  CheckpointProbe,  ///< probe --checkpoint: program, seed, start time and the checkpoint
  Surface,          ///< surface: program, threads, host, data files and the checkpoint
};

/// Provenance written as root attributes of an output file.
struct RunProvenance {
  ProvenanceKind kind = ProvenanceKind::Training;
  std::string config_toml;
  std::uint64_t seed = 0;
  int intra_op_threads = 1;
  int blas_threads = 1;
  std::vector<data::FileDigest> data_files;
  std::string step_engine;   ///< Training: Trainer::step_engine()
  std::string device;        ///< Training: the resolved device, e.g. "cpu"
  std::string device_name;   ///< Training: train::device_name of it
  std::string checkpoint_file;   ///< CheckpointProbe and Surface: the checkpoint's file
  std::string checkpoint_group;  ///< CheckpointProbe and Surface: its group
};

/// "2026-11-27T15:29:23Z": the current time, ISO 8601 UTC, as start_time and end_time hold it.
std::string iso8601_utc_now();

/// Writes the root attributes of `prov.kind` to `f`, status "running" included: for Training
/// status, diverged_at_step (-1), config_toml, bnlandscape_version, git_revision,
/// torch_version, blas, intra_op_threads, blas_threads, step_engine, device, device_name,
/// torch_build, host, seed, start_time, end_time (""), data_files; Surface drops diverged_at_step
/// and the step engine and device and adds checkpoint_file and checkpoint_group;
/// CheckpointProbe writes status, config_toml, the program, seed, start_time and the checkpoint.
void write_provenance(io::RunFile& f, const RunProvenance& prov);

}  // namespace bnl::record
