#pragma once
/// \file
/// `bnlandscape train`: trains one model and writes one run file.

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/run/progress.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/train/trainer.h"
#include "bnlandscape/data/dataset.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// Registers `train` on `app` (options: cli/train_options.h).
Command setup_train(CLI::App& app);

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

/// The model settings implied by a configuration, the data's image shape and its number of
/// classes (the model's outputs).
models::ModelSpec model_spec(const train::TrainConfig& cfg, const data::ImageSet& images, std::int64_t num_classes);

/// Adds an observer to a run (the probe command's probes); called once the run file exists.
using ExtendRun =
    std::function<std::unique_ptr<train::TrainObserver>(train::Trainer&, io::RunFile&, run::Progress&, const record::ResumeInfo&)>;

/// Trains as configured, writing the run file `cfg.out` with `config_toml` as its recorded
/// configuration; `extend` (may be empty) adds an observer. With `resume_file` set (it must be
/// cfg.out), continues that file's run from its newest checkpoint. `command` ("train" or
/// "probe") names the subcommand in the resume command printed when a signal stops the run.
/// Returns the exit code.
int train_and_record(const train::TrainConfig& cfg, PreparedRun& run, const std::string& config_toml,
                     const ExtendRun& extend, const std::string& resume_file = "",
                     const std::string& command = "train");

/// Trains as configured without writing anything (no run file, no lock, no log): a replica
/// of rank 0's training on another rank, whose only job is the observer `make` adds (its
/// share of the probes). Returns the exit code train_and_record would return.
int train_replica(const train::TrainConfig& cfg, PreparedRun& run,
                  const std::function<std::unique_ptr<train::TrainObserver>(train::Trainer&, run::Progress&)>& make);

/// Adds --resume FILE to a subcommand (run_app fills in the file's configuration).
void add_resume_option(CLI::App& sub, std::string& resume);

/// The resolved `train` options as TOML.
std::string train_config_toml(const train::TrainConfig& cfg);

}  // namespace bnl::cli
