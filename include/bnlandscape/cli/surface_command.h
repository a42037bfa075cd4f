#pragma once
/// \file
/// `bnlandscape surface`: the loss and accuracy on a grid around the weights of a checkpoint,
/// along two directions (a 2-D surface) or one (a 1-D curve), after Li et al. 2018,
/// "Visualizing the Loss Landscape of Neural Nets" (probes/surface.h). Written to its own
/// HDF5 file under /surface (schema: docs/hdf5_schema.md); the grid is filled in row by row
/// as it is computed, so `--resume FILE` continues an interrupted one. Under `launch`,
/// torchrun or srun the cells are split over the ranks and rank 0 alone writes.

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Registers `surface` on `app` (options: cli/surface_options.h).
Command setup_surface(CLI::App& app);

}  // namespace bnl::cli
