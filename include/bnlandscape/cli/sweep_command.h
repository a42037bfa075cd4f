#pragma once
/// \file
/// `bnlandscape sweep --config FILE --out DIR`: runs a matrix of `train` or `probe` runs.
///
/// FILE's top-level keys are fixed options, spelled as in `train`/`probe` config files; its
/// `[sweep]` table maps option names to lists of values, and the matrix is their product (the
/// first key varies slowest). A list of lists is written as quoted strings
/// (`hidden_dims = ["512,256,128", "256,128"]`). Each point runs as a child process of the same
/// binary, `probe` if any key is a probe option, else `train`, with its resolved configuration
/// written next to its run file: DIR/<key>=<value>_....h5, .toml and .log. A point whose run
/// file is complete or diverged is skipped, so an interrupted sweep resumes.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/sweep_matrix.h"

namespace bnl::cli {

/// Registers `sweep` on `app` (options: cli/sweep_options.h).
Command setup_sweep(CLI::App& app);

/// run_app expands every subcommand's `--config FILE` as a flat options file, which a sweep
/// file is not; main() passes its arguments through this first, which renames `--config`
/// after `sweep` to its alias `--sweep-config`. Other commands' arguments are returned as is.
std::vector<std::string> protect_sweep_config(int argc, char** argv);

}  // namespace bnl::cli
