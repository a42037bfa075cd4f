#pragma once
/// \file
/// `bnlandscape info RUN.h5 ...`: what a run file holds: provenance, status, the configuration,
/// every series group with its datasets and lengths, checkpoints, and the last values.

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Registers `info` on `app` (options: cli/info_options.h).
Command setup_info(CLI::App& app);

}  // namespace bnl::cli
