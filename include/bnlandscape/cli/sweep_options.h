#pragma once
/// \file
/// The options of `sweep` and the one declaration of each (config/option.h). A sweep file's
/// keys are the options of `train` and `probe` (train/config.h, probes/probe_config.h).

#include <cstdint>
#include <string>

#include "bnlandscape/config/option.h"

namespace bnl::cli {

/// Options of `sweep`; each field is documented once, by its declaration in visit_sweep_specs.
struct SweepOptions {
  std::string config;
  std::string out;
  std::int64_t jobs = 0;
  bool count = false;
  bool list = false;
  std::int64_t index = -1;
  std::string emit_slurm;
};

/// Calls v(spec, field) for every `sweep` option, in the order --help lists them.
template <class Options, class Visitor>
void visit_sweep_specs(Options& o, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("config", "sweep file (TOML with a [sweep] table)").in(kSweep), o.config);
  v(opt("out", "directory of the run files (created if missing)").in(kSweep), o.out);
  v(opt("jobs", "points run at once (0 = available cores / threads per point)")
        .in(kSweep).alias("-j").at_least(0).by_cli(),
    o.jobs);
  v(opt("count", "print the number of points and exit").in(kSweep), o.count);
  v(opt("list", "print each point's index, command and run file name, and exit").in(kSweep), o.list);
  v(opt("index", "run only point I (0-based; for job arrays)").in(kSweep).at_least(0).by_cli(), o.index);
  v(opt("emit_slurm", "write a SLURM job-array script for the sweep to FILE and exit").in(kSweep), o.emit_slurm);
}

/// Runs `sweep`; returns the exit code (0 when no point failed).
int run_sweep(const SweepOptions& opt);

}  // namespace bnl::cli
