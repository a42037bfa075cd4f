#pragma once
/// \file
/// The parts of the schema declaration (src/record/schema_*.cpp), joined by schema::run_file().

#include <vector>

#include "bnlandscape/record/schema.h"

namespace bnl::record::schema::detail {

/// Root attributes, /train/steps, /train/epochs, /train/evals and /checkpoints.
std::vector<Group> train_groups();
/// /probes and /density.
std::vector<Group> probe_groups();
/// /activations, /ics and /surface.
std::vector<Group> analysis_groups();

}  // namespace bnl::record::schema::detail
