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
#include <utility>
#include <vector>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/config_file.h"

namespace bnl::cli {

/// One swept option and its values (command-line form).
struct SweepAxis {
  std::string key;  ///< with underscores
  std::vector<std::string> values;
  int line = 0;
};

/// A parsed sweep file.
struct SweepSpec {
  std::string source;
  std::vector<ConfigEntry> fixed;  ///< top-level keys (underscores), command-line values
  std::vector<SweepAxis> axes;     ///< the [sweep] table, in file order
  std::string command;             ///< "probe" if any key is a probe option, else "train"
  std::size_t size() const;        ///< number of points (product of the list lengths)
};

/// One point of the matrix.
struct SweepPoint {
  std::size_t index = 0;
  std::string name;  ///< file stem: "bn=custom_lr=0.1_seed=0" (values sanitised)
  std::vector<std::pair<std::string, std::string>> values;  ///< fixed then swept keys, underscores
};

/// Parses a sweep file; throws train::ConfigError naming the file, line and problem (unknown
/// key, a key both fixed and swept, an empty list, a table other than [sweep], `out`).
SweepSpec parse_sweep_spec(const std::string& text, const std::string& source);
SweepSpec read_sweep_spec(const std::string& path);

/// Every point, in index order, with unique names.
std::vector<SweepPoint> sweep_points(const SweepSpec& spec);

/// A value as a file-name component: letters, digits, '.', '+' and '-' kept, anything else '-'.
std::string sanitize_value(const std::string& v);

/// Registers `sweep` on `app` (options: cli/sweep_options.h).
Command setup_sweep(CLI::App& app);

/// run_app expands every subcommand's `--config FILE` as a flat options file, which a sweep
/// file is not; main() passes its arguments through this first, which renames `--config`
/// after `sweep` to its alias `--sweep-config`. Other commands' arguments are returned as is.
std::vector<std::string> protect_sweep_config(int argc, char** argv);

}  // namespace bnl::cli
