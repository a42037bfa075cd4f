#pragma once
/// \file
/// The directions of a surface (Li et al. 2018, section 4): made here (filter-normalised
/// random, top Hessian eigenvectors, or the normalised negative gradient) or read back from a
/// surface file's /surface/directions/{x,y} (--directions-from, --resume).

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/probes/surface.h"

namespace bnl::models {
class Classifier;
}

namespace bnl::cli {

struct SurfaceConfig;

/// Names of the surface axes, as the groups /surface/directions/<axis> call them.
extern const char* const kSurfaceAxes[2];

/// What was decided about the directions, for the surface file.
struct DirectionInfo {
  std::string kind;  ///< filter-random | eigen | gradient | pca
  std::string from;  ///< the file they were read from, "" when made here
  std::vector<double> eigenvalues;
  bool eigen_converged = true;
  std::int64_t hvp_count = 0;
  double gradient_norm = std::numeric_limits<double>::quiet_NaN();
};

/// The direction stored under `prefix` (/surface/directions/x or /y) of `file`, in the order
/// and dtypes of `params` (named `names`); every parameter must be there with its shape, else
/// a ConfigError naming `--<option>`, the file and the dataset.
probes::Direction read_direction(const std::string& file, const std::string& prefix,
                                 const std::vector<std::string>& names, const std::vector<torch::Tensor>& params,
                                 const std::string& option);

/// Makes (or, with --directions-from, reads) the s.dims directions around `params` (the
/// parameters of `model`, named `names`); the eigen and gradient directions are those of the
/// mean loss on examples x [n x ...] with labels y [n]. Fills `info`.
std::vector<probes::Direction> make_directions(const SurfaceConfig& s, models::Classifier& model,
                                               const std::vector<torch::Tensor>& params,
                                               const std::vector<std::string>& names, const torch::Tensor& x,
                                               const torch::Tensor& y, DirectionInfo& info);

}  // namespace bnl::cli
