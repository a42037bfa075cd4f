#pragma once
/// \file
/// The options of `surface`: SurfaceConfig, the one declaration of each of its options
/// (visit_surface_specs; config/option.h says what a declaration holds), the `train` options it
/// takes, and its checks.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "bnlandscape/config/option.h"
#include "bnlandscape/train/config.h"

namespace CLI {
class App;
}

namespace bnl::cli {

/// The surface options; each field is documented once, by its declaration in
/// visit_surface_specs.
struct SurfaceConfig {
  std::string checkpoint;
  std::string checkpoint_group;
  std::string directions = "filter-random";
  std::string directions_from;
  std::string trajectory;
  bool include_bn_bias = false;
  std::string range = "-1,1";
  std::int64_t resolution = 51;
  std::int64_t dims = 2;
  std::string surface_set = "train";
  std::int64_t surface_size = 10000;
  std::int64_t surface_batch = 1024;
  std::string probe_bn_mode = "train";
  std::uint64_t seed = 0;
  double eigen_tol = 1e-3;
  double dist_timeout = 300;
};

/// Calls v(spec, field) for every surface option in a fixed order: the one declaration of each.
template <class Config, class Visitor>
void visit_surface_specs(Config& c, Visitor&& v) {
  using namespace bnl::optspec;
  v(opt("checkpoint", "HDF5 file with the weights (a run file's checkpoint, or any file of dotted-name datasets)")
        .in(kSurface).not_empty().expect("the HDF5 file with the weights"),
    c.checkpoint);
  v(opt("checkpoint_group", "group of dotted-name datasets in --checkpoint (\"\" = its last checkpoint /checkpoints/step_N)")
        .in(kSurface).not_empty().expect("the group of the weights in --checkpoint"),
    c.checkpoint_group);
  v(opt("directions", "filter-random (Li et al. 2018: Gaussian, each filter scaled to the weights' filter norm) | eigen (top Hessian eigenvectors, unit norm) | gradient (-g/||g||, --dims 1) | pca (top two principal directions of --trajectory's checkpoints around this one, unit norm, Li et al. section 7; --dims 2)")
        .in(kSurface).one_of("filter-random | eigen | gradient | pca"),
    c.directions);
  v(opt("directions_from", "reuse the directions stored in this surface file (so that a sweep of checkpoints shares them)")
        .in(kSurface),
    c.directions_from);
  v(opt("trajectory", "pca: the run file whose /checkpoints/* (at least 3) make the trajectory; default: --checkpoint's file")
        .in(kSurface),
    c.trajectory);
  v(opt("include_bn_bias", "filter-random: move biases and normalisation parameters too (d = theta there, as Li et al.'s code); default: they stay fixed")
        .in(kSurface),
    c.include_bn_bias);
  v(opt("range", "\"lo,hi\": alpha (and beta) run over lo..hi | auto (pca, its default: each axis covers the trajectory's path and 0, plus 20% of that span on each side)")
        .in(kSurface),
    c.range);
  v(opt("resolution", "grid points per axis")
        .in(kSurface).at_least(2).at_most(100001).expect("2 <= N <= 100001 points per axis (both ends of the range)"),
    c.resolution);
  v(opt("dims", "2: loss over (alpha, beta) | 1: loss along alpha only")
        .in(kSurface).at_least(1).at_most(2).expect("1 or 2"),
    c.dims);
  v(opt("surface_set", "examples the loss is measured on: train | test")
        .in(kSurface).one_of("train | test"),
    c.surface_set);
  v(opt("surface_size", "use the first N examples of --surface-set (0 = all)")
        .in(kSurface).at_least(0).expect("N >= 0 (0 = all)").with_unit("examples"),
    c.surface_size);
  v(opt("surface_batch", "examples per forward pass (with --probe-bn-mode train each is one BN batch)")
        .in(kSurface).at_least(2).expect("B >= 2").with_unit("examples"),
    c.surface_batch);
  v(opt("probe_bn_mode", "BN during evaluation: train (batch statistics, as probe) | eval (running statistics, as Li et al.'s code)")
        .in(kSurface).one_of("train | eval"),
    c.probe_bn_mode);
  v(opt("seed", "seed of the random directions (and of Lanczos's start vector)")
        .in(kSurface),
    c.seed);
  v(opt("eigen_tol", "eigen: relative tolerance of the Lanczos eigenpairs")
        .in(kSurface).above(0).below(1).expect("0 < tol < 1").show("%.4g"),
    c.eigen_tol);
  v(opt("dist_timeout", "with several processes (WORLD_SIZE > 1): seconds to wait for the other ranks before failing")
        .in(kSurface).above(0).finite().expect("a positive number of seconds").show("%.4g").with_unit("s"),
    c.dist_timeout);
}

/// Calls v(key, field, doc) for every surface option (visit_surface_specs without the rest of
/// the declaration).
template <class Config, class Visitor>
void visit_surface_options(Config& c, Visitor&& v) {
  visit_surface_specs(c, [&](const optspec::OptionSpec& s, auto& field) { v(s.key, field, s.doc); });
}

/// Calls v(spec, field) for the `train` options `surface` takes (declared with
/// optspec::kSurface: data, model, threads, output); the others do not apply. Model and data
/// options not given are taken from the checkpoint file's own configuration when it has one
/// (train::adopted_keys(optspec::kSurface)).
template <class Visitor>
void visit_surface_train_specs(train::TrainConfig& c, Visitor&& v) {
  train::visit_train_specs(c, [&](const optspec::OptionSpec& s, auto& field) {
    if (s.commands & optspec::kSurface) v(s, field);
  });
}

/// visit_surface_train_specs as v(key, field, doc).
template <class Visitor>
void visit_surface_train_options(train::TrainConfig& c, Visitor&& v) {
  visit_surface_train_specs(c, [&](const optspec::OptionSpec& s, auto& field) { v(s.key, field, s.doc); });
}

/// The word-set surface options as enums, each enumerator in the order of its declared words
/// (visit_surface_specs); read them with the *_kind accessors once validation passed.
enum class Directions { filter_random, eigen, gradient, pca };
enum class SurfaceSet { train, test };
enum class SurfaceBnMode { train, eval };

/// The position of `value` among the declared words of surface option `key`; throws
/// bnl::InternalError when it is not one (a configuration read before validation).
std::size_t surface_word_index(const std::string& key, const std::string& value);

inline Directions directions_kind(const SurfaceConfig& c) {
  return static_cast<Directions>(surface_word_index("directions", c.directions));
}
inline SurfaceSet surface_set_kind(const SurfaceConfig& c) {
  return static_cast<SurfaceSet>(surface_word_index("surface_set", c.surface_set));
}
inline SurfaceBnMode probe_bn_mode_kind(const SurfaceConfig& c) {
  return static_cast<SurfaceBnMode>(surface_word_index("probe_bn_mode", c.probe_bn_mode));
}

/// The --range value that lets a pca surface's axes cover its trajectory (surface_trajectory.h).
inline constexpr char kAutoRange[] = "auto";

/// Checks the surface options: each declared check, then the rules between options and the
/// --range text; throws ConfigError naming the first bad one.
void validate_surface_options(const SurfaceConfig& c);

/// Parses --range "lo,hi" (finite, lo < hi); throws ConfigError otherwise.
std::pair<double, double> parse_surface_range(const std::string& s);

/// Options of `surface`.
struct SurfaceOptions {
  SurfaceConfig surface;
  train::TrainConfig cfg;   ///< only the keys of visit_surface_train_specs are used
  bool dump_config = false;
  std::string resume;       ///< --resume FILE
  CLI::App* app = nullptr;  ///< to tell options given explicitly from defaults
};

/// Runs `surface`; returns the exit code (0; 128 + signal when interrupted).
int run_surface(SurfaceOptions& opt);

}  // namespace bnl::cli
