#include "bnlandscape/cli/surface_directions.h"

#include <algorithm>
#include <sstream>

#include "bnlandscape/cli/surface_options.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/legacy_tensor_names.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

namespace names = record::names;

using probes::Direction;
using train::ConfigError;

const char* const kSurfaceAxes[2] = {"x", "y"};

Direction read_direction(const std::string& file, const std::string& prefix, const std::vector<std::string>& names,
                         const std::vector<torch::Tensor>& params, const std::string& option) {
  const auto stored = record::read_model_tensors(file, prefix);
  Direction d;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = std::find_if(stored.begin(), stored.end(), [&](const auto& p) { return p.first == names[i]; });
    if (it == stored.end())
      throw ConfigError("--" + option + " " + file + ": expected " + prefix + "/" + names[i] + ", not found");
    if (it->second.sizes() != params[i].sizes()) {
      std::ostringstream os;
      os << "--" << option << " " << file << ": expected " << prefix << "/" << names[i] << " of shape "
         << params[i].sizes() << ", got " << it->second.sizes();
      throw ConfigError(os.str());
    }
    d.push_back(it->second.to(params[i].scalar_type()));
  }
  return d;
}

std::vector<Direction> make_directions(const SurfaceConfig& s, models::Classifier& model,
                                       const std::vector<torch::Tensor>& params, const std::vector<std::string>& names,
                                       const torch::Tensor& x, const torch::Tensor& y, DirectionInfo& info) {
  const int count = static_cast<int>(s.dims);
  std::vector<Direction> out;
  if (!s.directions_from.empty()) {
    io::RunReader reader(s.directions_from);
    if (!reader.exists(names::at(names::kSurfaceDirections, names::kAxisX)))
      throw ConfigError("--directions-from " + s.directions_from + ": expected a surface file (/surface/directions/x), not found");
    if (count == 2 && !reader.exists(names::at(names::kSurfaceDirections, names::kAxisY)))
      throw ConfigError("--directions-from " + s.directions_from + ": expected two directions for --dims 2, the file holds one");
    info.kind = reader.string_attr(names::kDirections, names::kSurface).value_or("unknown");
    info.from = s.directions_from;
    for (int k = 0; k < count; ++k)
      out.push_back(read_direction(s.directions_from, names::at(names::kSurfaceDirections, kSurfaceAxes[k]), names, params,
                                   "directions-from"));
    return out;
  }
  info.kind = s.directions;
  if (directions_kind(s) == Directions::filter_random) {
    for (int k = 0; k < count; ++k) {
      // Direction k from its own stream: the x direction of a 2-D surface is the 1-D one.
      auto d = probes::normal_direction(params, s.seed * 2 + static_cast<std::uint64_t>(k));
      probes::filter_normalize(d, params, s.include_bn_bias);
      out.push_back(std::move(d));
    }
    return out;
  }
  const auto loss = probes::batched_loss(model, x, y, s.surface_batch, params.front().scalar_type());
  if (directions_kind(s) == Directions::gradient) {
    out.push_back(probes::gradient_direction(params, loss, &info.gradient_norm));
    return out;
  }
  auto e = probes::hessian_eigen_directions(params, loss, count, s.eigen_tol, s.seed);
  info.eigenvalues = e.eigenvalues;
  info.eigen_converged = e.converged;
  info.hvp_count = e.hvp_count;
  return std::move(e.directions);
}

}  // namespace bnl::cli
