#pragma once
/// \file
/// The /probes series of a run file (and /density, /density_ggn beside it with --density-runs), filled from
/// probes::ProbeRecord in the order the schema (record/schema.h) declares the columns.

#include <cstdint>
#include <vector>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/record/row_layout.h"

namespace bnl::record {

/// The /probes series of a run file (and /density beside it with --density-runs).
class ProbeSeries {
 public:
  /// Creates /probes with its datasets, the step sizes and the probe configuration attributes;
  /// with an active `resume`, reopens it and cuts it back to the checkpoint's step.
  /// `world_size` is the number of processes that share the probe set (attribute of /probes).
  ProbeSeries(io::RunFile& file, const probes::LandscapeProbe& probe, const probes::ProbeConfig& cfg,
              const ResumeInfo* resume = nullptr, int world_size = 1);
  /// Appends one probe's row (and its /density row) and flushes the file.
  void append(const probes::ProbeRecord& r);

 private:
  void write_attributes(io::RunFile& file, const probes::ProbeConfig& cfg, const probes::LandscapeProbe& probe,
                        int world_size);
  // /density (op "hessian") or /density_ggn (op "ggn") with columns `cols` (none: nullptr),
  // reopened and cut back with an active `resume` where the file has it.
  io::SeriesGroup* open_density(io::RunFile& file, const char* path, const char* op, const probes::ProbeConfig& cfg,
                                const probes::LandscapeProbe& probe, const std::vector<io::ColumnSpec>& cols,
                                const ResumeInfo* resume);

  io::RunFile& file_;
  io::SeriesGroup* group_ = nullptr;
  io::SeriesGroup* density_ = nullptr;      // /density, with --density-runs
  io::SeriesGroup* ggn_density_ = nullptr;  // /density_ggn, with --density-runs and --curvature ggn
  RowLayout<probes::ProbeRecord> row_;
  RowLayout<probes::ProbeRecord> density_row_;
  RowLayout<probes::ProbeRecord> ggn_density_row_;
};

}  // namespace bnl::record
