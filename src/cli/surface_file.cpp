#include "bnlandscape/cli/surface_file.h"

#include <unistd.h>

#include <cmath>
#include <limits>

#include <torch/version.h>

#include "bnlandscape/cli/build_info.h"
#include "bnlandscape/cli/run_recorder.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/cli/surface_directions.h"
#include "bnlandscape/cli/surface_grid.h"
#include "bnlandscape/cli/train_command.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::cli {
namespace {

using train::ConfigError;

/// The axes, the NaN grid, and what describes the directions, in a new file.
void write_grid_arrays(io::RunFile& file, const SurfaceConfig& s, const SurfaceGrid& g, const DirectionInfo& info) {
  file.write_array("/surface/alpha", g.plane.alpha, {}, "1", "coefficient of direction x (grid rows)");
  if (s.dims == 2) file.write_array("/surface/beta", g.plane.beta, {}, "1", "coefficient of direction y (grid columns)");
  file.write_array("/surface/loss", g.loss, g.dims, "nats",
                   "mean cross-entropy at theta + alpha x (+ beta y); NaN = not computed yet (or not finite)");
  file.write_array("/surface/acc", g.acc, g.dims, "1", "accuracy at theta + alpha x (+ beta y); NaN = not computed yet");
  std::vector<double> norms;
  for (const auto& d : g.dirs) norms.push_back(probes::direction_norm(d));
  file.write_array("/surface/direction_norms", norms, {}, "1", "||d||_2 of each direction over all parameters (x, then y)");
  if (!info.eigenvalues.empty())
    file.write_array("/surface/eigenvalues", info.eigenvalues, {}, "1",
                     "Hessian eigenvalues (Ritz values) of the directions, descending");
}

/// The directions' tensors and the /surface attributes.
void write_directions(io::FileEditor& editor, const SurfaceConfig& s, const SurfaceGrid& g, const DirectionInfo& info,
                      int world) {
  for (std::size_t k = 0; k < g.dirs.size(); ++k) {
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (std::size_t i = 0; i < g.names.size(); ++i) named.emplace_back(g.names[i], g.dirs[k][i]);
    editor.write_tensor_group(std::string("/surface/directions/") + kSurfaceAxes[k], named);
  }
  const std::string grp = "/surface";
  editor.set_attr(grp, "directions", info.kind);
  editor.set_attr(grp, "directions_from", info.from);
  editor.set_attr(grp, "dims", s.dims);
  editor.set_attr(grp, "include_bn_bias", std::int64_t{s.include_bn_bias ? 1 : 0});
  editor.set_attr(grp, "probe_bn_mode", s.probe_bn_mode);
  editor.set_attr(grp, "surface_set", s.surface_set);
  editor.set_attr(grp, "surface_size", g.n);
  editor.set_attr(grp, "surface_batch", s.surface_batch);
  editor.set_attr(grp, "num_params", probes::numel(g.params));
  editor.set_attr(grp, "parameter_names", g.names);
  editor.set_attr(grp, "world_size", static_cast<std::int64_t>(world));
  if (info.kind == "eigen" && info.from.empty()) {
    editor.set_attr(grp, "eigen_converged", std::int64_t{info.eigen_converged ? 1 : 0});
    editor.set_attr(grp, "hvp_count", info.hvp_count);
  }
  if (std::isfinite(info.gradient_norm)) editor.set_attr(grp, "gradient_norm", info.gradient_norm);
}

}  // namespace

void write_provenance(io::RunFile& f, const SurfaceOptions& opt, const PreparedRun& run, const std::string& toml) {
  f.set_attr("status", std::string("running"));
  f.set_attr("config_toml", toml);
  f.set_attr("bnlandscape_version", std::string(BNL_VERSION));
  f.set_attr("git_revision", std::string(git_revision()));
  f.set_attr("torch_version", std::string(TORCH_VERSION));
  f.set_attr("blas", train::blas_description());
  f.set_attr("intra_op_threads", std::int64_t{run.threads.first});
  f.set_attr("blas_threads", std::int64_t{run.threads.second});
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  f.set_attr("host", std::string(host));
  f.set_attr("seed", static_cast<std::int64_t>(opt.surface.seed));
  f.set_attr("start_time", iso8601_utc_now());
  f.set_attr("end_time", std::string(""));
  std::string files;
  for (const auto& d : run.data.files) files += d.path + " " + d.sha256 + "\n";
  f.set_attr("data_files", files);
  f.set_attr("checkpoint_file", opt.surface.checkpoint);
  f.set_attr("checkpoint_group", opt.surface.checkpoint_group);
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
    for (const char* d : {"/surface/loss", "/surface/acc"}) {
      if (!reader.exists(d)) throw ConfigError("--resume " + out + ": expected a surface file, got no " + d);
      if (reader.read(d).dims != g.dims)
        throw ConfigError("--resume " + out + ": " + d + " does not have the shape of --resolution and --dims");
    }
    g.loss = reader.read("/surface/loss").values;
    g.acc = reader.read("/surface/acc").values;
    for (int k = 0; k < opt.surface.dims; ++k)
      g.dirs.push_back(read_direction(out, std::string("/surface/directions/") + kSurfaceAxes[k], g.names, g.params, "resume"));
  }
  auto editor = std::make_unique<io::FileEditor>(out);
  editor->set_attr("/", "status", std::string("running"));
  editor->set_attr("/", "end_time", std::string(""));
  editor->set_attr("/surface", "world_size", static_cast<std::int64_t>(world));
  editor->flush();
  return editor;
}

void finish_surface_file(io::FileEditor& editor, const GridOutcome& r, std::int64_t examples) {
  editor.set_attr("/surface", "seconds", r.seconds);
  editor.set_attr("/surface", "examples_per_second",
                  r.done > 0 ? static_cast<double>(r.done) * static_cast<double>(examples) / r.seconds
                             : std::numeric_limits<double>::quiet_NaN());
  editor.set_attr("/", "end_time", iso8601_utc_now());
  editor.set_attr("/", "status", std::string(r.stopped ? "interrupted" : "complete"));
  editor.close();
}

void fail_surface_file(io::FileEditor* editor) {
  if (!editor) return;
  try {
    editor->set_attr("/", "status", std::string("failed"));
    editor->close();
  } catch (...) {
  }
}

}  // namespace bnl::cli
