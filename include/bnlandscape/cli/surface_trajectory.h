#pragma once
/// \file
/// The trajectory of `surface --directions pca` (Li, Xu, Taylor, Studer and Goldstein 2018,
/// "Visualizing the Loss Landscape of Neural Nets", section 7): the checkpoints of a run file
/// (--trajectory, /checkpoints/*), the top two principal directions of their parameters'
/// offsets from the surface's centre (probes/trajectory_pca.h), the path's coordinates in that
/// plane, the grid axes that cover it (--range auto) and the loss and accuracy at each
/// checkpoint's own parameters, evaluated as the grid's cells are.

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/probes/surface.h"

namespace bnl::io {
class FileEditor;
}
namespace bnl::models {
class Classifier;
}

namespace bnl::cli {

struct SurfaceConfig;
struct SurfaceGrid;

/// Fewest checkpoints a trajectory needs: with the centre among them, two nonzero offsets
/// span the plane.
inline constexpr std::size_t kMinTrajectoryCheckpoints = 3;

/// Share of the path's span added on each side of a covering axis (--range auto).
inline constexpr double kTrajectoryMargin = 0.2;

/// A trajectory and its path in the plane of its principal directions.
struct SurfaceTrajectory {
  std::string file;                  ///< the run file of the checkpoints (--trajectory)
  std::vector<std::string> groups;   ///< its checkpoint groups, in step order
  std::vector<std::int64_t> steps;   ///< their training steps
  std::vector<double> alpha;         ///< u_1 . (w_i - w_c) per checkpoint (parameter-space distance)
  std::vector<double> beta;          ///< u_2 . (w_i - w_c) per checkpoint
  /// sigma_j^2 / ||D||_F^2 of u_1 and u_2 (probes::TrajectoryPca::explained_variance).
  std::array<double, 2> explained_variance{std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::quiet_NaN()};
  std::vector<double> loss;          ///< mean cross-entropy at each checkpoint's parameters; NaN = not evaluated
  std::vector<double> acc;           ///< accuracy there; NaN = not evaluated
  /// True for a surface of other directions (no trajectory).
  bool empty() const { return groups.empty(); }
};

/// The checkpoint groups of `file` (/checkpoints/*, in step order); fewer than
/// kMinTrajectoryCheckpoints is a ConfigError naming how many there are and --checkpoint-every.
std::vector<std::string> trajectory_groups(const std::string& file);

/// The trajectory of the checkpoints in `file` around the parameters `params` (named `names`,
/// the centre w_c): every group of trajectory_groups(file), read parameter by
/// parameter (every one of `names`, of its shape, else a ConfigError naming --trajectory; the
/// buffers are not read), and their PCA. `dirs` receives u_1 and u_2 as directions in the
/// parameters' dtype and device: unit vectors over every parameter (weights, biases, BN scale
/// and shift), not filter-normalised, as Li et al. Losses are NaN until evaluate_trajectory.
SurfaceTrajectory make_trajectory(const std::string& file, const std::vector<std::string>& names,
                                  const std::vector<torch::Tensor>& params, std::vector<probes::Direction>& dirs);

/// The axis of `resolution` points (probes::grid_axis) over [lo - m, hi + m], where lo and hi
/// are the smallest and largest of `coord` and 0 and m = kTrajectoryMargin (hi - lo), so that
/// the grid holds the path and the centre with a margin (m = 1 when hi = lo).
std::vector<double> covering_axis(const std::vector<double>& coord, std::int64_t resolution);

/// Evaluates the path points of g.trajectory whose accuracy is NaN with `model` (BN mode and
/// buffers as for the grid): g.params are set to the checkpoint's parameters exactly (read
/// again from the trajectory file), the loss and accuracy measured on g.x, g.y in batches of
/// s.surface_batch (probes::evaluate_batched), the parameters restored. After each point
/// `editor` (if any) rewrites /surface/trajectory/{loss,acc} and commits.
void evaluate_trajectory(const SurfaceConfig& s, models::Classifier& model, SurfaceGrid& g, io::FileEditor* editor);

}  // namespace bnl::cli
