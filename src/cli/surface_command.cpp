#include "bnlandscape/cli/surface_command.h"
#include "bnlandscape/cli/scripted_model.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/models/classifier.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>

#include "bnlandscape/cli/checkpoint_config.h"
#include "bnlandscape/cli/surface_directions.h"
#include "bnlandscape/cli/surface_file.h"
#include "bnlandscape/cli/surface_grid.h"
#include "bnlandscape/cli/surface_trajectory.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/core/parse.h"
#include "bnlandscape/data/batches.h"
#include "bnlandscape/dist/communicator.h"
#include "bnlandscape/dist/environment.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/models/factory.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/run/run_lock.h"
#include "bnlandscape/run/signal_guard.h"

namespace bnl::cli {

using run::RunLock;
using run::SignalGuard;
namespace {

using train::ConfigError;

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& allowed) {
  throw ConfigError("--" + option + " = " + value + ": expected " + allowed);
}

std::string surface_config_toml(SurfaceOptions& opt) {
  std::ostringstream os;
  os << "# bnlandscape surface configuration\n";
  visit_surface_options(opt.surface, TomlWriter{os});
  visit_surface_train_options(opt.cfg, TomlWriter{os});
  return os.str();
}

dist::DistEnv surface_dist_env() {
  try {
    return dist::read_dist_env(dist::process_env());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("distributed environment: ") + e.what());
  }
}

/// A private model at the checkpoint's weights: exact BN backward (the Hessian of the eigen
/// directions must be one), no running-statistics updates, no noise.
std::shared_ptr<models::Classifier> checkpoint_model(const SurfaceOptions& opt, const PreparedRun& run) {
  auto spec = run.spec;
  spec.norm.backward = models::BnBackward::Exact;
  auto model = models::make_model(spec);
  record::load_checkpoint(*model, {opt.surface.checkpoint, opt.surface.checkpoint_group}, opt.cfg.arch, opt.cfg.bn);
  models::set_running_stats_updates(*model, false);
  model->train(probe_bn_mode_kind(opt.surface) == SurfaceBnMode::train);
  return model;
}

/// The grid around `model` on the first --surface-size examples of --surface-set.
SurfaceGrid surface_grid(const SurfaceConfig& s, const data::Dataset& data, models::Classifier& model) {
  const data::ImageSet& set = surface_set_kind(s) == SurfaceSet::train ? data.train : data.test;
  const std::int64_t n = s.surface_size == 0 ? set.n : s.surface_size;
  if (n > set.n)
    bad("surface-size", std::to_string(s.surface_size), "at most the " + std::to_string(set.n) + " " + s.surface_set +
                                                              " examples");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  // --range auto: placeholders, replaced by the axes that cover the trajectory (rank 0,
  // shared by share_grid).
  const auto [lo, hi] = s.range == kAutoRange ? std::pair<double, double>{0.0, 1.0} : parse_surface_range(s.range);
  return make_grid(s, model, data::gather_images(set, data.norm, idx.data(), n), data::gather_labels(set, idx.data(), n),
                   n, lo, hi);
}

/// Rank 0's file: resumed, or created with directions made here.
std::unique_ptr<io::FileEditor> open_surface_file(const SurfaceOptions& opt, const PreparedRun& run,
                                                  const std::string& toml, models::Classifier& model, SurfaceGrid& g,
                                                  int world) {
  if (!opt.resume.empty()) return resume_surface_file(opt.cfg.out, opt, g, world);
  DirectionInfo info;
  const SurfaceConfig& s = opt.surface;
  if (directions_kind(s) == Directions::pca) {
    info.kind = s.directions;
    g.trajectory = make_trajectory(s.trajectory, g.names, g.params, g.dirs);
    if (s.range == kAutoRange) {
      g.plane.alpha = covering_axis(g.trajectory.alpha, s.resolution);
      g.plane.beta = covering_axis(g.trajectory.beta, s.resolution);
    }
  } else {
    g.dirs = make_directions(s, model, g.params, g.names, g.x, g.y, info);
  }
  return create_surface_file(opt, run, toml, g, info, world);
}

/// --directions pca: the trajectory is --checkpoint's run unless --trajectory names another,
/// and the axes cover it unless --range is given (the stored configuration says so).
void resolve_pca_defaults(SurfaceOptions& opt) {
  auto& s = opt.surface;
  if (s.directions != "pca") return;
  if (s.trajectory.empty()) s.trajectory = s.checkpoint;
  if (!opt.app || opt.app->count("--range") == 0) s.range = kAutoRange;
}

