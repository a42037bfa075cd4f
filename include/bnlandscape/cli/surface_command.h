#pragma once
/// \file
/// `bnlandscape surface`: the loss and accuracy on a grid around the weights of a checkpoint,
/// along two directions (a 2-D surface) or one (a 1-D curve), after Li et al. 2018,
/// "Visualizing the Loss Landscape of Neural Nets" (probes/surface.h). Written to its own
/// HDF5 file under /surface (schema: docs/hdf5_schema.md); the grid is filled in row by row
/// as it is computed, so `--resume FILE` continues an interrupted one. Under `launch`,
/// torchrun or srun the cells are split over the ranks and rank 0 alone writes.

#include <cstdint>
#include <string>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

/// The surface options (each spelled as its flag with dashes, or TOML key).
struct SurfaceConfig {
  std::string checkpoint;                   ///< HDF5 file holding the weights
  std::string checkpoint_group;             ///< group of dotted-name datasets in it
  std::string directions = "filter-random"; ///< filter-random | eigen | gradient
  std::string directions_from;              ///< surface file whose directions are reused ("" = make new ones)
  bool include_bn_bias = false;             ///< filter-random: 1-D parameters move too (d = theta there)
  std::string range = "-1,1";               ///< "lo,hi" of alpha (and beta)
  std::int64_t resolution = 51;             ///< grid points per axis
  std::int64_t dims = 2;                    ///< 2 (alpha x beta) | 1 (alpha only)
  std::string surface_set = "train";        ///< train | test
  std::int64_t surface_size = 10000;        ///< first N examples of the set (0 = all)
  std::int64_t surface_batch = 1024;        ///< examples per forward pass
  std::string probe_bn_mode = "train";      ///< BN statistics: train (batch) | eval (running)
  std::uint64_t seed = 0;                   ///< seed of the random directions and of Lanczos's start
  double eigen_tol = 1e-3;                  ///< eigen: Lanczos relative tolerance
  double dist_timeout = 300;                ///< seconds to wait for the other ranks
};

/// Calls v(key, field, doc) for every surface option.
template <class Config, class Visitor>
void visit_surface_options(Config& c, Visitor&& v) {
  v("checkpoint", c.checkpoint, "HDF5 file with the weights (a run file's checkpoint, or any file of dotted-name datasets)");
  v("checkpoint_group", c.checkpoint_group, "group of dotted-name datasets in --checkpoint, e.g. /checkpoints/step_0000469");
  v("directions", c.directions, "filter-random (Li et al. 2018: Gaussian, each filter scaled to the weights' filter norm) | eigen (top Hessian eigenvectors, unit norm) | gradient (-g/||g||, --dims 1)");
  v("directions_from", c.directions_from, "reuse the directions stored in this surface file (so that a sweep of checkpoints shares them)");
  v("include_bn_bias", c.include_bn_bias, "filter-random: move biases and normalisation parameters too (d = theta there, as Li et al.'s code); default: they stay fixed");
  v("range", c.range, "\"lo,hi\": alpha (and beta) run over lo..hi");
  v("resolution", c.resolution, "grid points per axis");
  v("dims", c.dims, "2: loss over (alpha, beta) | 1: loss along alpha only");
  v("surface_set", c.surface_set, "examples the loss is measured on: train | test");
  v("surface_size", c.surface_size, "use the first N examples of --surface-set (0 = all)");
  v("surface_batch", c.surface_batch, "examples per forward pass (with --probe-bn-mode train each is one BN batch)");
  v("probe_bn_mode", c.probe_bn_mode, "BN during evaluation: train (batch statistics, as probe) | eval (running statistics, as Li et al.'s code)");
  v("seed", c.seed, "seed of the random directions (and of Lanczos's start vector)");
  v("eigen_tol", c.eigen_tol, "eigen: relative tolerance of the Lanczos eigenpairs");
  v("dist_timeout", c.dist_timeout, "with several processes (WORLD_SIZE > 1): seconds to wait for the other ranks before failing");
}

/// The `train` options `surface` takes (data, model, threads, output); the others do not
/// apply. Model and data options not given are taken from the checkpoint file's own
/// configuration when it has one.
template <class Visitor>
void visit_surface_train_options(train::TrainConfig& c, Visitor&& v) {
  train::visit_train_options(c, [&](const char* key, auto& field, const char* doc) {
    static const char* const keys[] = {"dataset", "data_dir", "arch", "hidden_dims", "conv_channels", "bn",
                                       "bn_placement", "bn_eval", "threads", "out", "overwrite", "quiet"};
    for (const char* k : keys)
      if (std::string(k) == key) v(key, field, doc);
  });
}

/// Checks the surface options; throws train::ConfigError naming the first bad one.
void validate_surface(const SurfaceConfig& c);

/// Parses --range "lo,hi" (finite, lo < hi); throws bnl::ConfigError otherwise (core::parse_range_option).
std::pair<double, double> parse_surface_range(const std::string& s);

/// Options of `surface`.
struct SurfaceOptions {
  SurfaceConfig surface;
  train::TrainConfig cfg;   ///< only the keys of visit_surface_train_options are used
  bool dump_config = false;
  std::string resume;       ///< --resume FILE
  CLI::App* app = nullptr;  ///< to tell options given explicitly from defaults
};

/// Registers `surface` on `app`.
Command setup_surface(CLI::App& app);

/// Runs `surface`; returns the exit code (0; 128 + signal when interrupted).
int run_surface(SurfaceOptions& opt);

}  // namespace bnl::cli
