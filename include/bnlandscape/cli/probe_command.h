#pragma once
/// \file
/// `bnlandscape probe`: trains as `train` does and probes the landscape every --step-interval
/// steps (online), or probes the weights stored in an HDF5 group once (offline, --checkpoint).
/// Results go to the /probes group of the run file (schema: docs/hdf5_schema.md).

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// Registers `probe` on `app` (options: cli/probe_options.h).
Command setup_probe(CLI::App& app);

}  // namespace bnl::cli
