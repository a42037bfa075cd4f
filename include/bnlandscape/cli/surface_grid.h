#pragma once
/// \file
/// The grid of a surface and its evaluation: loss and accuracy at theta + alpha x (+ beta y)
/// for every cell not yet computed (NaN accuracy), a round of cells at a time, split over the
/// ranks (probes::rank_share) and summed back so that every rank holds the whole grid. After
/// each round rank 0 overwrites the file's grid and flushes, so an interrupted surface keeps
/// its cells and `--resume` computes only the rest.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/cli/surface_trajectory.h"
#include "bnlandscape/probes/surface.h"

namespace bnl::dist {
class Communicator;
}
namespace bnl::io {
class FileEditor;
}
namespace bnl::models {
class Classifier;
}

namespace bnl::cli {

struct SurfaceConfig;

/// Everything one surface evaluates: the parameters (in the model's order), the examples,
/// the plane of the grid and the grid's values.
struct SurfaceGrid {
  std::vector<std::string> names;      ///< parameter names, as in the checkpoint
  std::vector<torch::Tensor> params;   ///< the model's parameters (theta)
  torch::Tensor x, y;                  ///< examples [n x ...] and labels [n]
  std::int64_t n = 0;                  ///< number of examples
  probes::SurfacePlane plane;          ///< alpha (and beta) axes; x (and y) directions once known
  std::vector<probes::Direction> dirs; ///< the directions (x, then y)
  std::vector<double> loss, acc;       ///< [resolution] or [resolution x resolution], row-major; NaN = not computed
  std::vector<std::int64_t> dims;      ///< shape of loss and acc
  SurfaceTrajectory trajectory;        ///< --directions pca: the path (rank 0 only); empty otherwise
};

/// How an evaluation ended.
struct GridOutcome {
  std::size_t done = 0;   ///< cells computed now
  double seconds = 0;     ///< wall time of the evaluation
  bool stopped = false;   ///< a signal (on any rank) stopped it
};

/// The grid of `s` around `model` (whose parameters it takes) on the first `n` examples x, y:
/// axes lo..hi with s.resolution points, every cell NaN.
SurfaceGrid make_grid(const SurfaceConfig& s, models::Classifier& model, torch::Tensor x, torch::Tensor y,
                      std::int64_t n, double lo, double hi);

/// Gives every rank rank 0's directions, axes and grid, bit for bit (the others add zeros).
void share_grid(dist::Communicator& comm, SurfaceGrid& g, std::int64_t dims);

/// Evaluates the cells of `g` not yet computed with `model` (its BN mode already set), in
/// rounds of max(world size, cells per row); after each round `editor` (rank 0, else null)
/// receives the grid. Progress on stderr unless `quiet`. SIGINT/SIGTERM/SIGUSR1 on any rank
/// stop it after the current round.
GridOutcome evaluate_grid(const SurfaceConfig& s, models::Classifier& model, SurfaceGrid& g, dist::Communicator* comm,
                          io::FileEditor* editor, bool quiet);

}  // namespace bnl::cli
