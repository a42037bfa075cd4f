#include "bnlandscape/cli/surface_trajectory.h"

#include <algorithm>
#include <cmath>

#include "bnlandscape/cli/surface_directions.h"
#include "bnlandscape/cli/surface_grid.h"
#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/surface_io.h"
#include "bnlandscape/probes/flat_params.h"
#include "bnlandscape/probes/trajectory_pca.h"
#include "bnlandscape/record/checkpoint_source.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

namespace names = record::names;

std::vector<std::string> trajectory_groups(const std::string& file) {
  auto groups = io::list_checkpoints(file);
  if (groups.size() < kMinTrajectoryCheckpoints)
    throw train::ConfigError("--trajectory " + file + ": expected at least " +
                             std::to_string(kMinTrajectoryCheckpoints) +
                             " checkpoints (/checkpoints/*) for --directions pca, got " + std::to_string(groups.size()) +
                             "; record more with train or probe --checkpoint-every N (a checkpoint every N steps)");
  return groups;
}

SurfaceTrajectory make_trajectory(const std::string& file, const std::vector<std::string>& names,
                                  const std::vector<torch::Tensor>& params, std::vector<probes::Direction>& dirs) {
  SurfaceTrajectory t;
  t.file = file;
  t.groups = trajectory_groups(file);
  // Flattened in the parameters' own dtype (float32 halves the memory of n x P doubles);
  // trajectory_pca works in float64.
  std::vector<torch::Tensor> points;
  for (const auto& group : t.groups) {
    points.push_back(probes::flatten(read_direction(file, group, names, params, "trajectory")).to(torch::kCPU));
    t.steps.push_back(record::checkpoint_step(group));
  }
  const auto pca = probes::trajectory_pca(points, probes::flatten(params).detach());
  points.clear();
  t.alpha = pca.alpha;
  t.beta = pca.beta;
  t.explained_variance = pca.explained_variance;
  t.loss.assign(t.groups.size(), std::numeric_limits<double>::quiet_NaN());
  t.acc = t.loss;
  dirs.clear();
  for (const auto& u : pca.directions) {
    probes::Direction d;
    for (const auto& part : probes::unflatten(u.to(params.front().options()), params)) d.push_back(part.clone());
    dirs.push_back(std::move(d));
  }
  return t;
}

std::vector<double> covering_axis(const std::vector<double>& coord, std::int64_t resolution) {
  double lo = 0.0, hi = 0.0;
  for (double c : coord) {
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  const double m = hi > lo ? kTrajectoryMargin * (hi - lo) : 1.0;
  return probes::grid_axis(lo - m, hi + m, resolution);
}

void evaluate_trajectory(const SurfaceConfig& s, models::Classifier& model, SurfaceGrid& g, io::FileEditor* editor) {
  auto& t = g.trajectory;
  const std::string group = names::at(names::kSurface, names::kTrajectory);
  for (std::size_t i = 0; i < t.groups.size(); ++i) {
    if (!std::isnan(t.acc[i])) continue;
    const auto weights = read_direction(t.file, t.groups[i], g.names, g.params, "trajectory");
    const auto la = probes::evaluate_at(g.params, weights,
                                        [&] { return probes::evaluate_batched(model, g.x, g.y, s.surface_batch); });
    t.loss[i] = la.loss;
    t.acc[i] = la.acc;
    if (editor) {
      editor->overwrite_array(names::at(group, names::kLoss), t.loss);
      editor->overwrite_array(names::at(group, names::kAcc), t.acc);
      editor->flush();
    }
  }
}

}  // namespace bnl::cli
