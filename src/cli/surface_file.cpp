#include "bnlandscape/cli/surface_file.h"

#include <cmath>
#include <limits>


#include "bnlandscape/record/provenance.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/cli/surface_directions.h"
#include "bnlandscape/cli/surface_grid.h"
#include "bnlandscape/cli/surface_trajectory.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/train/device.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::cli {

namespace names = record::names;
namespace {

using train::ConfigError;

/// Writes the /surface array `name` with the units and description its schema declares.
void write_surface_array(io::RunFile& file, const std::string& name, const std::vector<double>& values,
                         const std::vector<std::int64_t>& dims) {
  const auto& item = record::schema::item(names::kSurface, name);
  file.write_array(names::at(names::kSurface, name), values, dims, item.units, item.meaning);
}

/// "trajectory/<name>": a column of the path, relative to /surface.
std::string path_column(const char* name) { return names::at(names::kTrajectory, name); }

/// --directions pca: the explained variances and the path, its losses NaN until evaluated.
void write_trajectory_arrays(io::RunFile& file, const SurfaceTrajectory& t) {
  write_surface_array(file, names::kExplainedVariance, {t.explained_variance[0], t.explained_variance[1]}, {});
  const auto& step = record::schema::item(names::kSurface, path_column(names::kStep));
  file.write_int_array(names::at(names::kSurface, step.name), t.steps, {}, step.units, step.meaning);
  write_surface_array(file, path_column(names::kAlpha), t.alpha, {});
  write_surface_array(file, path_column(names::kBeta), t.beta, {});
  write_surface_array(file, path_column(names::kLoss), t.loss, {});
  write_surface_array(file, path_column(names::kAcc), t.acc, {});
}

/// --resume of a pca surface: the path as far as it was evaluated.
SurfaceTrajectory read_trajectory(const io::RunReader& reader) {
  SurfaceTrajectory t;
  const auto column = [&](const char* name) {
    return reader.read(names::at(names::kSurface, path_column(name))).values;
  };
  t.file = reader.string_attr(names::kTrajectoryFile, names::kSurface).value_or("");
  t.groups = reader.string_list_attr(names::kTrajectoryCheckpoints, names::kSurface);
  for (double v : column(names::kStep)) t.steps.push_back(static_cast<std::int64_t>(v));
  t.alpha = column(names::kAlpha);
  t.beta = column(names::kBeta);
  t.loss = column(names::kLoss);
  t.acc = column(names::kAcc);
  const auto ev = reader.read(names::at(names::kSurface, names::kExplainedVariance)).values;
  if (ev.size() == 2) t.explained_variance = {ev[0], ev[1]};
  if (t.file.empty() || t.groups.size() != t.steps.size() || t.acc.size() != t.steps.size())
    throw ConfigError("--resume " + reader.path() + ": expected /surface/trajectory/* and the attributes " +
                      names::kTrajectoryFile + ", " + names::kTrajectoryCheckpoints + " of one path, got a damaged one");
  return t;
}

/// The axes, the NaN grid, and what describes the directions, in a new file.
void write_grid_arrays(io::RunFile& file, const SurfaceConfig& s, const SurfaceGrid& g, const DirectionInfo& info) {
  write_surface_array(file, names::kAlpha, g.plane.alpha, {});
  if (s.dims == 2) write_surface_array(file, names::kBeta, g.plane.beta, {});
  write_surface_array(file, names::kLoss, g.loss, g.dims);
  write_surface_array(file, names::kAcc, g.acc, g.dims);
  std::vector<double> norms;
  for (const auto& d : g.dirs) norms.push_back(probes::direction_norm(d));
  write_surface_array(file, names::kDirectionNorms, norms, {});
  if (!info.eigenvalues.empty()) write_surface_array(file, names::kEigenvalues, info.eigenvalues, {});
  if (!g.trajectory.empty()) write_trajectory_arrays(file, g.trajectory);
}

/// The directions' tensors and the /surface attributes.
void write_directions(io::FileEditor& editor, const SurfaceConfig& s, const SurfaceGrid& g, const DirectionInfo& info,
                      int world) {
  for (std::size_t k = 0; k < g.dirs.size(); ++k) {
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (std::size_t i = 0; i < g.names.size(); ++i) named.emplace_back(g.names[i], g.dirs[k][i]);
    editor.write_tensor_group(names::at(names::kSurfaceDirections, kSurfaceAxes[k]), named);
  }
  const std::string grp = names::kSurface;
  editor.set_attr(grp, names::kDirections, info.kind);
  editor.set_attr(grp, "directions_from", info.from);
  editor.set_attr(grp, "dims", s.dims);
  editor.set_attr(grp, "include_bn_bias", std::int64_t{s.include_bn_bias ? 1 : 0});
  editor.set_attr(grp, "probe_bn_mode", s.probe_bn_mode);
  editor.set_attr(grp, "surface_set", s.surface_set);
  editor.set_attr(grp, "surface_size", g.n);
  editor.set_attr(grp, "surface_batch", s.surface_batch);
  editor.set_attr(grp, "num_params", probes::numel(g.params));
  editor.set_attr(grp, "parameter_names", g.names);
  editor.set_attr(grp, names::kWorldSize, static_cast<std::int64_t>(world));
  if (info.kind == "eigen" && info.from.empty()) {
    editor.set_attr(grp, "eigen_converged", std::int64_t{info.eigen_converged ? 1 : 0});
    editor.set_attr(grp, "hvp_count", info.hvp_count);
  }
  if (std::isfinite(info.gradient_norm)) editor.set_attr(grp, "gradient_norm", info.gradient_norm);
  if (!g.trajectory.empty()) {
    editor.set_attr(grp, names::kTrajectoryFile, g.trajectory.file);
    editor.set_attr(grp, names::kTrajectoryCheckpoints, g.trajectory.groups);
  }
}

}  // namespace

