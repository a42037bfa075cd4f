#pragma once
/// \file
/// `bnlandscape compare RUN.h5 ...`: a side-by-side table of run files grouped by a config key
/// (default bn), seeds pooled as mean +- standard deviation (n = number of runs), and for two
/// groups the ratio of their means and a Welch t-test p-value. Output as an aligned table, CSV,
/// JSON or Markdown.

#include <cstdint>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "bnlandscape/cli/app.h"

namespace bnl::cli {

/// The numbers `compare` reports for one run file (NaN where the file lacks them).
struct RunSummary {
  std::string path;
  std::string group;   ///< value of the group-by key in the run's config
  std::string status;
  std::map<std::string, double> metrics;
};

/// Reads one run file's summary; `group_by` names a key of its config_toml. `target_acc` and
/// `last_steps` as in CompareOptions.
RunSummary summarize_run(const std::string& path, const std::string& group_by, double target_acc = 0.85,
                         std::int64_t last_steps = 100);

/// Metric names in display order, with a label each (the labels of steps_to_target and
/// loss_std_last are completed with --target-acc and --last-steps in the output).
const std::vector<std::pair<std::string, std::string>>& compare_metrics();

/// Registers `compare` on `app` (options: cli/compare_options.h).
Command setup_compare(CLI::App& app);

}  // namespace bnl::cli
