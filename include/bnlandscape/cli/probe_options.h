#pragma once
/// \file
/// The options of `probe`: every `train` option (train/config.h) plus the probe options
/// (probes/probe_config.h), and the command's own flags.

#include <string>

#include "bnlandscape/probes/probe_config.h"
#include "bnlandscape/train/config.h"

namespace CLI {
class App;
}

namespace bnl::cli {

/// Options of `probe`: every `train` option plus the probe options.
struct ProbeOptions {
  train::TrainConfig cfg;
  probes::ProbeConfig probe;
  bool dump_config = false;  ///< --dump-config
  std::string resume;        ///< --resume FILE
  CLI::App* app = nullptr;   ///< to tell options given explicitly from defaults
};

/// Runs `probe`; returns the exit code. With WORLD_SIZE > 1 (torchrun or SLURM environment,
/// see dist/environment.h) the fixed probe set is split over the ranks, training is replicated
/// on every rank, and rank 0 alone writes the run file.
int run_probe(ProbeOptions& opt);

}  // namespace bnl::cli