void write_provenance(io::RunFile& f, const SurfaceOptions& opt, const PreparedRun& run, const std::string& toml) {
  record::RunProvenance p;
  p.kind = record::ProvenanceKind::Surface;
  p.config_toml = toml;
  p.seed = opt.surface.seed;
  p.intra_op_threads = run.threads.first;
  p.blas_threads = run.threads.second;
  record::describe_data(p, run.data);
  record::describe_model(p, *run.model);
  p.checkpoint_file = opt.surface.checkpoint;
  p.checkpoint_group = opt.surface.checkpoint_group;
  const auto device = train::resolve_device(opt.cfg.device);
  p.device = device.str();
  p.device_name = train::device_name(device);
  record::write_provenance(f, p);
}

std::unique_ptr<io::FileEditor> create_surface_file(const SurfaceOptions& opt, const PreparedRun& run,
                                                    const std::string& toml, const SurfaceGrid& g,
                                                    const DirectionInfo& info, int world) {
  const std::string& out = opt.cfg.out;
  auto file = io::RunFile::create(out, opt.cfg.overwrite);
  write_provenance(*file, opt, run, toml);
  write_grid_arrays(*file, opt.surface, g, info);
  file->close();
  auto editor = std::make_unique<io::FileEditor>(out);
  write_directions(*editor, opt.surface, g, info, world);
  editor->flush();
  return editor;
}

std::unique_ptr<io::FileEditor> resume_surface_file(const std::string& out, const SurfaceOptions& opt, SurfaceGrid& g,
                                                    int world) {
  {
    // Read under the lock: nobody else may be writing the grid we continue.
    io::RunReader reader(out);
    for (const std::string& d : {names::at(names::kSurface, names::kLoss), names::at(names::kSurface, names::kAcc)}) {
      if (!reader.exists(d)) throw ConfigError("--resume " + out + ": expected a surface file, got no " + d);
      if (reader.read(d).dims != g.dims)
        throw ConfigError("--resume " + out + ": " + d + " does not have the shape of --resolution and --dims");
    }
    g.loss = reader.read(names::at(names::kSurface, names::kLoss)).values;
    g.acc = reader.read(names::at(names::kSurface, names::kAcc)).values;
    // The stored axes: those of --range auto came from the trajectory, not from the options.
    g.plane.alpha = reader.read(names::at(names::kSurface, names::kAlpha)).values;
    if (opt.surface.dims == 2) g.plane.beta = reader.read(names::at(names::kSurface, names::kBeta)).values;
    if (reader.exists(names::at(names::kSurface, path_column(names::kStep)))) g.trajectory = read_trajectory(reader);
    for (int k = 0; k < opt.surface.dims; ++k)
      g.dirs.push_back(read_direction(out, names::at(names::kSurfaceDirections, kSurfaceAxes[k]), g.names, g.params, "resume"));
  }
  auto editor = std::make_unique<io::FileEditor>(out);
  editor->set_attr(names::kRoot, names::kStatus, std::string("running"));
  editor->set_attr(names::kRoot, names::kEndTime, std::string(""));
  editor->set_attr(names::kSurface, names::kWorldSize, static_cast<std::int64_t>(world));
  editor->flush();
  return editor;
}

void finish_surface_file(io::FileEditor& editor, const GridOutcome& r, std::int64_t examples) {
  editor.set_attr(names::kSurface, "seconds", r.seconds);
  editor.set_attr(names::kSurface, "examples_per_second",
                  r.done > 0 ? static_cast<double>(r.done) * static_cast<double>(examples) / r.seconds
                             : std::numeric_limits<double>::quiet_NaN());
  editor.set_attr(names::kRoot, names::kEndTime, record::iso8601_utc_now());
  editor.set_attr(names::kRoot, names::kStatus, std::string(r.stopped ? "interrupted" : "complete"));
  editor.close();
}

void fail_surface_file(io::FileEditor* editor) {
  if (!editor) return;
  try {
    editor->set_attr(names::kRoot, names::kStatus, std::string("failed"));
    editor->close();
  } catch (...) {
  }
}

}  // namespace bnl::cli
