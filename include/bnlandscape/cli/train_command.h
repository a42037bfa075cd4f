#pragma once
/// \file
/// `bnlandscape train`: trains one model and writes one run file.

#include <memory>
#include <string>
#include <utility>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/data/dataset.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// Options of `train`.
struct TrainOptions {
  train::TrainConfig cfg;
  bool dump_config = false;
};

/// Registers `train` on `app`.
Command setup_train(CLI::App& app);

/// Runs `train`; returns the exit code (0, or kExitDiverged).
int run_train(const TrainOptions& opt);

/// Data, model and thread settings of a run, checked and built before any output exists.
struct PreparedRun {
  data::Dataset data;
  models::ModelSpec spec;
  std::shared_ptr<models::Classifier> model;
  std::pair<int, int> threads;  ///< {intra-op, BLAS}
};

/// Validates `cfg`, sets threads, loads the data (subsets applied), checks the batch size
/// against the data, seeds libtorch and builds the model.
PreparedRun prepare_run(const train::TrainConfig& cfg);

/// The model settings implied by a configuration and the data's image shape.
models::ModelSpec model_spec(const train::TrainConfig& cfg, const data::ImageSet& images);

/// The resolved `train` options as TOML.
std::string train_config_toml(const train::TrainConfig& cfg);

}  // namespace bnl::cli
