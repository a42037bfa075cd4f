#pragma once
/// \file
/// The options of `train`: the training configuration (declared in train/config.h) and the
/// command's own flags.

#include <string>

#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// Options of `train`.
struct TrainOptions {
  train::TrainConfig cfg;
  bool dump_config = false;  ///< --dump-config
  std::string resume;        ///< --resume FILE
};

/// Runs `train`; returns the exit code (0, or kExitDiverged).
int run_train(const TrainOptions& opt);

}  // namespace bnl::cli