/// The exit code of a surface stopped by a signal (here or on another rank).
int interrupted(int rank, const std::string& out) {
  const int sig = SignalGuard::received();
  if (rank == 0)
    std::cerr << "bnlandscape: interrupted" << (sig ? " by signal " + std::to_string(sig) : std::string(" (another rank)"))
              << "; " << out << " keeps the cells computed, status \"interrupted\" (continue with surface --resume "
              << out << ")\n";
  return 128 + (sig ? sig : SIGTERM);
}

}  // namespace

std::pair<double, double> parse_surface_range(const std::string& s) { return core::parse_range_option(s, "range"); }

Command setup_surface(CLI::App& app) {
  auto opt = std::make_shared<SurfaceOptions>();
  CLI::App* sub = app.add_subcommand(
      "surface", "loss and accuracy on a 1-D or 2-D grid around a checkpoint's weights (Li et al. 2018)");
  visit_surface_specs(opt->surface, OptionAdder{*sub});
  visit_surface_train_specs(opt->cfg, OptionAdder{*sub});
  add_config_options(*sub, opt->dump_config);
  sub->add_option("--resume", opt->resume,
                  "compute the cells of the surface file FILE not yet computed (NaN), with the configuration stored "
                  "in it (only --quiet may be added)");
  opt->app = sub;
  return {sub, [opt] { return run_surface(*opt); }};
}

int run_surface(SurfaceOptions& opt) {
  resolve_pca_defaults(opt);
  if (opt.dump_config) {
    std::cout << surface_config_toml(opt);
    return kExitOk;
  }
  auto& s = opt.surface;
  const dist::DistEnv env = surface_dist_env();
  if (!s.checkpoint.empty())
    s.checkpoint_group = resolve_checkpoint_group(s.checkpoint, s.checkpoint_group, "surface", opt.cfg.quiet || env.rank != 0);
  validate_surface_options(s);
  if (!opt.resume.empty() && opt.resume != opt.cfg.out)
    throw ConfigError("--resume " + opt.resume + ": expected the same file as --out, got " + opt.cfg.out);
  if (env.rank != 0) opt.cfg.quiet = true;
  // A trajectory too short for a plane fails before the data are read.
  if (opt.resume.empty() && directions_kind(s) == Directions::pca) trajectory_groups(s.trajectory);
  // Model and data options not given are those of the run the checkpoint came from.
  adopt_checkpoint_config(opt.cfg, s.checkpoint, train::adopted_keys(optspec::kSurface), opt.app);
  const std::string toml = surface_config_toml(opt);
  PreparedRun run = prepare_run(opt.cfg);
  if (directions_kind(s) == Directions::eigen) check_scripted_second_order(opt.cfg, run);
  auto model = checkpoint_model(opt, run);
  SurfaceGrid g = surface_grid(s, run.data, *model);

  std::unique_ptr<dist::Communicator> comm;
  if (env.world_size > 1)
    comm = dist::Communicator::connect(env, std::chrono::milliseconds(static_cast<std::int64_t>(s.dist_timeout * 1000.0)));
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->world_size() : 1;
  std::unique_ptr<RunLock> lock;
  std::unique_ptr<io::FileEditor> editor;
  if (rank == 0) {
    lock = std::make_unique<RunLock>(opt.cfg.out);
    editor = open_surface_file(opt, run, toml, *model, g, world);
  }
  // A failure from here on is recorded in the file.
  try {
    if (comm) share_grid(*comm, g, s.dims);
    g.plane.x = g.dirs[0];
    if (s.dims == 2) g.plane.y = g.dirs[1];
    // The path first (a few cells' worth, rank 0): an interrupted grid keeps it.
    if (editor && !g.trajectory.empty()) evaluate_trajectory(s, *model, g, editor.get());
    const GridOutcome r = evaluate_grid(s, *model, g, comm.get(), editor.get(), opt.cfg.quiet);
    if (editor) finish_surface_file(*editor, r, g.n);
    if (r.stopped) return interrupted(rank, opt.cfg.out);
  } catch (...) {
    fail_surface_file(editor.get());
    throw;
  }
  return kExitOk;
}

}  // namespace bnl::cli
