#include "bnlandscape/cli/surface_options.h"

#include "bnlandscape/core/error.h"

namespace bnl::cli {

std::size_t surface_word_index(const std::string& key, const std::string& value) {
  SurfaceConfig c;
  int index = -1;
  visit_surface_specs(c, [&](const optspec::OptionSpec& s, const auto&) {
    if (key == s.key) index = s.word_index(value);
  });
  if (index < 0) throw InternalError("--" + optspec::dashed(key) + " = \"" + value + "\": read before validation");
  return static_cast<std::size_t>(index);
}

void validate_surface_options(const SurfaceConfig& c) {
  visit_surface_specs(c, [&](const optspec::OptionSpec& s, const auto& field) {
    optspec::check_option<ConfigError>(s, field);
    const std::string key = s.key;
    // The rules beyond one option's check, right after the option they follow.
    if (key == "dims" && directions_kind(c) == Directions::gradient && c.dims != 1 && c.directions_from.empty())
      throw ConfigError("--dims = " + std::to_string(c.dims) +
                        ": expected 1 with --directions gradient (there is one gradient)");
    const bool pca = directions_kind(c) == Directions::pca;
    if (key == "dims" && pca && c.dims != 2 && c.directions_from.empty())
      throw ConfigError("--dims = " + std::to_string(c.dims) +
                        ": expected 2 with --directions pca (the plane of the trajectory)");
    if (key == "directions_from" && pca && !c.directions_from.empty())
      throw ConfigError("--directions-from = " + c.directions_from +
                        ": expected no --directions-from with --directions pca (its directions come from --trajectory)");
    if (key == "trajectory" && !pca && !c.trajectory.empty())
      throw ConfigError("--trajectory = " + c.trajectory + ": expected --directions pca with it, got --directions " +
                        c.directions);
    if (key == "range" && c.range == kAutoRange && !pca)
      throw ConfigError("--range = auto: expected \"lo,hi\" (auto covers a trajectory: --directions pca only)");
    if (key == "range" && c.range != kAutoRange) parse_surface_range(c.range);
  });
}

}  // namespace bnl::cli
