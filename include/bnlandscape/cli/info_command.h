#pragma once
/// \file
/// `bnlandscape info RUN.h5 ...`: what a run file holds: provenance, status, the configuration,
/// every series group with its datasets and lengths, checkpoints, and the last values.

#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Options of `info`.
struct InfoOptions {
  std::vector<std::string> files;
};

/// Registers `info` on `app`.
Command setup_info(CLI::App& app);

/// Prints the description of each file to stdout; returns the exit code.
int run_info(const InfoOptions& opt);

}  // namespace bnl::cli
