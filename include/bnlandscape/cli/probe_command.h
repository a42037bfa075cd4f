#pragma once
/// \file
/// `bnlandscape probe`: trains as `train` does and probes the landscape every --step-interval
/// steps (online), or probes the weights stored in an HDF5 group once (offline, --checkpoint).
/// Results go to the /probes group of the run file (schema: docs/hdf5_schema.md).

#include <memory>
#include <string>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/run_recorder.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/probes/landscape_probe.h"

namespace bnl::cli {

/// Registers `probe` on `app` (options: cli/probe_options.h).
Command setup_probe(CLI::App& app);

/// The /probes series of a run file (and /density beside it with --density-runs).
class ProbeSeries {
 public:
  /// Creates /probes with its datasets, the step sizes and the probe configuration attributes;
  /// with an active `resume`, reopens it and cuts it back to the checkpoint's step.
  /// `world_size` is the number of processes that share the probe set (attribute of /probes).
  ProbeSeries(io::RunFile& file, const probes::LandscapeProbe& probe, const probes::ProbeConfig& cfg,
              const ResumeInfo* resume = nullptr, int world_size = 1);
  /// Appends one probe's row and flushes the file.
  void append(const probes::ProbeRecord& r);

 private:
  void add_density(io::RunFile& file, const probes::ProbeConfig& cfg, const probes::LandscapeProbe& probe,
                   const std::vector<io::ColumnSpec>& cols);

  io::RunFile& file_;
  io::SeriesGroup* group_ = nullptr;
  std::size_t k_ = 0, kb_ = 0, s_ = 0;
  bool eigvecs_ = false;
  std::size_t layer_values_ = 0;           // L * --layer-top-k (0 = off)
  io::SeriesGroup* density_ = nullptr;     // /density, with --density-runs
};

}  // namespace bnl::cli
